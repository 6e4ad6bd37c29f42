"""What a gobgpd should hold, in our own words, and how to get it there.

``DaemonConfig`` is a whole desired (or observed) configuration of one gobgpd. ``plan``
compares desired against what the daemon really has and returns the operations that
close the gap, touching only objects lbroute owns (descriptions starting ``lbroute``
and the dynamic neighbors of our peer groups). Equal in, empty plan out: re-applying
is a no-op by construction.

BGP's global settings are the one thing a plan never changes on a running daemon: it
refuses instead (``Plan.refused``), because gobgpd 4.8 cannot stop BGP and start it again.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from dataclasses import dataclass, field

from .rib import prefix_order

OWNER_TAG = "lbroute"


class Family(enum.Enum):
    IPV4_UNICAST = "ipv4-unicast"
    IPV6_UNICAST = "ipv6-unicast"

    def __lt__(self, other: Family) -> bool:
        # AfiSafi tuples are kept sorted so that desired and observed compare equal
        return self.value < other.value


@dataclass(frozen=True, order=True)
class AfiSafi:
    family: Family
    add_path_receive: bool = False
    add_path_send_max: int = 0
    # gobgpd ends the session (Cease) when a peer sends more; 0 means no limit
    max_prefixes: int = 0


@dataclass(frozen=True)
class Timers:
    hold_time: int
    keepalive: int
    # gobgpd's defaults are 120 s and 30 s: after a peer's daemon restarts, our side would
    # refuse its connections (IDLE) for half a minute. Always set, so observed equals desired.
    connect_retry: int = 1
    idle_hold_after_reset: int = 1


@dataclass(frozen=True)
class GlobalSpec:
    asn: int
    router_id: str
    listen_port: int = 179
    listen_addresses: tuple[str, ...] = ()
    use_multiple_paths: bool = False


@dataclass(frozen=True)
class GracefulRestart:
    """BGP graceful restart (RFC 4724) on a session.

    ``helper_only``: keep the other side's paths (as stale) while its daemon restarts, but
    promise nothing about our own (no address families in our capability). Otherwise we
    also ask the other side to keep ours for ``restart_time`` seconds after our session
    drops without a NOTIFICATION, i.e. when this gobgpd dies.
    """

    restart_time: int
    helper_only: bool = False


@dataclass(frozen=True)
class Bfd:
    """BFD (RFC 5880) on a session: when it stops hearing the other side for ``multiplier``
    times the negotiated interval, gobgpd resets the BGP session at once (no graceful restart).

    Intervals in microseconds, as gobgpd holds them. ``port`` is where gobgpd sends its packets:
    3784 for single-hop BFD (RFC 5881: another gobgpd on the same link), 4784 for multihop
    (RFC 5883: FRR's bfdd in an LB pod behind its node). gobgpd itself listens on 3784 only.
    """

    tx_interval_us: int = 300_000
    rx_interval_us: int = 300_000
    multiplier: int = 3
    port: int = 3784


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
    # a secret: never in a repr, so never in a log line, a traceback or an error message
    auth_password: str = field(default="", repr=False)
    graceful_restart: GracefulRestart | None = None
    bfd: Bfd | None = None


@dataclass(frozen=True)
class PeerSpec:
    address: str
    session: SessionSpec
    # held down: gobgpd refuses its connections (a damped speaker, lbroute.core.damping)
    admin_down: bool = False


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


class SetKind(enum.Enum):
    PREFIX = "prefix"
    NEIGHBOR = "neighbor"


@dataclass(frozen=True, order=True)
class PrefixMatch:
    """A prefix inside ``prefix`` whose length is between ``min_length`` and ``max_length``."""

    prefix: str
    min_length: int
    max_length: int


@dataclass(frozen=True)
class DefinedSetSpec:
    """A named prefix set or neighbor set (addresses or CIDRs of peers) that policies refer to.

    Its entries are kept in one order, whoever builds it (by IP version, then address, as
    the rr's desired sets are; gobgpd's read-back would sort 172.16.1.10 before 172.16.1.2):
    the same set is equal however it was read, so a resync rewrites nothing."""

    kind: SetKind
    name: str
    prefixes: tuple[PrefixMatch, ...] = ()
    neighbors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixes", tuple(sorted(self.prefixes)))
        object.__setattr__(self, "neighbors", tuple(sorted(self.neighbors, key=prefix_order)))


class RouteAction(enum.Enum):
    NONE = "none"  # go on to the next statement
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True)
class SetAttributes:
    """What an accepting statement writes into the path before it enters the RIB: the
    attributes best-path selection compares, set alike for every path it accepts.

    ``local_pref`` 0 and ``med`` None leave the attribute as it came; ``remove_communities``
    are regular expressions over "ASN:VALUE" (gobgpd's REMOVE).
    """

    local_pref: int = 0
    med: int | None = None
    origin_igp: bool = False
    remove_communities: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatementSpec:
    """If every given condition holds, ``action``. Empty conditions are not checked.

    ``next_hop_in``: networks the path's next-hop lies in; ``as_path_length``: the AS path
    holds exactly this many ASes.
    """

    name: str
    action: RouteAction
    neighbor_set: str = ""
    prefix_set: str = ""
    next_hop_in: tuple[str, ...] = ()
    as_path_length: int | None = None
    set_attributes: SetAttributes | None = None


@dataclass(frozen=True)
class PolicySpec:
    name: str
    statements: tuple[StatementSpec, ...]


@dataclass(frozen=True)
class DaemonConfig:
    """A whole gobgpd configuration. ``global_`` is None when BGP is not started.

    ``import_policies`` is the global RIB's import assignment, in order, with the
    default action accept: what no statement rejects is accepted. ``export_policies`` is
    its export assignment, the same way: gobgpd 4.x judges every path it is about to send
    to a peer by it (outside route-server mode there is no per-peer assignment), and a
    neighbor-set condition there names the peer the path is sent to (measured:
    docs/decisions/rr-export-nothing-to-speakers.md).
    """

    global_: GlobalSpec | None
    peer_groups: tuple[PeerGroupSpec, ...] = ()
    dynamic_neighbors: tuple[DynamicNeighborSpec, ...] = ()
    peers: tuple[PeerSpec, ...] = ()
    zebra: ZebraSpec | None = None
    defined_sets: tuple[DefinedSetSpec, ...] = ()
    policies: tuple[PolicySpec, ...] = ()
    import_policies: tuple[str, ...] = ()
    export_policies: tuple[str, ...] = ()

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
            defined_sets=tuple(
                sorted(
                    (d for d in self.defined_sets if is_owned_name(d.name)),
                    key=lambda d: (d.kind.value, d.name),
                )
            ),
            policies=tuple(sorted((p for p in self.policies if is_owned_name(p.name)), key=lambda p: p.name)),
            import_policies=tuple(n for n in self.import_policies if is_owned_name(n)),
            export_policies=tuple(n for n in self.export_policies if is_owned_name(n)),
        )


def is_owned(description: str) -> bool:
    return description == OWNER_TAG or description.startswith(OWNER_TAG + ":")


def is_owned_name(name: str) -> bool:
    """Defined sets, policies and statements carry no description: ours are named ``lbroute-...``."""
    return name.startswith(OWNER_TAG + "-")


# --- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartBgp:
    spec: GlobalSpec


@dataclass(frozen=True)
class StopBgp:
    """Final in gobgpd 4.8: every later call, StartBgp too, answers "server stopped" until the
    process is restarted. ``plan`` never asks for it (see ``GlobalDiffers``)."""

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
    """``restarting``: this gobgpd has just been (re)started and keeps no state, so its OPEN
    to a graceful-restart peer says so (R and F bits): the peer keeps our old paths until
    our End-of-RIB instead of dropping them when the session comes back."""

    spec: PeerSpec
    restarting: bool = False


@dataclass(frozen=True)
class UpdatePeer:
    spec: PeerSpec


@dataclass(frozen=True)
class DeletePeer:
    address: str


@dataclass(frozen=True)
class EnableZebra:
    spec: ZebraSpec


@dataclass(frozen=True)
class SetDefinedSet:
    """Create the set, or replace its whole contents."""

    spec: DefinedSetSpec


@dataclass(frozen=True)
class DeleteDefinedSet:
    kind: SetKind
    name: str


@dataclass(frozen=True)
class AddPolicy:
    spec: PolicySpec


@dataclass(frozen=True)
class DeletePolicy:
    """Deletes the policy and its statements (gobgpd: ``DeletePolicy`` with ``all``)."""

    name: str


@dataclass(frozen=True)
class SetImportPolicies:
    """The global RIB's whole import assignment (ours and anyone else's), default accept."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class SetExportPolicies:
    """The global RIB's whole export assignment (ours and anyone else's), default accept."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Resend:
    """gobgpd sends these peers again what the export policy now in place lets through (a
    soft reset out; ``()``: every peer), withdrawing what it now rejects. gobgpd 4.8 does
    not do so when the export assignment changes: a speaker would keep routes it was sent
    before the policy that keeps them from it."""

    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejudge:
    """gobgpd judges again, by the import policy now in place, the paths these peers sent
    (a soft reset in: it keeps every peer's adj-RIB-in, so no route refresh is asked for);
    ``()``: every peer. A path the policy now rejects leaves the RIB, one it now accepts
    enters: a changed guard rail applies to routes already received, not only to new ones."""

    addresses: tuple[str, ...] = ()


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
    | SetDefinedSet
    | DeleteDefinedSet
    | AddPolicy
    | DeletePolicy
    | SetImportPolicies
    | SetExportPolicies
    | Resend
    | Rejudge
)


@dataclass(frozen=True)
class GlobalDiffers:
    """gobgpd runs BGP with other global settings (ASN, router-id, listen address or port,
    multipath) than desired.

    They are given once, at StartBgp, and gobgpd 4.8 cannot take new ones while it runs: its
    StopBgp is final (every later call answers "server stopped"). Only a new gobgpd process
    can, so the plan applies nothing at all: the rest of the desired configuration was
    made for the new settings (an ASN is every iBGP peer's too), and half of it would be worse
    than none. See docs/decisions/rr-global-settings-need-a-restart.md.
    """

    observed: GlobalSpec
    desired: GlobalSpec

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the settings that differ, in ``GlobalSpec``'s order."""
        return tuple(
            f.name
            for f in dataclasses.fields(GlobalSpec)
            if getattr(self.observed, f.name) != getattr(self.desired, f.name)
        )

    def describe(self) -> str:
        changes = ", ".join(
            f"{name} {_shown(getattr(self.observed, name))} -> {_shown(getattr(self.desired, name))}"
            for name in self.fields
        )
        return f"gobgpd runs BGP with other global settings ({changes}); restart gobgpd to apply them"


def _shown(value: object, limit: int = 60) -> str:
    if isinstance(value, tuple):
        text = "[" + ", ".join(map(str, value)) + "]"
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True)
class Plan:
    """The operations to apply in order, or (``refused``) why none can be."""

    operations: tuple[Operation, ...] = field(default=())
    refused: GlobalDiffers | None = None

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
        case AddPeer(spec, restarting):
            return (
                f"add peer {spec.address}"
                + (" (restarting)" if restarting else "")
                + (" (held down)" if spec.admin_down else "")
            )
        case UpdatePeer(spec):
            return f"update peer {spec.address}"
        case DeletePeer(address):
            return f"delete peer {address}"
        case EnableZebra(spec):
            return f"enable zebra {spec.url} version {spec.version}"
        case SetDefinedSet(spec):
            size = len(spec.prefixes) + len(spec.neighbors)
            return f"set {spec.kind.value}-set {spec.name} ({size} entries)"
        case DeleteDefinedSet(kind, name):
            return f"delete {kind.value}-set {name}"
        case AddPolicy(spec):
            return f"add policy {spec.name} ({len(spec.statements)} statements)"
        case DeletePolicy(name):
            return f"delete policy {name}"
        case SetImportPolicies(names):
            return f"set global import policies [{', '.join(names)}] default accept"
        case SetExportPolicies(names):
            return f"set global export policies [{', '.join(names)}] default accept"
        case Resend(addresses):
            who = ", ".join(addresses) if addresses else "every peer"
            return f"send {who} again what the export policy lets through (soft reset out)"
        case Rejudge(addresses):
            who = ", ".join(addresses) if addresses else "every peer"
            return f"judge again what {who} sent, by the import policy (soft reset in)"
    raise AssertionError(f"unknown operation {op!r}")  # pragma: no cover


def plan(desired: DaemonConfig, observed: DaemonConfig) -> Plan:
    """Operations that turn ``observed`` into ``desired`` for everything lbroute owns.

    Order matters to gobgpd and to the guard rails: BGP before anything; peers and
    dynamic neighbors that go are deleted first (their routes leave with them); then new
    peers that no neighbor set names (the upstream router, the RRs), so a restarted
    gobgpd accepts their connections almost as soon as it listens; then the defined
    sets, policies and the import and export assignments, so a speaker's routes are
    guarded, and nothing is sent to it, before its session exists; then peer groups
    before the dynamic neighbors and peers that name them. A policy in use cannot be
    deleted, a set in use neither.

    An export assignment that now rejects for more peers ends in ``Resend()`` on a running
    daemon: gobgpd judges by it only what it sends from then on. A plan that starts BGP
    adds graceful-restart peers as ``restarting``. BGP that runs with other global
    settings is never stopped and started: the plan is ``refused`` and empty.
    """
    want = desired.owned()
    have = observed.owned()
    foreign = _Foreign(
        imports=tuple(n for n in observed.import_policies if not is_owned_name(n)),
        exports=tuple(n for n in observed.export_policies if not is_owned_name(n)),
    )
    ops: list[Operation] = []

    if want.global_ is None:
        return Plan()
    if have.global_ is not None and have.global_ != want.global_:
        return Plan(refused=GlobalDiffers(observed=have.global_, desired=want.global_))
    started = have.global_ is None
    if started:
        # A started BGP holds nothing: everything below is added afresh.
        have = DaemonConfig(global_=None)
        foreign = _Foreign()
        ops.append(StartBgp(want.global_))
        if want.zebra is not None:
            ops.append(EnableZebra(want.zebra))

    want_groups = {g.name: g for g in want.peer_groups}
    have_groups = {g.name: g for g in have.peer_groups}
    want_dyn = set(want.dynamic_neighbors)
    have_dyn = set(have.dynamic_neighbors)
    want_peers = {p.address: p for p in want.peers}
    have_peers = {p.address: p for p in have.peers}

    def add(spec: PeerSpec) -> AddPeer:
        gr = spec.session.graceful_restart
        return AddPeer(spec, restarting=started and gr is not None and not gr.helper_only)

    new_peers = sorted(want_peers.keys() - have_peers.keys())
    guarded = _guarded_networks(want)
    unguarded = [a for a in new_peers if not _is_guarded(a, guarded)]

    ops += [DeleteDynamicNeighbor(d) for d in sorted(have_dyn - want_dyn)]
    ops += [DeletePeer(a) for a in sorted(have_peers.keys() - want_peers.keys())]
    ops += [add(want_peers[a]) for a in unguarded]
    ops += _plan_policies(want, have, foreign)
    for name in sorted(want_groups):
        if name not in have_groups:
            ops.append(AddPeerGroup(want_groups[name]))
        elif have_groups[name] != want_groups[name]:
            ops.append(UpdatePeerGroup(want_groups[name]))
    ops += [DeletePeerGroup(n) for n in sorted(have_groups.keys() - want_groups.keys())]
    ops += [AddDynamicNeighbor(d) for d in sorted(want_dyn - have_dyn)]
    for address in sorted(want_peers):
        if address not in have_peers:
            if address not in unguarded:
                ops.append(add(want_peers[address]))
        elif have_peers[address] != want_peers[address]:
            ops.append(UpdatePeer(want_peers[address]))
    if not started:
        ops += _rejudge(ops, want, have)
        if any(isinstance(op, SetExportPolicies) for op in ops) and _exported_to_fewer(want, have):
            ops.append(Resend())
    return Plan(tuple(ops))


def _rejudge(ops: list[Operation], want: DaemonConfig, have: DaemonConfig) -> list[Operation]:
    """A changed import policy or set judges only what arrives from now on: ask gobgpd to
    judge again what was received. Only the peers a neighbor set gained or lost when nothing
    else changed (a pod placed on a node: cheap at any scale), every peer otherwise.

    A guard policy swapped for the same rules over rewritten sets (``_rebound``: what a pod
    coming or going on a node that keeps others is, since gobgpd 4.8 binds sets to a policy
    when it is added) is such a neighbor-set change, not a changed policy."""
    changed_sets = [op.spec for op in ops if isinstance(op, SetDefinedSet)]
    # the export policy judges each path as it is sent, and at a soft reset out: never the RIB
    imported = set(want.import_policies) | set(have.import_policies)
    policy_ops = any(
        isinstance(op, SetImportPolicies)
        or (isinstance(op, AddPolicy) and op.spec.name in imported)
        or (isinstance(op, DeletePolicy) and op.name in imported)
        for op in ops
    )
    whole = any(isinstance(op, DeleteDefinedSet) for op in ops) or (policy_ops and not _rebound(want, have))
    if not whole and not changed_sets:
        return []
    if whole or any(d.kind is not SetKind.NEIGHBOR for d in changed_sets):
        return [Rejudge()]
    before = {(d.kind, d.name): set(d.neighbors) for d in have.defined_sets}
    moved: set[str] = set()
    for d in changed_sets:
        moved |= set(d.neighbors) ^ before.get((d.kind, d.name), set())
    nets = [ipaddress.ip_network(n, strict=False) for n in moved]
    if any(n.prefixlen != n.max_prefixlen for n in nets):
        return [Rejudge()]  # a range of speakers moved: whoever is in it
    # peers that stay: a new peer has sent nothing yet, a deleted one is gone
    staying = {p.address for p in want.peers} & {p.address for p in have.peers}
    addresses = tuple(sorted(a for a in (str(n.network_address) for n in nets) if a in staying))
    return [Rejudge(addresses)] if addresses else []


def _rebound(want: DaemonConfig, have: DaemonConfig) -> bool:
    """Whether the import assignment changes only by policies that keep their rules over
    rewritten sets: one for one, in order, names that differ in their last ``-`` part alone
    (``rr.desired`` ends a guard policy's name with a digest of its sets' members) and the
    same statements once each policy's own name is taken out of theirs. A policy of another
    name form (the one digest of an older lbroute) is a changed policy: every peer is judged
    again, which also undoes what a policy bound to stale sets let in."""

    def assigned(config: DaemonConfig) -> list[PolicySpec | None]:
        policies = {p.name: p for p in config.policies}
        return [policies.get(n) for n in config.import_policies]

    def rules(p: PolicySpec) -> tuple[str, tuple[StatementSpec, ...]]:
        base = p.name.rpartition("-")[0]
        return base, tuple(dataclasses.replace(st, name=st.name.removeprefix(p.name)) for st in p.statements)

    old, new = assigned(have), assigned(want)
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if a is None or b is None or not rules(a)[0] or rules(a) != rules(b):
            return False
    return True


def _exported_to_fewer(want: DaemonConfig, have: DaemonConfig) -> bool:
    """Whether the new export assignment rejects for a neighbor set the old one did not: its
    peers may hold routes sent before, which only a soft reset out withdraws. One that only
    rejects for fewer sets needs none (those peers go, their group gone with them), and a
    soft reset out costs the router the whole RIB sent again."""

    def rejecting(config: DaemonConfig) -> set[str]:
        policies = {p.name: p for p in config.policies}
        return {
            st.neighbor_set
            for name in config.export_policies
            if name in policies
            for st in policies[name].statements
            if st.action is RouteAction.REJECT and st.neighbor_set
        }

    return bool(rejecting(want) - rejecting(have))


def _guarded_networks(config: DaemonConfig) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every address or CIDR a neighbor set names: peers there have import policy to wait for."""
    return [
        ipaddress.ip_network(n, strict=False)
        for d in config.defined_sets
        if d.kind is SetKind.NEIGHBOR
        for n in d.neighbors
    ]


def _is_guarded(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in networks)


@dataclass(frozen=True)
class _Foreign:
    """Someone else's policies in the global assignments: kept, in front of ours."""

    imports: tuple[str, ...] = ()
    exports: tuple[str, ...] = ()


def _plan_policies(want: DaemonConfig, have: DaemonConfig, foreign: _Foreign) -> list[Operation]:
    """Make before break: a new policy is added beside the old one and the whole import (or
    export) assignment swapped to it in one call, so no route ever meets an assignment
    without its guard (gobgpd's default is accept). Our policies are named after their
    content (``rr.desired``), so a change is a new name; only a policy changed under the
    same name must leave the assignments before it is deleted and added again."""
    ops: list[Operation] = []
    want_pol = {p.name: p for p in want.policies}
    have_pol = {p.name: p for p in have.policies}
    want_sets = {(d.kind, d.name): d for d in want.defined_sets}
    have_sets = {(d.kind, d.name): d for d in have.defined_sets}
    assigned = foreign.imports + have.import_policies
    exported = foreign.exports + have.export_policies
    # gobgpd deletes only what is not assigned, and cannot hold two policies of one name
    in_place = {n for n in have_pol if n in want_pol and have_pol[n] != want_pol[n]}
    if in_place:
        kept = tuple(n for n in assigned if n not in in_place)
        if kept != assigned:
            ops.append(SetImportPolicies(kept))
            assigned = kept
        kept = tuple(n for n in exported if n not in in_place)
        if kept != exported:
            ops.append(SetExportPolicies(kept))
            exported = kept
        ops += [DeletePolicy(n) for n in sorted(in_place)]
    ops += [
        SetDefinedSet(want_sets[k])
        for k in sorted(want_sets, key=_set_key)
        if want_sets[k] != have_sets.get(k)
    ]
    ops += [AddPolicy(want_pol[n]) for n in sorted(want_pol) if n not in have_pol or n in in_place]
    target = foreign.imports + want.import_policies
    if target != assigned:
        ops.append(SetImportPolicies(target))
    target = foreign.exports + want.export_policies
    if target != exported:
        ops.append(SetExportPolicies(target))
    ops += [DeletePolicy(n) for n in sorted(have_pol.keys() - want_pol.keys())]
    ops += [DeleteDefinedSet(*k) for k in sorted(have_sets.keys() - want_sets.keys(), key=_set_key)]
    return ops


def _set_key(key: tuple[SetKind, str]) -> tuple[str, str]:
    return (key[0].value, key[1])
