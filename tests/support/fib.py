"""The router's kernel FIB route for one VIP, read and waited for the same way by every lab test."""

from __future__ import annotations

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
