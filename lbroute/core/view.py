"""The operator's per-VIP view: what BGP says against what the kernel forwards on. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .rib import FibRoute, Path, next_hops_by_prefix

OK = "OK"
DEGRADED = "DEGRADED"  # fewer next-hops in the FIB than speakers announce
DRIFT = "DRIFT"  # the FIB forwards somewhere BGP does not say
MISSING = "MISSING"  # announced, but not in the FIB at all


@dataclass(frozen=True)
class VipRow:
    prefix: str
    rr_next_hops: frozenset[str]
    router_next_hops: frozenset[str] | None  # None: the router's RIB was not read
    fib_next_hops: frozenset[str]
    status: str


def vip_rows(
    rr_paths: Iterable[Path],
    fib: Iterable[FibRoute],
    router_paths: Iterable[Path] | None = None,
    *,
    only: Iterable[str] | None = None,
) -> list[VipRow]:
    """One row per VIP that the RR holds or (for ``only`` prefixes) the FIB holds."""
    rr = next_hops_by_prefix(rr_paths)
    router = next_hops_by_prefix(router_paths) if router_paths is not None else None
    fib_by_prefix = {r.prefix: r.next_hops for r in fib}
    prefixes = set(rr) | (set(router) if router else set())
    if only is not None:
        wanted = set(only)
        prefixes = (prefixes | (wanted & set(fib_by_prefix))) & wanted
    rows = []
    for prefix in sorted(prefixes):
        announced = rr.get(prefix, frozenset())
        installed = fib_by_prefix.get(prefix, frozenset())
        at_router = router.get(prefix, frozenset()) if router is not None else None
        rows.append(VipRow(prefix, announced, at_router, installed, status_of(announced, installed)))
    return rows


def status_of(announced: frozenset[str], installed: frozenset[str]) -> str:
    if announced and not installed:
        return MISSING
    if installed - announced:
        return DRIFT
    if announced - installed:
        return DEGRADED
    return OK
