"""The signals both data-plane programs answer: SIGTERM and SIGINT stop the loop, SIGHUP asks
it to read its config again. The handlers only set flags and wake the loop, which does the work
on its own thread (a handler that reloaded would run in the middle of whatever it interrupted)."""

from __future__ import annotations

import signal
import threading
from typing import Protocol


class Loop(Protocol):
    reload_pending: bool

    def wake(self) -> None: ...


def install(loop: Loop) -> threading.Event:
    """Point the signals at ``loop``; the event it returns is set on SIGTERM or SIGINT."""
    stop = threading.Event()

    def on_stop(*_: object) -> None:
        stop.set()
        loop.wake()

    def on_hup(*_: object) -> None:
        loop.reload_pending = True
        loop.wake()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    return stop
