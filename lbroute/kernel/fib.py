"""Read the kernel FIB, namespace-aware, as core ``FibRoute`` values."""

from __future__ import annotations

from typing import Any

from lbroute.core.rib import FibRoute

from .ip import ip_json


def _prefix(entry: dict[str, Any], family: str) -> str:
    dst = str(entry["dst"])
    if dst == "default":
        return "0.0.0.0/0" if family == "inet" else "::/0"
    if "/" not in dst:
        dst += "/32" if family == "inet" else "/128"
    return dst


def parse_routes(entries: list[dict[str, Any]], family: str = "inet") -> list[FibRoute]:
    routes = []
    for entry in entries:
        hops = [h["gateway"] for h in entry.get("nexthops", []) if "gateway" in h]
        if "gateway" in entry:
            hops.append(entry["gateway"])
        routes.append(
            FibRoute(
                prefix=_prefix(entry, family),
                next_hops=frozenset(hops),
                protocol=str(entry.get("protocol", "")),
            )
        )
    return routes


def read_fib(netns: str | None = None, *, prefix: str | None = None, family: str = "inet") -> list[FibRoute]:
    """Routes of the main table (``ip -j route``); ``prefix`` narrows to an exact match."""
    args = ["-4" if family == "inet" else "-6", "route", "show", "table", "main"]
    if prefix:
        args += ["exact", prefix]
    return parse_routes(ip_json(*args, netns=netns), family)
