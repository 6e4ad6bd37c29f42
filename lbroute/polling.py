"""``eventually()``: the one way this project waits for a condition. No sleeps elsewhere.

``check`` returns normally when the condition holds, or raises ``AssertionError`` saying
what it saw. ``eventually`` polls it until it passes or ``timeout`` runs out, then raises
``Timeout`` carrying the last observation and, if given, ``context()`` (e.g. daemon logs).
``until()`` is the same for a plain predicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    pass


def eventually(
    check: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.01,
    what: str = "condition",
    context: Callable[[], str] | None = None,
) -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            return check()
        except AssertionError as err:
            last = err
        if time.monotonic() >= deadline:
            message = f"{what} not reached within {timeout:g}s; last observed: {last}"
            if context is not None:
                message += "\n" + context()
            raise Timeout(message) from last
        time.sleep(interval)


def until(
    predicate: Callable[[], bool],
    timeout: float,
    *,
    interval: float = 0.01,
    what: str = "condition",
    context: Callable[[], str] | None = None,
) -> None:
    """``eventually`` for a check that is just True or False."""

    def check() -> None:
        assert predicate(), f"{what}: not yet"

    eventually(check, timeout, interval=interval, what=what, context=context)
