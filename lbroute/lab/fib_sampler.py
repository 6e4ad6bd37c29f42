"""The router's FIB route for one prefix, read over and over in a thread while something happens."""

from __future__ import annotations

import threading
import time

from lbroute.kernel.fib import read_fib

Sample = tuple[float, frozenset[str]]


class FibSampler:
    """Reads ``prefix`` in ``netns``'s FIB as often as ``ip`` answers (a few ms) and keeps
    (monotonic time, next-hops) pairs; the time is the middle of the read, an absent route
    is no next-hops. A context manager: sampling runs inside the ``with``."""

    def __init__(self, netns: str, prefix: str) -> None:
        self.netns = netns
        self.prefix = prefix
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fib-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            before = time.monotonic()
            routes = read_fib(self.netns, prefix=self.prefix)
            after = time.monotonic()
            self.samples.append(((before + after) / 2, routes[0].next_hops if routes else frozenset()))

    def latest(self) -> frozenset[str] | None:
        return self.samples[-1][1] if self.samples else None

    def __enter__(self) -> FibSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
