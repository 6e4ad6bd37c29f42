"""``lbroute``: where every VIP's traffic goes, and the lab that shows it.

Each command lives in its own module (``vips_cmd``, ``diff_cmd``, ``peers_cmd``,
``rib_cmd``, ``fib_cmd``, ``watch_cmd``, ``completion_cmd``; the lab's in ``lab_cmd``) and
registers its sub-parser with a ``handler``; this module only assembles them and maps the
errors an operator can fix to one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from lbroute import logs
from lbroute.lab.errors import LabError
from lbroute.lab.topology import TopologyError

from . import bench_cmd, completion_cmd, diff_cmd, fib_cmd, lab_cmd, peers_cmd, rib_cmd, vips_cmd, watch_cmd
from .errors import EXIT_USAGE, Parser, TargetError

DESCRIPTION = "lbroute: where every VIP's traffic goes (RR, router, kernel FIB), and the lab that shows it."
LOG_LEVELS = ("debug", "info", "warning", "error")


def parser() -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = Parser(prog="lbroute", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument(
        "--log-level",
        default=None,
        choices=LOG_LEVELS,
        help="log events on stderr from this level (default warning)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in (vips_cmd, diff_cmd, peers_cmd, rib_cmd, fib_cmd, watch_cmd):
        family.add_parsers(sub)
    lab_cmd.add_parsers(sub)
    bench_cmd.add_parsers(sub)
    completion_cmd.add_parsers(sub, root=p)
    _global_options_after_the_command(p)
    return p


def _global_options_after_the_command(p: argparse.ArgumentParser) -> None:
    """``lbroute watch --log-level info`` works like ``lbroute --log-level info watch``: every
    command takes the option too, and leaves it unset (SUPPRESS) unless given there."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if any(isinstance(a, argparse._SubParsersAction) for a in child._actions):
                    _global_options_after_the_command(child)
                else:
                    child.add_argument(
                        "--log-level", default=argparse.SUPPRESS, choices=LOG_LEVELS, help=argparse.SUPPRESS
                    )


def _version() -> str:
    try:
        return version("lbroute")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a SIGPIPE death


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(args.log_level or "warning")
    try:
        code: int = args.handler(args)
        return code
    except (TargetError, LabError, TopologyError) as err:
        print(f"lbroute: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as err:
        for note in getattr(err, "__notes__", ()):  # e.g. what a half-built lab left behind
            print(f"lbroute: interrupted; {note}", file=sys.stderr)
        return 128 + 2  # Ctrl-C: the shell's code for SIGINT, without a traceback
    except BrokenPipeError:
        # the reader (head, less) left early: not worth a traceback; keep the interpreter's
        # final flush of stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    raise SystemExit(main())
