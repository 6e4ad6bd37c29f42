"""An in-memory kernel FIB of next-hop objects, groups and routes that behaves like Linux 6.18's,
for unit tests of the resilient-FIB planner and writer.

Refusals raise ``IpCommandError``, as ``lbroute.kernel.nexthops`` does for ``ip``'s. Checked
against the real kernel in a namespace: adding an ID twice, a group naming a missing
next-hop or a group, replacing a group with one of another type or another bucket count, a
next-hop with a group, adding a route whose (prefix, metric) is taken, deleting a route that
is not there with that protocol and metric. Like the kernel, deleting a next-hop takes it out
of every group (a group left empty goes, with its routes) and deleting a group deletes the
routes that use it.

Buckets are modelled as the kernel fills them when every bucket is idle (as none of these
tests sends traffic): a replace moves only the buckets of members that left or that hold more
than their weight's share, to the members that hold less. ``moved`` counts bucket moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lbroute.core import nexthop_groups as ng
from lbroute.kernel.ip import IpCommandError


def _refuse(what: str) -> IpCommandError:
    return IpCommandError(["ip", "(fake)"], what)


@dataclass
class FakeKernel:
    nexthops: dict[int, ng.NextHopObject] = field(default_factory=dict)
    groups: dict[int, ng.GroupObject] = field(default_factory=dict)
    routes: dict[tuple[str, int], ng.KernelRoute] = field(default_factory=dict)  # (prefix, metric)
    buckets: dict[int, list[int]] = field(default_factory=dict)  # group -> next-hop ID per bucket
    moved: int = 0
    writes: int = 0

    def observe(self) -> ng.KernelFib:
        return ng.KernelFib(
            tuple(self.nexthops[i] for i in sorted(self.nexthops)),
            tuple(self.groups[i] for i in sorted(self.groups)),
            tuple(self.routes[k] for k in sorted(self.routes)),
        )

    def connect(self, prefix: str, device: str) -> None:
        self.routes[(prefix, 0)] = ng.KernelRoute(prefix, 2, 0, device=device, connected=True)

    def apply(self, ops: tuple[ng.Operation, ...], settings: ng.GroupSettings) -> int:
        """Like ``Kernel.apply``: in order, and the first refusal stops the rest."""
        for op in ops:
            self.writes += 1
            self._apply(op, settings.protocol, settings.metric)
        return len(ops)

    def _apply(self, op: ng.Operation, protocol: int, metric: int) -> None:
        match op:
            case ng.AddNextHop(id_, gateway, device):
                self._free(id_)
                self.nexthops[id_] = ng.NextHopObject(id_, gateway, device, protocol)
            case ng.ReplaceNextHop(id_, gateway, device):
                if id_ in self.groups:
                    raise _refuse("Can not replace a nexthop group with a nexthop.")
                self.nexthops[id_] = ng.NextHopObject(id_, gateway, device, protocol)
            case ng.AddGroup(id_, members, resilient):
                self._free(id_)
                self._check_members(members)
                self.groups[id_] = ng.GroupObject(id_, members, protocol, resilient)
                self.buckets[id_] = []
                self._rebalance(id_)
            case ng.ReplaceGroup(id_, members, resilient):
                old = self.groups.get(id_)
                if old is None:
                    if id_ in self.nexthops:
                        raise _refuse("Can not replace a nexthop with a nexthop group.")
                    self.groups[id_] = ng.GroupObject(id_, members, protocol, resilient)
                    self.buckets[id_] = []
                elif old.resilient is None:
                    raise _refuse("Can not replace a nexthop group with one of a different type.")
                elif old.resilient.buckets != resilient.buckets:
                    raise _refuse("Can not change number of buckets of a resilient nexthop group.")
                self._check_members(members)
                self.groups[id_] = ng.GroupObject(id_, members, protocol, resilient)
                self._rebalance(id_)
            case ng.AddRoute(prefix, group) | ng.ReplaceRoute(prefix, group):
                if group not in self.groups and group not in self.nexthops:
                    raise _refuse("Nexthop id does not exist")
                if isinstance(op, ng.AddRoute) and (prefix, metric) in self.routes:
                    raise _refuse("RTNETLINK answers: File exists")
                self.routes[(prefix, metric)] = ng.KernelRoute(prefix, protocol, metric, nhid=group)
            case ng.DeleteRoute(prefix):
                route = self.routes.get((prefix, metric))
                if route is None or route.protocol != protocol:
                    raise _refuse("RTNETLINK answers: No such process")
                del self.routes[(prefix, metric)]
            case ng.DeleteGroup(id_):
                if id_ not in self.groups:
                    raise _refuse("Error: Nexthop id does not exist")
                self._drop_group(id_)
            case ng.DeleteNextHop(id_):
                if id_ not in self.nexthops:
                    raise _refuse("Error: Nexthop id does not exist")
                del self.nexthops[id_]
                for gid, g in list(self.groups.items()):
                    left = tuple(m for m in g.members if m.id != id_)
                    if not left:
                        self._drop_group(gid)
                    elif left != g.members:
                        self.groups[gid] = replace(g, members=left)
                        self._rebalance(gid)
                for key, r in list(self.routes.items()):
                    if r.nhid == id_:
                        del self.routes[key]

    def _free(self, id_: int) -> None:
        if id_ in self.nexthops or id_ in self.groups:
            raise _refuse("RTNETLINK answers: File exists")

    def _check_members(self, members: tuple[ng.Member, ...]) -> None:
        if not members:
            raise _refuse("Empty group")
        for m in members:
            if m.id not in self.nexthops:
                raise _refuse(f"Invalid nexthop id {m.id}" if m.id not in self.groups else "Nested groups")
            if not 1 <= m.weight <= 256:
                raise _refuse('"weight" is invalid')

    def _drop_group(self, gid: int) -> None:
        del self.groups[gid]
        self.buckets.pop(gid, None)
        for key, r in list(self.routes.items()):
            if r.nhid == gid:
                del self.routes[key]

    def _rebalance(self, gid: int) -> None:
        """Fill or re-fill the bucket table the way the kernel's rebalance does when every bucket
        is idle: keep each bucket whose owner is a member holding no more than its share."""
        group = self.groups[gid]
        assert group.resilient is not None
        size = group.resilient.buckets
        table = self.buckets[gid] or [0] * size
        total = sum(m.weight for m in group.members)
        wants: dict[int, int] = {}
        done, upper = 0, 0
        for m in group.members:
            done += m.weight
            bound = (size * done + total // 2) // total  # DIV_ROUND_CLOSEST, as the kernel
            wants[m.id] = bound - upper
            upper = bound
        holds: dict[int, int] = {}
        for i, owner in enumerate(table):
            if owner in wants and holds.get(owner, 0) < wants[owner]:
                holds[owner] = holds.get(owner, 0) + 1
            else:
                table[i] = 0  # to be handed out again
        for i, owner in enumerate(table):
            if owner == 0:
                taker = next(m for m in wants if holds.get(m, 0) < wants[m])
                holds[taker] = holds.get(taker, 0) + 1
                if self.buckets[gid]:
                    self.moved += 1
                table[i] = taker
        self.buckets[gid] = table
