"""What the lab's router holds, and waiting until it holds what it should.

The router is read as an operator would: its kernel FIB through iproute2, its BGP daemon
through what that daemon offers — gobgpd over its unix API socket, FRR's bgpd through vtysh
(``RouterRib``, one per router kind). Every wait polls with ``eventually`` and fails with
the last thing it saw and the daemons' logs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lbroute.core.rib import Path as BgpPath
from lbroute.core.session import Session
from lbroute.frr.vtysh import VtyshError
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import is_transient
from lbroute.kernel.fib import read_fib
from lbroute.polling import eventually

from .expectations import Fib, describe, vip_routes


class RouterRib(Protocol):
    """The router's BGP daemon, read: its sessions with the RRs and the paths it holds."""

    def sessions(self) -> list[Session]: ...

    def paths(self, prefixes: tuple[str, ...] = ()) -> list[BgpPath]: ...


class GobgpRib:
    """The gobgp router's gobgpd, over its unix API socket (a fresh client per read)."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def sessions(self) -> list[Session]:
        with GobgpClient(str(self.socket), timeout=2.0) as client:
            return client.list_sessions("router")

    def paths(self, prefixes: tuple[str, ...] = ()) -> list[BgpPath]:
        with GobgpClient(str(self.socket), timeout=2.0) as client:
            return client.list_paths(prefixes=prefixes, ordered=False)


class Router:
    def __init__(self, netns: str, rib: RouterRib, rrs: frozenset[str], logs: Callable[[], str]) -> None:
        self.netns = netns
        self.rib = rib
        self.rrs = rrs  # the addresses of the RRs it peers with
        self.logs = logs

    def fib(self) -> Fib:
        """VIP-pool routes (IPv4 and IPv6) in the router's kernel FIB: prefix -> gateways."""
        return vip_routes(read_fib(self.netns))

    def paths(self, prefix: str | None = None) -> list[BgpPath]:
        """The paths the router's BGP daemon holds (for ``prefix`` only, if given)."""
        return self.rib.paths((prefix,) if prefix else ())

    def sessions(self) -> list[Session]:
        return self.rib.sessions()

    def wait_fib(self, expected: Fib, timeout: float, *, what: str = "router FIB convergence") -> Fib:
        def check() -> Fib:
            fib = self.fib()
            assert fib == expected, f"router FIB {describe(fib)} != expected {describe(expected)}"
            return fib

        return eventually(check, timeout, what=what, context=self.logs)

    def wait_fib_without(self, node_ips: frozenset[str], timeout: float, *, what: str) -> None:
        """Until no VIP route forwards on any of ``node_ips`` (a node's IPv4 and IPv6 address)."""

        def gone() -> None:
            still = sorted(p for p, hops in self.fib().items() if hops & node_ips)
            assert not still, f"router FIB still sends {still} to {sorted(node_ips)}"

        eventually(gone, timeout, what=what, context=self.logs)

    def wait_sessions(self, timeout: float) -> None:
        """Until the router has an established session with every RR."""

        def check() -> None:
            down = self.rrs - self._established()
            assert not down, f"router sessions not established: {sorted(down)}"

        eventually(check, timeout, interval=0.05, what="router sessions with the RRs", context=self.logs)

    def wait_settled(self, timeout: float) -> None:
        """Until the router has a session with every RR again and holds no stale path.

        Under graceful restart the FIB stays whole across an RR restart on paths the router
        keeps stale; the restart is over when the RR's End-of-RIB has replaced them.
        """

        def check() -> None:
            up = self._established()  # a daemon that does not answer yet: not settled yet
            assert self.rrs <= up, f"router sessions down: {sorted(self.rrs - up)}"
            stale = [p for p in self.rib.paths() if p.stale]
            assert not stale, f"router holds {len(stale)} stale paths"

        eventually(check, timeout, what="router sessions and fresh paths", context=self.logs)

    def _established(self) -> set[str]:
        try:
            return {s.neighbor for s in self.rib.sessions() if s.established}
        except VtyshError as err:
            if err.transient:  # a bgpd that does not answer yet has no session yet
                return set()
            raise
        except Exception as err:
            if is_transient(err):  # a gobgpd that does not answer yet has no session yet
                return set()
            raise
