"""The ipvs driver's decisions: which IPVS services and destinations the kernel should hold,
and the operations that get it there. Pure; ``ipvs_netlink`` turns operations into netlink.

The ``mh`` scheduler is Maglev inside the kernel: its table depends on the destinations'
*order* in the service's list (its hash key is fixed, not random), so every director that
adds the same destinations in the same order computes the same table. Destinations are
therefore kept in our Maglev order (``maglev.backend_order``): a new one that sorts before
existing ones means deleting those after it and adding them again behind it, in one
batch (a deleted destination waits in IPVS's trash and comes back with its connections).
``mh-port`` hashes the source port too (flows, not clients), and ``sloppy_tcp`` (a sysctl)
lets a director pick up a connection mid-flow, after the router moved it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lbroute.core import maglev
from lbroute.core.dataplane import Dataplane

TCP = 6
# include/uapi/linux/ip_vs.h
SVC_F_SCHED_MH_FALLBACK = 0x0008  # IP_VS_SVC_F_SCHED1
SVC_F_SCHED_MH_PORT = 0x0010  # IP_VS_SVC_F_SCHED2
FWD_MASQ = 0x0000  # IP_VS_CONN_F_MASQ
FWD_TUNNEL = 0x0002  # IP_VS_CONN_F_TUNNEL
FORWARD = {"nat": FWD_MASQ, "tun": FWD_TUNNEL}


@dataclass(frozen=True, order=True)
class IpvsService:
    vip: str
    port: int
    protocol: int = TCP
    scheduler: str = "mh"
    flags: int = SVC_F_SCHED_MH_PORT | SVC_F_SCHED_MH_FALLBACK

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.vip, self.port, self.protocol)


@dataclass(frozen=True, order=True)
class IpvsDest:
    address: str
    port: int
    forward: int = FWD_MASQ
    weight: int = 1


@dataclass(frozen=True)
class IpvsState:
    services: tuple[tuple[IpvsService, tuple[IpvsDest, ...]], ...] = ()

    def dests(self, key: tuple[str, int, int]) -> tuple[IpvsDest, ...] | None:
        return next((d for s, d in self.services if s.key == key), None)

    def service(self, key: tuple[str, int, int]) -> IpvsService | None:
        return next((s for s, _ in self.services if s.key == key), None)


Verb = Literal["add-service", "set-service", "del-service", "add-dest", "set-dest", "del-dest"]


@dataclass(frozen=True)
class IpvsOp:
    verb: Verb
    service: IpvsService
    dest: IpvsDest | None = None

    def __str__(self) -> str:
        s = f"{self.verb} {self.service.vip}:{self.service.port}"
        return s + (f" -> {self.dest.address}:{self.dest.port}" if self.dest else "")


def desired_state(dp: Dataplane, forward: Literal["nat", "tun"] = "nat") -> IpvsState:
    """One mh service per VIP and port; its ready backends, in Maglev order. With no ready
    backend, the destinations of the kept table stand (as with the nft drivers)."""
    out = []
    for t in sorted(dp.tables, key=lambda t: (t.spec.vip, t.spec.port)):
        addresses = t.backends or t.in_table
        dests = tuple(
            IpvsDest(a, t.spec.target_port, FORWARD[forward]) for a in maglev.backend_order(addresses)
        )
        out.append((IpvsService(t.spec.vip, t.spec.port), dests))
    return IpvsState(tuple(out))


def _dest_ops(service: IpvsService, have: Sequence[IpvsDest], want: Sequence[IpvsDest]) -> list[IpvsOp]:
    wanted = {d.address: d for d in want}
    ops = [IpvsOp("del-dest", service, d) for d in have if d.address not in wanted]
    kept = [d for d in have if d.address in wanted]
    # the longest run of kept destinations already in the wanted order, from the front
    k = 0
    while k < len(kept) and k < len(want) and kept[k].address == want[k].address:
        k += 1
    ops += [IpvsOp("del-dest", service, d) for d in kept[k:]]
    for d_have, d_want in zip(kept[:k], want[:k], strict=True):
        if d_have != d_want:
            ops.append(IpvsOp("set-dest", service, d_want))
    ops += [IpvsOp("add-dest", service, d) for d in want[k:]]
    return ops


def plan(desired: IpvsState, observed: IpvsState) -> list[IpvsOp]:
    """Operations, in order, that make ``observed`` into ``desired``; none when equal.
    Services not desired go first (their VIPs are free again), then each desired one."""
    ops: list[IpvsOp] = []
    wanted = {s.key for s, _ in desired.services}
    for s, _ in observed.services:
        if s.key not in wanted:
            ops.append(IpvsOp("del-service", s))
    for s, want in desired.services:
        have_service = observed.service(s.key)
        if have_service is None:
            ops.append(IpvsOp("add-service", s))
            ops += [IpvsOp("add-dest", s, d) for d in want]
            continue
        if have_service != s:
            ops.append(IpvsOp("set-service", s))
        ops += _dest_ops(s, observed.dests(s.key) or (), want)
    return ops


def apply(state: IpvsState, ops: Sequence[IpvsOp]) -> IpvsState:
    """What the kernel holds after ``ops``, as IPVS keeps its lists (the fake for tests and a
    check of ``plan``: ``apply(observed, plan(desired, observed)) == desired``). Refuses what
    the kernel refuses: a second service or destination with the same key, a missing one."""
    services: dict[tuple[str, int, int], tuple[IpvsService, list[IpvsDest]]] = {
        s.key: (s, list(d)) for s, d in state.services
    }
    order = [s.key for s, _ in state.services]
    for op in ops:
        key = op.service.key
        if op.verb == "add-service":
            if key in services:
                raise ValueError(f"{op}: the service exists (EEXIST)")
            services[key] = (op.service, [])
            order.append(key)
            continue
        if key not in services:
            raise ValueError(f"{op}: no such service (ESRCH)")
        _, dests = services[key]
        if op.verb == "set-service":
            services[key] = (op.service, dests)
        elif op.verb == "del-service":
            del services[key]
            order.remove(key)
        else:
            assert op.dest is not None
            at = next((i for i, d in enumerate(dests) if d.address == op.dest.address), None)
            if op.verb == "add-dest":
                if at is not None:
                    raise ValueError(f"{op}: the destination exists (EEXIST)")
                dests.append(op.dest)
            elif at is None:
                raise ValueError(f"{op}: no such destination (ENOENT)")
            elif op.verb == "set-dest":
                dests[at] = op.dest
            else:
                dests.pop(at)
    return IpvsState(
        tuple(sorted(((services[k][0], tuple(services[k][1])) for k in order), key=lambda x: x[0].key))
    )
