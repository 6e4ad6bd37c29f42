"""The router's kernel FIB route for one VIP, read and waited for the same way by every lab test."""

from __future__ import annotations

import itertools
import time

from lbroute.kernel.fib import read_fib
from lbroute.lab.lab import Lab
from lbroute.polling import eventually

VIP = "10.1.1.1/32"


def fib_hops(lab: Lab, prefix: str = VIP) -> set[str]:
    """The next-hops of the router's route for exactly ``prefix``; empty when there is none."""
    routes = read_fib(lab.topology.router_ns, prefix=prefix)
    return set(routes[0].next_hops) if routes else set()


def wait_fib(lab: Lab, expected: set[str], *, prefix: str = VIP, timeout: float = 15) -> float:
    """Seconds until the router's route for ``prefix`` has exactly ``expected`` next-hops."""
    started = time.monotonic()

    def check() -> None:
        got = fib_hops(lab, prefix)
        assert got == expected, f"router FIB {prefix}: {sorted(got)}, want {sorted(expected)}"

    eventually(check, timeout, what=f"FIB {prefix} = {sorted(expected)}", context=lab.logs_tail)
    return time.monotonic() - started


def assert_watched(samples: list[tuple[float, frozenset[str]]], *, max_gap: float = 0.5) -> None:
    """The FIB sampler watched throughout: enough reads, none more than ``max_gap`` after the one
    before (so a loss of the next-hops could not fall between two reads unseen for longer), and
    ten or more a second on average. Judged by the reads' own times, not a count fixed for an
    idle machine: at load 10 a short window held 70 reads where an idle one holds hundreds."""
    assert len(samples) >= 20, f"only {len(samples)} FIB samples"
    times = [t for t, _ in samples]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= max_gap, f"the FIB went unread for {max(gaps):.3f}s"
    span = times[-1] - times[0]
    assert len(samples) >= 10 * span, f"{len(samples)} FIB samples in {span:.2f}s"
