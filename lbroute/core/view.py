"""The operator's per-VIP view: what BGP says against what the kernel forwards on. Pure.

Three sources, each read whole:

- the RR(s)' RIB: which speakers announce a VIP, and via which next-hops;
- the router's RIB: the paths the RR(s) sent and the router holds (optional);
- the router's kernel FIB: the next-hops traffic really leaves on.

A verdict compares next-hop *sets*, not path counts: two LB pods on one node announce
one next-hop, and the FIB can forward on it only once. See docs/decisions/cli-vip-status.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from .guard import KnownNode, NodeMap
from .nexthop_groups import GroupView
from .rib import Attributes, FibRoute, Path, address_order, prefix_order

OK = "OK"
# the FIB forwards on fewer next-hops than the speakers announce (a path may have lost
# best-path selection at the router: said so, in those words)
DEGRADED = "DEGRADED"
# the router forwards on some paths alone because their attributes win best-path selection
STEERED = "STEERED"
DRIFT = "DRIFT"  # the FIB and BGP disagree: it forwards where BGP does not say, or misses a RIB path
# the FIB forwards on a next-hop that is no known node's, or that no speaker on that node announces
FOREIGN = "FOREIGN"
MISSING = "MISSING"  # announced, but no route in the FIB at all
STATUSES = (OK, DEGRADED, STEERED, DRIFT, FOREIGN, MISSING)


class VipRow(NamedTuple):
    """One VIP's row. A NamedTuple, not a frozen dataclass: a large RIB makes 16k of them,
    and a frozen dataclass costs five times as much to build."""

    prefix: str
    speakers: frozenset[str]  # LB speakers whose paths an RR holds (their adj-RIB-in at the RR)
    rr_paths: tuple[int, ...]  # paths each RR holds, in the order the RRs were given
    rr_next_hops: frozenset[str]
    router_paths: int | None  # paths the router received from the RR(s); None: not read
    router_next_hops: frozenset[str] | None
    router_paths_by_rr: tuple[tuple[str, int], ...]  # (RR address, paths it sent the router)
    fib_next_hops: frozenset[str] | None  # None: the FIB has no route for the prefix
    status: str
    problems: tuple[str, ...] = ()  # why the status is not OK, one sentence each
    # next-hops whose every path is marked GRACEFUL_SHUTDOWN: their LBs are draining
    draining: frozenset[str] = frozenset()
    fib_group: GroupView | None = None  # the next-hop group the FIB route uses, if known
    # router next-hops not forwarded on because their paths lost best-path selection
    unselected: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.status == OK


def vip_rows(
    rr_ribs: Sequence[Iterable[Path]],
    fib: Iterable[FibRoute],
    router_rib: Iterable[Path] | None = None,
    *,
    vip_pools: Iterable[str] = (),
    only: Iterable[str] | None = None,
    groups: Mapping[int, GroupView] | None = None,
    nodes: NodeMap | None = None,
) -> list[VipRow]:
    """One row per VIP, sorted by address.

    A VIP is a prefix an RR or the router holds, or a FIB route inside one of ``vip_pools``
    (so a route someone added by hand shows up although BGP knows nothing of it). ``only``
    narrows the rows to those prefixes, FIB-only ones included whatever the pools.
    ``nodes`` (from the RR's guard rails) lets FIB next-hops be checked against the nodes
    and the speakers on them.
    """
    per_rr = [_by_prefix(rib) for rib in rr_ribs]
    router = _by_prefix(router_rib) if router_rib is not None else None
    fib = list(fib)
    fib_by_prefix = {r.prefix: r.next_hops for r in fib}
    group_of = {r.prefix: groups.get(r.nhid) for r in fib if r.nhid is not None} if groups else {}

    prefixes: set[str] = set()
    for rib in per_rr:
        prefixes.update(rib)
    if router is not None:
        prefixes.update(router)
    pools = [ipaddress.ip_network(p) for p in vip_pools]
    if pools:
        prefixes.update(p for p in fib_by_prefix if p not in prefixes and _in_any(p, pools))
    if only is not None:
        wanted = set(only)
        prefixes = (prefixes | (wanted & set(fib_by_prefix))) & wanted

    rows = []
    none: list[Path] = []
    known = _KnownNodes(nodes) if nodes is not None and nodes.nodes else None
    for prefix in sorted(prefixes, key=prefix_order):
        held_at = [rib.get(prefix, none) for rib in per_rr]
        at_rrs = held_at[0] if len(held_at) == 1 else [p for held in held_at for p in held]
        rr_hops = frozenset([p.next_hop for p in at_rrs])
        speakers = frozenset([p.source for p in at_rrs if p.source])
        at_router = router.get(prefix, none) if router is not None else None
        router_hops = frozenset([p.next_hop for p in at_router]) if at_router is not None else None
        installed = fib_by_prefix.get(prefix)
        held_stale = frozenset([p.next_hop for p in at_router if p.stale]) if at_router else frozenset()
        chosen = _selected(at_router) if at_router is not None else None
        status, problems = judge(rr_hops, chosen, installed, held_stale)
        if at_router and chosen is not None and status in (OK, DEGRADED):
            status, problems = _lost_selection(at_router, chosen, installed, status, problems)
        if known is not None and installed and status != MISSING:
            foreign = _foreign(installed, at_rrs, known)
            # a FIB that disagrees with BGP stays DRIFT, whatever else is wrong with it
            if foreign and status == DRIFT:
                problems = (*problems, *foreign)
            elif foreign:
                status, problems = FOREIGN, (*foreign, *problems)
        marked = any(p.communities for p in at_rrs) or any(p.communities for p in at_router or ())
        rows.append(
            VipRow(
                prefix=prefix,
                speakers=speakers,
                rr_paths=tuple([len(held) for held in held_at]),
                rr_next_hops=rr_hops,
                router_paths=len(at_router) if at_router is not None else None,
                router_next_hops=router_hops,
                router_paths_by_rr=_count_by_source(at_router) if at_router else (),
                fib_next_hops=installed,
                status=status,
                problems=problems,
                draining=_draining([*at_rrs, *(at_router or ())]) if marked else frozenset(),
                fib_group=group_of.get(prefix),
                unselected=(
                    router_hops - chosen - (installed or frozenset())
                    if router_hops is not None and chosen is not None
                    else frozenset()
                ),
            )
        )
    return rows


def _draining(paths: list[Path]) -> frozenset[str]:
    """Next-hops whose every path is marked GRACEFUL_SHUTDOWN (two pods on one node: both)."""
    marked: dict[str, bool] = {}
    for p in paths:
        marked[p.next_hop] = marked.get(p.next_hop, True) and p.draining
    return frozenset(hop for hop, all_marked in marked.items() if all_marked)


def judge(
    announced: frozenset[str],
    at_router: frozenset[str] | None,
    installed: frozenset[str] | None,
    held_stale: frozenset[str] = frozenset(),
) -> tuple[str, tuple[str, ...]]:
    """The verdict for one VIP and the reasons for it.

    ``announced``: next-hops of the paths the RR(s) hold; ``at_router``: of the paths the
    router holds (None when its RIB was not read); ``installed``: the FIB's next-hops
    (None when the FIB has no route at all); ``held_stale``: next-hops of router paths kept
    stale under graceful restart (their RR session is down), named as such.
    """
    bgp_hops = announced | (at_router or frozenset())
    if installed is None:
        if not bgp_hops:
            return OK, ()
        return MISSING, (f"no route in the FIB; BGP holds paths via {_list(bgp_hops)}",)

    drift: list[str] = []
    if at_router is not None and at_router != installed:
        drift += [
            f"the FIB forwards on {h}; the router's RIB has no path via it"
            for h in _sorted(installed - at_router)
        ]
        drift += [
            f"the router's RIB has a path via {h}; the FIB does not forward on it"
            for h in _sorted(at_router - installed)
        ]
        forwarded = installed & at_router
    else:
        forwarded = installed
    if not forwarded <= announced:
        drift += [
            f"the FIB forwards on {h}; no RR holds a path via it"
            + (
                " (the router keeps it stale: graceful restart, its RR session is down)"
                if h in held_stale
                else ""
            )
            for h in _sorted(forwarded - announced)
        ]
    if not installed and not bgp_hops:
        drift.append("the FIB has a route without next-hops; BGP holds no path for it")
    if drift:
        return DRIFT, tuple(drift)

    if announced <= installed:
        return OK, ()
    lost = _sorted(announced - installed)
    return DEGRADED, tuple(f"an RR holds a path via {h}; the FIB does not forward on it" for h in lost)


def _selected(paths: list[Path]) -> frozenset[str]:
    """Next-hops of the paths the router forwards on (its best path and multipath set). A
    router that marks none (a reader that does not know) has all of them count as chosen."""
    chosen = [p.next_hop for p in paths if p.selected]
    return frozenset(chosen) if chosen else frozenset(p.next_hop for p in paths)


def _lost_selection(
    paths: list[Path],
    chosen: frozenset[str],
    installed: frozenset[str] | None,
    status: str,
    problems: tuple[str, ...],
) -> tuple[str, tuple[str, ...]]:
    """Router paths that are not forwarded on because they lost best-path selection: not a
    disagreement between the FIB and BGP. STEERED when the winners' attributes say why."""
    lost = [
        p for p in paths if p.next_hop not in chosen and (installed is None or p.next_hop not in installed)
    ]
    if not lost:
        return status, problems
    winners = [p for p in paths if p.next_hop in chosen]
    why = _wins_on(winners, lost)
    if why:
        line = f"the router forwards on {_list(chosen)} alone: their paths win best-path selection on {why}"
        return STEERED, (line, *problems)
    lines = tuple(
        f"the router's path via {h} lost best-path selection; the FIB does not forward on it"
        for h in _sorted({p.next_hop for p in lost})
    )
    return DEGRADED, (*problems, *lines)


def _local_pref(a: Attributes) -> int:
    return a.preference


def _as_path_length(a: Attributes) -> int:
    return a.as_path_length


def _origin(a: Attributes) -> int:
    return a.origin


def _med(a: Attributes) -> int:
    return a.med or 0


# (name, value, whether the higher value wins), in best-path selection's order
_COMPARED: tuple[tuple[str, Callable[[Attributes], int], bool], ...] = (
    ("LOCAL_PREF", _local_pref, True),
    ("AS path length", _as_path_length, False),
    ("origin", _origin, False),
    ("MED", _med, False),
)


def _wins_on(winners: list[Path], losers: list[Path]) -> str:
    """The first attribute (RFC 4271's order) on which every winner beats the best loser, as
    "LOCAL_PREF (500 over 100)"; "" when the attributes were not read or tie."""
    ws = [p.attributes for p in winners if p.attributes is not None]
    ls = [p.attributes for p in losers if p.attributes is not None]
    if not ws or not ls:
        return ""
    for name, value, higher_wins in _COMPARED:
        w = [value(a) for a in ws]
        best_loser = max(value(a) for a in ls) if higher_wins else min(value(a) for a in ls)
        worst_winner = min(w) if higher_wins else max(w)
        if worst_winner != best_loser:
            if (worst_winner > best_loser) == higher_wins:
                return f"{name} ({worst_winner} over {best_loser})"
            return ""
    return ""


class _KnownNodes:
    """The node map, indexed once for every row: by address, with each node's answer to "is
    this speaker yours" kept (16k VIPs ask the same few questions 16k times)."""

    def __init__(self, nodes: NodeMap) -> None:
        self.families = {_family(a) for n in nodes.nodes for a in n.addresses}
        self._by_address: dict[str, KnownNode] = {}
        for n in nodes.nodes:  # the first node that has an address, as NodeMap.node_with_address
            for a in n.addresses:
                self._by_address.setdefault(a, n)
        self._holds: dict[tuple[int, str], bool] = {}

    def with_address(self, address: str) -> KnownNode | None:
        return self._by_address.get(address)

    def holds_speaker(self, node: KnownNode, source: str) -> bool:
        key = (id(node), source)  # the nodes live as long as this index
        held = self._holds.get(key)
        if held is None:
            held = self._holds[key] = node.holds_speaker(source)
        return held


def _family(address: str) -> int:
    return 6 if ":" in address else 4


def _foreign(installed: frozenset[str], at_rrs: list[Path], nodes: _KnownNodes) -> tuple[str, ...]:
    """FIB next-hops that are no known node's, or that only speakers on other nodes announce."""
    out = []
    for h in _sorted(installed):
        if _family(h) not in nodes.families:
            continue  # the guard rails name no node address of this family: nothing to judge by
        node = nodes.with_address(h)
        if node is None:
            out.append(f"the FIB forwards on {h}, which is no known node's address")
            continue
        sources = {p.source for p in at_rrs if p.next_hop == h and p.source}
        if sources and not any(nodes.holds_speaker(node, s) for s in sources):
            out.append(
                f"the FIB forwards on {h}; no speaker on that node announces it "
                f"(only {_list(sources)}, on other nodes)"
            )
    return tuple(out)


def differences(rows: Iterable[VipRow]) -> list[VipRow]:
    """The VIPs whose FIB next-hops are not what BGP says: every row that is not OK."""
    return [r for r in rows if not r.ok]


def status_counts(rows: Iterable[VipRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for r in rows:
        counts[r.status] += 1
    return counts


def _by_prefix(paths: Iterable[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in paths:
        held = out.get(path.prefix)
        if held is None:
            out[path.prefix] = [path]
        else:
            held.append(path)
    return out


def _count_by_source(paths: list[Path]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.source] = counts.get(p.source, 0) + 1
    return tuple(sorted(counts.items()))


def _in_any(prefix: str, pools: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    net = ipaddress.ip_network(prefix)
    return any(net.version == pool.version and net.subnet_of(pool) for pool in pools)  # type: ignore[arg-type]


def _sorted(hops: Iterable[str]) -> list[str]:
    return sorted(hops, key=address_order)


def _list(hops: Iterable[str]) -> str:
    return ", ".join(_sorted(hops))
