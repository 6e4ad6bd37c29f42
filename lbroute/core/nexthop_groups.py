"""A Linux router's FIB as resilient next-hop groups: what the kernel should hold for the VIPs,
and the operations that get it there. Pure.

zebra installs a BGP multipath route as an ordinary (hash-threshold) group: when its set of
next-hops changes, the kernel re-divides the hash space and flows of LBs that stayed move
too, and their connections are reset. A *resilient* group (Linux 5.13+) divides the hash
space into a fixed number of buckets, each owned by one next-hop: a next-hop that goes only
gives up its own buckets, one that comes only takes buckets that have been idle, and a
lower weight lets a next-hop's idle buckets go while busy ones stay (the make-before-break
drain). See docs/decisions/resilient-fib.md.

``plan(desired, kernel, settings)`` compares the next-hops each VIP should have (from the
router's BGP RIB, every path of the VIP: ``desired_hops``) against what the kernel holds and returns the
operations that close the gap, touching only what is ours: next-hop objects with our
protocol number and an ID in our range, routes with our protocol. Equal in, empty plan out:

- a VIP keeps the group its route points at, and the group is replaced *in place* when its
  members change, so the kernel keeps its bucket table; a replace with the same members and
  timers is never issued;
- VIPs with the same next-hop set share one group. When VIPs of one group come to want
  different sets, the group follows the set most of them want (ties: the set it has) and
  the others move to a group of their own set, whose bucket table starts afresh;
- a route of anyone else with our metric for a VIP is in the way: it is left alone and said.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .rib import Path, address_order, prefix_order

# iproute2 6.1 writes a member's weight as one byte (1-256); a draining next-hop gets the
# smallest, every other one the largest, so the draining one's fair share rounds to no bucket
NORMAL_WEIGHT = 256
DRAINING_WEIGHT = 1
# the metric of our routes: zebra's for BGP routes, so that the two modes' routes take the
# same place in the kernel (a route of anyone else with it is in the way, never replaced)
ROUTE_METRIC = 20


class Hop(NamedTuple):
    """A next-hop a VIP should forward on; ``draining``: every path via it is GRACEFUL_SHUTDOWN."""

    gateway: str
    draining: bool = False


@dataclass(frozen=True)
class Resilient:
    """A resilient group's parameters (``ip nexthop ... type resilient``), timers in seconds."""

    buckets: int
    idle_timer: int
    unbalanced_timer: int


@dataclass(frozen=True)
class GroupSettings:
    """What our groups look like and what is ours: ``protocol`` and IDs ``first_id..last_id``."""

    resilient: Resilient
    protocol: int
    first_id: int
    last_id: int
    metric: int = ROUTE_METRIC

    def owns(self, nexthop_id: int, protocol: int) -> bool:
        return protocol == self.protocol and self.first_id <= nexthop_id <= self.last_id


# --- what the kernel holds --------------------------------------------------------------------


@dataclass(frozen=True)
class NextHopObject:
    """A single next-hop object: ``ip nexthop add id ID via GATEWAY dev DEVICE``."""

    id: int
    gateway: str
    device: str
    protocol: int


@dataclass(frozen=True, order=True)
class Member:
    id: int
    weight: int = 1


@dataclass(frozen=True)
class GroupObject:
    """A next-hop group; ``resilient`` is None for an ordinary (hash-threshold) one."""

    id: int
    members: tuple[Member, ...]  # in ID order
    protocol: int
    resilient: Resilient | None = None


@dataclass(frozen=True)
class KernelRoute:
    """A route of the main table as the planner needs it. A connected route (scope link, no
    gateway) says which ``device`` reaches its prefix: a gateway's device is resolved from those."""

    prefix: str
    protocol: int
    metric: int
    nhid: int | None = None
    device: str = ""
    connected: bool = False


@dataclass(frozen=True)
class KernelFib:
    nexthops: tuple[NextHopObject, ...] = ()
    groups: tuple[GroupObject, ...] = ()
    routes: tuple[KernelRoute, ...] = ()

    @property
    def ids(self) -> frozenset[int]:
        """Every next-hop ID in use, whoever's."""
        return frozenset(n.id for n in self.nexthops) | frozenset(g.id for g in self.groups)


# --- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddNextHop:
    id: int
    gateway: str
    device: str


@dataclass(frozen=True)
class ReplaceNextHop:
    """The same gateway on another device (the link moved): the ID, and so the groups, stay."""

    id: int
    gateway: str
    device: str


@dataclass(frozen=True)
class AddGroup:
    id: int
    members: tuple[Member, ...]
    resilient: Resilient


@dataclass(frozen=True)
class ReplaceGroup:
    """In place: the kernel keeps the bucket table, only buckets of next-hops that left or are
    overweight move (see the module docstring)."""

    id: int
    members: tuple[Member, ...]
    resilient: Resilient


@dataclass(frozen=True)
class AddRoute:
    prefix: str
    group: int


@dataclass(frozen=True)
class ReplaceRoute:
    """Our route for ``prefix`` points at another group from now on (atomically)."""

    prefix: str
    group: int


@dataclass(frozen=True)
class DeleteRoute:
    prefix: str


@dataclass(frozen=True)
class DeleteGroup:
    id: int


@dataclass(frozen=True)
class DeleteNextHop:
    id: int


Operation = (
    AddNextHop
    | ReplaceNextHop
    | AddGroup
    | ReplaceGroup
    | AddRoute
    | ReplaceRoute
    | DeleteRoute
    | DeleteGroup
    | DeleteNextHop
)


@dataclass(frozen=True)
class FibPlan:
    """The operations, in the order to apply them, and what could not be done (one line each)."""

    operations: tuple[Operation, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.operations)

    def describe(self) -> list[str]:
        return [describe(op) for op in self.operations]


def _members(members: tuple[Member, ...]) -> str:
    return "/".join(f"{m.id}" if m.weight == 1 else f"{m.id},{m.weight}" for m in members)


def describe(op: Operation) -> str:
    match op:
        case AddNextHop(id_, gateway, device) | ReplaceNextHop(id_, gateway, device):
            verb = "add" if isinstance(op, AddNextHop) else "replace"
            return f"{verb} nexthop {id_} via {gateway} dev {device}"
        case AddGroup(id_, members, _) | ReplaceGroup(id_, members, _):
            verb = "add" if isinstance(op, AddGroup) else "replace"
            return f"{verb} group {id_} {_members(members)}"
        case AddRoute(prefix, group) | ReplaceRoute(prefix, group):
            verb = "add" if isinstance(op, AddRoute) else "replace"
            return f"{verb} route {prefix} nhid {group}"
        case DeleteRoute(prefix):
            return f"delete route {prefix}"
        case DeleteGroup(id_):
            return f"delete group {id_}"
        case DeleteNextHop(id_):
            return f"delete nexthop {id_}"
    raise AssertionError(f"unknown operation {op!r}")  # pragma: no cover


# --- from the RIB -------------------------------------------------------------------------------


def desired_hops(paths: Iterable[Path]) -> dict[str, frozenset[Hop]]:
    """Per prefix, the next-hops of its paths (the router's multipath set). A next-hop is
    draining when every path via it carries GRACEFUL_SHUTDOWN: two pods behind one node, one
    of them draining, still need the node's full share."""
    draining: dict[str, dict[str, bool]] = {}
    for p in paths:
        hops = draining.setdefault(p.prefix, {})
        if p.next_hop:
            hops[p.next_hop] = hops.get(p.next_hop, True) and p.draining
    return {prefix: frozenset(Hop(g, d) for g, d in hops.items()) for prefix, hops in draining.items()}


# --- the plan -----------------------------------------------------------------------------------


class _Ids:
    """The lowest IDs of our range that nobody uses, handed out one by one."""

    def __init__(self, first: int, last: int, used: frozenset[int]) -> None:
        self._next = first
        self._last = last
        self._used = used

    def take_many(self, count: int) -> list[int] | None:
        """``count`` IDs, or None (and nothing taken) when fewer are free."""
        got: list[int] = []
        at = self._next
        while len(got) < count and at <= self._last:
            if at not in self._used:
                got.append(at)
            at += 1
        if len(got) < count:
            return None
        self._next = at
        return got


def device_for(gateway: str, routes: Iterable[KernelRoute]) -> str | None:
    """The device of the most specific connected route that holds ``gateway``, if any: a next-hop
    object needs one (the kernel does not resolve a gateway through another gateway)."""
    ip = ipaddress.ip_address(gateway)
    best: tuple[int, str] | None = None
    for r in routes:
        if not r.connected or not r.device:
            continue
        net = ipaddress.ip_network(r.prefix, strict=False)
        if net.version == ip.version and ip in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r.device)
    return best[1] if best else None


# a member as the planner compares them: (gateway, weight); a member that is no next-hop of ours
# (someone else's, or gone) is ("#ID", weight), which no wanted member equals
Key = tuple[tuple[str, int], ...]


def plan(desired: Mapping[str, frozenset[Hop]], kernel: KernelFib, settings: GroupSettings) -> FibPlan:
    """Operations that make the kernel forward each prefix of ``desired`` on a resilient group
    of its next-hops (a prefix with none, or not in ``desired``, loses our route).

    New objects take the lowest free IDs of our range. When the range runs out, what needs a
    new ID is not built and is said; routes that exist stay where they are.
    """
    ours_hops = sorted((n for n in kernel.nexthops if settings.owns(n.id, n.protocol)), key=lambda n: n.id)
    ours_groups = {g.id: g for g in kernel.groups if settings.owns(g.id, g.protocol)}
    ours_routes: dict[str, KernelRoute] = {}
    in_the_way: set[str] = set()
    for r in kernel.routes:
        if r.metric == settings.metric:
            if r.protocol == settings.protocol:
                ours_routes[r.prefix] = r
            else:
                in_the_way.add(r.prefix)
    problems: list[str] = []

    # the next-hop object of each gateway: ours (the lowest ID, if several), else to be made
    hop_of: dict[str, NextHopObject] = {}
    for n in ours_hops:
        hop_of.setdefault(n.gateway, n)
    gateway_of = {n.id: n.gateway for n in ours_hops}
    devices: dict[str, str] = {}
    for gateway in sorted({h.gateway for hops in desired.values() for h in hops}, key=address_order):
        device = device_for(gateway, kernel.routes)
        if device is None:
            problems.append(f"next-hop {gateway}: no connected route reaches it; left out of every group")
        else:
            devices[gateway] = device

    wanted: dict[str, Key] = {}
    for prefix in sorted(desired, key=prefix_order):
        key = _key(desired[prefix], devices)
        if not key:
            continue
        if prefix in in_the_way and prefix not in ours_routes:
            problems.append(
                f"{prefix}: a route of another protocol with metric {settings.metric} is in the way; "
                "left alone"
            )
            continue
        wanted[prefix] = key

    def key_of(group: GroupObject) -> Key:
        return tuple(sorted((gateway_of.get(m.id, f"#{m.id}"), m.weight) for m in group.members))

    # each group keeps the members most of its VIPs want; the other VIPs move
    usable = {
        gid: g
        for gid, g in ours_groups.items()
        if g.resilient is not None and g.resilient.buckets == settings.resilient.buckets
    }
    on_group: dict[int, list[str]] = {}
    movers: list[str] = []
    for prefix in wanted:
        route = ours_routes.get(prefix)
        if route is not None and route.nhid in usable:
            on_group.setdefault(route.nhid, []).append(prefix)
        else:
            movers.append(prefix)
    final: dict[int, Key] = {}
    for gid in sorted(on_group):
        final[gid] = _kept(on_group[gid], wanted, key_of(usable[gid]))
        movers += [p for p in on_group[gid] if wanted[p] != final[gid]]
    target = {p: gid for gid, ps in on_group.items() for p in ps if wanted[p] == final[gid]}
    new_groups: dict[Key, list[str]] = {}
    for prefix in sorted(movers, key=prefix_order):
        share = min((gid for gid, k in final.items() if k == wanted[prefix]), default=None)
        if share is None:
            new_groups.setdefault(wanted[prefix], []).append(prefix)
        else:
            target[prefix] = share

    # IDs: first for the next-hops that kept groups need, then group by group for new ones
    ids = _Ids(settings.first_id, settings.last_id, kernel.ids)
    made: dict[str, int] = {}
    left_alone: set[int] = set()  # groups that cannot be rebuilt for want of IDs: kept as they are
    short = f"no free ID in {settings.first_id}-{settings.last_id}"

    def reserve(gateways: list[str], groups: int) -> list[int] | None:
        """IDs for the ``gateways`` that have no next-hop object yet, and ``groups`` more: all
        or none. Returns the extra ones."""
        missing = [g for g in gateways if g not in hop_of and g not in made]
        got = ids.take_many(len(missing) + groups)
        if got is None:
            return None
        made.update(zip(missing, got, strict=False))
        return got[len(missing) :]

    for gid in sorted(final):
        if final[gid] != key_of(usable[gid]) and reserve([g for g, _ in final[gid]], 0) is None:
            # on the wanted next-hops that exist, for now: what it lets go frees IDs for the rest
            present = tuple((g, w) for g, w in final[gid] if g in hop_of or g in made)
            missing = ", ".join(g for g, _ in final[gid] if g not in hop_of and g not in made)
            problems.append(f"group {gid}: {short} for {missing}; it forwards on the others for now")
            final[gid] = present or key_of(usable[gid])
    for key, prefixes in new_groups.items():
        got = reserve([g for g, _ in key], 1)
        if got is None:
            problems += [f"{p}: {short} for a group; left as it is" for p in prefixes]
            for p in prefixes:  # a route that exists stays, and keeps its group alive
                route = ours_routes.get(p)
                if route is not None and route.nhid in usable:
                    target[p] = route.nhid
                    final.setdefault(route.nhid, key_of(usable[route.nhid]))
                elif route is not None and route.nhid in ours_groups:
                    target[p] = route.nhid
                    left_alone.add(route.nhid)
            continue
        final[got[0]] = key
        target.update(dict.fromkeys(prefixes, got[0]))

    ops: list[Operation] = []
    for gateway in sorted(made, key=lambda g: made[g]):
        ops.append(AddNextHop(made[gateway], gateway, devices[gateway]))
    for gateway, existing in sorted(hop_of.items(), key=lambda item: item[1].id):
        if gateway in devices and existing.device != devices[gateway]:
            ops.append(ReplaceNextHop(existing.id, gateway, devices[gateway]))
    id_of = {**{g: n.id for g, n in hop_of.items()}, **made}

    def members(key: Key) -> tuple[Member, ...]:
        return tuple(
            sorted(Member(id_of[g], w) if not g.startswith("#") else Member(int(g[1:]), w) for g, w in key)
        )

    for gid in sorted(final):
        if gid not in usable:
            ops.append(AddGroup(gid, members(final[gid]), settings.resilient))
        elif final[gid] != key_of(usable[gid]) or usable[gid].resilient != settings.resilient:
            ops.append(ReplaceGroup(gid, members(final[gid]), settings.resilient))
    for prefix in sorted(target, key=prefix_order):
        route = ours_routes.get(prefix)
        if route is None:
            ops.append(AddRoute(prefix, target[prefix]))
        elif route.nhid != target[prefix]:
            ops.append(ReplaceRoute(prefix, target[prefix]))
    ops += [DeleteRoute(p) for p in sorted(ours_routes.keys() - target.keys(), key=prefix_order)]
    # what nothing uses any more goes last: routes first let go of groups, groups of next-hops
    ops += [DeleteGroup(g) for g in sorted(ours_groups.keys() - final.keys() - left_alone)]
    used = {id_of[g] for key in final.values() for g, _ in key if not g.startswith("#")}
    used |= {m.id for g in left_alone for m in ours_groups[g].members}
    ops += [DeleteNextHop(n.id) for n in ours_hops if n.id not in used]
    return FibPlan(tuple(ops), tuple(problems))


def _key(hops: frozenset[Hop], devices: Mapping[str, str]) -> Key:
    return tuple(
        sorted(
            (h.gateway, DRAINING_WEIGHT if h.draining else NORMAL_WEIGHT)
            for h in hops
            if h.gateway in devices
        )
    )


def _kept(prefixes: list[str], wanted: Mapping[str, Key], current: Key) -> Key:
    """The members a group keeps: the set most of its VIPs want; of equals, the one it has, else
    the one of the first VIP in address order."""
    counts = Counter(wanted[p] for p in prefixes)
    first = {k: min((p for p in prefixes if wanted[p] == k), key=prefix_order) for k in counts}
    return min(counts, key=lambda k: (-counts[k], k != current, prefix_order(first[k])))


# --- what the operator sees -----------------------------------------------------------------------


@dataclass(frozen=True)
class MemberView:
    gateway: str
    device: str
    weight: int
    buckets: int | None  # None: not a resilient group (hash-threshold has no buckets)
    draining: bool  # a weight below the group's largest: its idle buckets leave it


@dataclass(frozen=True)
class GroupView:
    id: int
    protocol: int
    resilient: Resilient | None
    members: tuple[MemberView, ...]  # in address order

    @property
    def kind(self) -> str:
        return "resilient" if self.resilient else "hash-threshold"


def group_views(kernel: KernelFib, buckets: Mapping[int, Mapping[int, int]]) -> dict[int, GroupView]:
    """Every group of the kernel, whoever's; ``buckets``: group -> member ID -> buckets it holds."""
    singles = {n.id: n for n in kernel.nexthops}
    out = {}
    for g in kernel.groups:
        top = max((m.weight for m in g.members), default=1)
        held = buckets.get(g.id, {})
        members = []
        for m in g.members:
            hop = singles.get(m.id)
            members.append(
                MemberView(
                    gateway=hop.gateway if hop else f"id {m.id}",
                    device=hop.device if hop else "",
                    weight=m.weight,
                    buckets=held.get(m.id, 0) if g.resilient else None,
                    draining=g.resilient is not None and m.weight < top,
                )
            )
        members.sort(key=lambda v: address_order(v.gateway))
        out[g.id] = GroupView(g.id, g.protocol, g.resilient, tuple(members))
    return out
