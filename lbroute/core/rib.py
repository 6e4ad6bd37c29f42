"""Routes as the operator sees them: BGP paths at a daemon, next-hops in a kernel FIB."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import NamedTuple

# RFC 8326: the path's speaker is about to go away; a router should prefer any other path
GRACEFUL_SHUTDOWN = "65535:0"
DEFAULT_LOCAL_PREF = 100  # what a path without LOCAL_PREF counts as, at gobgpd and FRR alike


class Attributes(NamedTuple):
    """What best-path selection compares, in its order (RFC 4271 9.1.2.2), read only when
    asked for: ``None`` for an attribute the path does not carry."""

    local_pref: int | None = None
    as_path_length: int = 0
    origin: int = 0  # 0 IGP, 1 EGP, 2 INCOMPLETE
    med: int | None = None
    communities: tuple[str, ...] = ()  # "ASN:VALUE"

    @property
    def preference(self) -> int:
        return DEFAULT_LOCAL_PREF if self.local_pref is None else self.local_pref


class Path(NamedTuple):
    """One BGP path for a prefix, as a gobgpd holds it.

    Immutable and ordered like a frozen dataclass, but a third of the cost to build:
    reading a 64k-path RIB builds one per path (docs/benchmarks-cli.md).
    """

    prefix: str
    next_hop: str
    source: str = ""  # the peer it was learned from; "" for a local path
    best: bool = False
    path_id: int = 0
    # kept from a neighbor whose session dropped, under graceful restart, until it is back
    stale: bool = False
    communities: tuple[str, ...] = ()  # RFC 1997 communities as ASN:VALUE, in the order sent
    # in the forwarding set beside the best path (FRR marks one best and the rest multipath;
    # gobgpd 4.8 marks every member of the set best)
    multipath: bool = False
    attributes: Attributes | None = None  # None: not read

    @property
    def selected(self) -> bool:
        """The router forwards on it: the best path or one of its multipath set."""
        return self.best or self.multipath

    @property
    def draining(self) -> bool:
        """Its speaker marked it GRACEFUL_SHUTDOWN: the LB is being drained (make-before-break)."""
        return GRACEFUL_SHUTDOWN in self.communities


@dataclass(frozen=True)
class FibRoute:
    """One kernel route: a prefix and the set of gateways it forwards on."""

    prefix: str
    next_hops: frozenset[str]
    protocol: str = ""
    nhid: int | None = None  # the next-hop object (a group, for a multipath route) it forwards on


@functools.lru_cache(maxsize=65536)
def address_order(address: str) -> tuple[int, int, str]:
    """Sort key: addresses by family and value; anything that is not an address (gobgpd's "") last.

    Cached: a large RIB names the same few next-hops and speakers on every path.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return 9, 0, address
    return parsed.version, int(parsed), address


def prefix_order(prefix: str) -> tuple[int, int, int]:
    """Sort key: prefixes by family, network address, then length.

    The common IPv4 case is read by hand: ``ipaddress`` costs ~10x more, which shows
    when sorting tens of thousands of VIPs.
    """
    address, _, length = prefix.partition("/")
    octets = address.split(".")
    if len(octets) == 4:
        try:
            a, b, c, d = map(int, octets)
            return 4, (a << 24) | (b << 16) | (c << 8) | d, int(length)
        except ValueError:
            pass  # not dotted-quad after all: let ipaddress say what it is
    net = ipaddress.ip_network(prefix, strict=False)
    return net.version, int(net.network_address), net.prefixlen
