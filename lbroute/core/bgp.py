"""What a gobgpd should hold, in our own words, and how to get it there.

``DaemonConfig`` is a whole desired (or observed) configuration of one gobgpd. ``plan``
compares desired against what the daemon really has and returns the operations that
close the gap, touching only objects lbroute owns (descriptions starting ``lbroute``
and the dynamic neighbors of our peer groups). Equal in, empty plan out: re-applying
is a no-op by construction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

OWNER_TAG = "lbroute"


class Family(enum.Enum):
    IPV4_UNICAST = "ipv4-unicast"
    IPV6_UNICAST = "ipv6-unicast"


@dataclass(frozen=True, order=True)
class AfiSafi:
    family: Family
    add_path_receive: bool = False
    add_path_send_max: int = 0


@dataclass(frozen=True)
class Timers:
    hold_time: int
    keepalive: int


@dataclass(frozen=True)
class GlobalSpec:
    asn: int
    router_id: str
    listen_port: int = 179
    listen_addresses: tuple[str, ...] = ()
    use_multiple_paths: bool = False


@dataclass(frozen=True)
class SessionSpec:
    """Settings shared by an explicit peer and a peer group."""

    peer_asn: int
    description: str
    afi_safis: tuple[AfiSafi, ...]
    timers: Timers
    route_reflector_client: bool = False
    cluster_id: str = ""
    passive: bool = False
    auth_password: str = ""


@dataclass(frozen=True)
class PeerSpec:
    address: str
    session: SessionSpec


@dataclass(frozen=True)
class PeerGroupSpec:
    name: str
    session: SessionSpec


@dataclass(frozen=True, order=True)
class DynamicNeighborSpec:
    prefix: str
    peer_group: str


@dataclass(frozen=True)
class ZebraSpec:
    url: str
    version: int = 6
    software_name: str = "frr8.2"
    route_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonConfig:
    """A whole gobgpd configuration. ``global_`` is None when BGP is not started."""

    global_: GlobalSpec | None
    peer_groups: tuple[PeerGroupSpec, ...] = ()
    dynamic_neighbors: tuple[DynamicNeighborSpec, ...] = ()
    peers: tuple[PeerSpec, ...] = ()
    zebra: ZebraSpec | None = None

    def owned(self) -> DaemonConfig:
        """The part of this configuration that lbroute owns and may change."""
        groups = tuple(g for g in self.peer_groups if is_owned(g.session.description))
        names = {g.name for g in groups}
        return DaemonConfig(
            global_=self.global_,
            peer_groups=tuple(sorted(groups, key=lambda g: g.name)),
            dynamic_neighbors=tuple(sorted(d for d in self.dynamic_neighbors if d.peer_group in names)),
            peers=tuple(
                sorted((p for p in self.peers if is_owned(p.session.description)), key=lambda p: p.address)
            ),
            zebra=self.zebra,
        )


def is_owned(description: str) -> bool:
    return description == OWNER_TAG or description.startswith(OWNER_TAG + ":")


# --- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartBgp:
    spec: GlobalSpec


@dataclass(frozen=True)
class StopBgp:
    reason: str


@dataclass(frozen=True)
class AddPeerGroup:
    spec: PeerGroupSpec


@dataclass(frozen=True)
class UpdatePeerGroup:
    spec: PeerGroupSpec


@dataclass(frozen=True)
class DeletePeerGroup:
    name: str


@dataclass(frozen=True)
class AddDynamicNeighbor:
    spec: DynamicNeighborSpec


@dataclass(frozen=True)
class DeleteDynamicNeighbor:
    spec: DynamicNeighborSpec


@dataclass(frozen=True)
class AddPeer:
    spec: PeerSpec


@dataclass(frozen=True)
class UpdatePeer:
    spec: PeerSpec


@dataclass(frozen=True)
class DeletePeer:
    address: str


@dataclass(frozen=True)
class EnableZebra:
    spec: ZebraSpec


Operation = (
    StartBgp
    | StopBgp
    | AddPeerGroup
    | UpdatePeerGroup
    | DeletePeerGroup
    | AddDynamicNeighbor
    | DeleteDynamicNeighbor
    | AddPeer
    | UpdatePeer
    | DeletePeer
    | EnableZebra
)


@dataclass(frozen=True)
class Plan:
    operations: tuple[Operation, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.operations)

    def describe(self) -> list[str]:
        return [describe(op) for op in self.operations]


def describe(op: Operation) -> str:
    match op:
        case StartBgp(spec):
            return f"start bgp as {spec.asn} router-id {spec.router_id}"
        case StopBgp(reason):
            return f"stop bgp ({reason})"
        case AddPeerGroup(spec) | UpdatePeerGroup(spec):
            verb = "add" if isinstance(op, AddPeerGroup) else "update"
            return f"{verb} peer-group {spec.name}"
        case DeletePeerGroup(name):
            return f"delete peer-group {name}"
        case AddDynamicNeighbor(spec) | DeleteDynamicNeighbor(spec):
            verb = "add" if isinstance(op, AddDynamicNeighbor) else "delete"
            return f"{verb} dynamic-neighbor {spec.prefix} -> {spec.peer_group}"
        case AddPeer(spec) | UpdatePeer(spec):
            verb = "add" if isinstance(op, AddPeer) else "update"
            return f"{verb} peer {spec.address}"
        case DeletePeer(address):
            return f"delete peer {address}"
        case EnableZebra(spec):
            return f"enable zebra {spec.url} version {spec.version}"
    raise AssertionError(f"unknown operation {op!r}")  # pragma: no cover


def plan(desired: DaemonConfig, observed: DaemonConfig) -> Plan:
    """Operations that turn ``observed`` into ``desired`` for everything lbroute owns.

    Order matters to gobgpd: BGP before anything, peer groups before the dynamic
    neighbors and peers that name them, deletions of dependents before their groups.
    """
    want = desired.owned()
    have = observed.owned()
    ops: list[Operation] = []

    if want.global_ is None:
        return Plan()
    if have.global_ != want.global_:
        if have.global_ is not None:
            ops.append(StopBgp(reason="global settings differ"))
        # A (re)started BGP holds nothing: everything below is added afresh.
        have = DaemonConfig(global_=None)
        ops.append(StartBgp(want.global_))
        if want.zebra is not None:
            ops.append(EnableZebra(want.zebra))

    want_groups = {g.name: g for g in want.peer_groups}
    have_groups = {g.name: g for g in have.peer_groups}
    want_dyn = set(want.dynamic_neighbors)
    have_dyn = set(have.dynamic_neighbors)
    want_peers = {p.address: p for p in want.peers}
    have_peers = {p.address: p for p in have.peers}

    ops += [DeleteDynamicNeighbor(d) for d in sorted(have_dyn - want_dyn)]
    ops += [DeletePeer(a) for a in sorted(have_peers.keys() - want_peers.keys())]
    for name in sorted(want_groups):
        if name not in have_groups:
            ops.append(AddPeerGroup(want_groups[name]))
        elif have_groups[name] != want_groups[name]:
            ops.append(UpdatePeerGroup(want_groups[name]))
    ops += [DeletePeerGroup(n) for n in sorted(have_groups.keys() - want_groups.keys())]
    ops += [AddDynamicNeighbor(d) for d in sorted(want_dyn - have_dyn)]
    for address in sorted(want_peers):
        if address not in have_peers:
            ops.append(AddPeer(want_peers[address]))
        elif have_peers[address] != want_peers[address]:
            ops.append(UpdatePeer(want_peers[address]))
    return Plan(tuple(ops))
