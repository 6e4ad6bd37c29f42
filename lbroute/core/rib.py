"""Routes as the operator sees them: BGP paths at a daemon, next-hops in a kernel FIB."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Path:
    """One BGP path for a prefix, as a gobgpd holds it."""

    prefix: str
    next_hop: str
    source: str = ""  # the peer it was learned from; "" for a local path
    best: bool = False
    path_id: int = 0


@dataclass(frozen=True)
class FibRoute:
    """One kernel route: a prefix and the set of gateways it forwards on."""

    prefix: str
    next_hops: frozenset[str]
    protocol: str = ""


def next_hops_by_prefix(paths: Iterable[Path]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for path in paths:
        out.setdefault(path.prefix, set()).add(path.next_hop)
    return {prefix: frozenset(hops) for prefix, hops in out.items()}
