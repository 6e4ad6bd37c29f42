"""structlog, configured once by each program's ``main()``: stderr only, JSON unless on a terminal.

Event names are dotted (``rr.op.applied``, ``announcer.vip.announced``); keys come from a
fixed vocabulary: peer, prefix, nexthop, op, error, target, count, seconds.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

# the names a --log-level flag (argparse ``choices``) or LBROUTE_LOG_LEVEL may give
LEVELS = ("debug", "info", "warning", "error", "critical")


def configure(level: str | None = None, *, json: bool | None = None) -> None:
    """``level`` (else $LBROUTE_LOG_LEVEL, else info); a name not in ``LEVELS`` logs at info and says so."""
    wanted = level or os.environ.get("LBROUTE_LOG_LEVEL") or "info"
    known = wanted.lower() in LEVELS
    if json is None:
        json = os.environ.get("LBROUTE_LOG_FORMAT", "").lower() == "json" or not sys.stderr.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, wanted.upper()) if known else logging.INFO
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if not known:
        shown = wanted if len(wanted) <= 20 else wanted[:20] + "..."
        structlog.get_logger().warning(
            "logs.level_unknown", error=f"{shown!r} is not one of {', '.join(LEVELS)}; logging at info"
        )
