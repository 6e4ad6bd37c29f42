"""Read the kernel FIB, namespace-aware, IPv4 and IPv6, as core ``FibRoute`` values.

``ip -j route`` answers one family per call. A multipath route is one entry with
``nexthops`` (IPv6 too, on the kernels here); older kernels list each IPv6 next-hop as an
entry of its own, with the same destination and metric, which are merged back into one
route. Of several routes for one prefix (different metrics), the kernel forwards on the
lowest metric: that one is the prefix's route. A next-hop of the other family (an IPv4
route via an IPv6 gateway) comes as ``via`` rather than ``gateway``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from lbroute.core.rib import FibRoute

from .ip import ip_json

Family = Literal["inet", "inet6"]
FAMILIES: tuple[Family, ...] = ("inet", "inet6")


def route_prefix(entry: dict[str, Any], family: Family) -> str:
    """An ``ip -j route`` entry's destination as a prefix (``default`` and bare addresses too)."""
    dst = str(entry["dst"])
    if dst == "default":
        return "0.0.0.0/0" if family == "inet" else "::/0"
    if "/" not in dst:
        dst += "/32" if family == "inet" else "/128"
    return dst


def _gateways(hop: dict[str, Any]) -> list[str]:
    if "gateway" in hop:
        return [str(hop["gateway"])]
    via = hop.get("via")
    if isinstance(via, dict) and "host" in via:
        return [str(via["host"])]
    return []


def parse_routes(entries: list[dict[str, Any]], family: Family = "inet") -> list[FibRoute]:
    """One route per prefix, in the order the kernel listed them."""
    chosen: dict[
        str, tuple[int, set[str], str, int | None]
    ] = {}  # prefix -> (metric, gateways, protocol, nhid)
    for entry in entries:
        prefix = route_prefix(entry, family)
        metric = int(entry.get("metric", 0))
        hops = {g for h in entry.get("nexthops", []) for g in _gateways(h)} | set(_gateways(entry))
        protocol = str(entry.get("protocol", ""))
        nhid = int(entry["nhid"]) if "nhid" in entry else None
        if prefix not in chosen or metric < chosen[prefix][0]:
            chosen[prefix] = (metric, hops, protocol, nhid)
        elif metric == chosen[prefix][0]:
            chosen[prefix][1].update(hops)  # one next-hop of a multipath route, listed on its own
    return [
        FibRoute(prefix, frozenset(hops), protocol, nhid)
        for prefix, (_, hops, protocol, nhid) in chosen.items()
    ]


def read_fib(
    netns: str | None = None, *, prefix: str | None = None, family: Family | None = None
) -> list[FibRoute]:
    """Routes of the main table; ``prefix`` narrows to an exact match (and so to its family),
    ``family`` to one family; by default both, IPv4 first."""
    if prefix is not None:
        family = "inet" if ipaddress.ip_network(prefix, strict=False).version == 4 else "inet6"
    routes: list[FibRoute] = []
    for fam in (family,) if family else FAMILIES:
        args = ["-4" if fam == "inet" else "-6", "route", "show", "table", "main"]
        if prefix:
            args += ["exact", prefix]
        routes += parse_routes(ip_json(*args, netns=netns), fam)
    return routes
