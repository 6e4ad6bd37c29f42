"""An in-memory gobgpd that refuses what the real one refuses, for unit tests of the reconciler.

It holds a ``DaemonConfig`` and applies operations to it. Refusals raise ``GobgpRejected``
with status ``UNKNOWN``, as the adapter does for gobgpd 4.8's refusals (checked against the
real daemon: it answers UNKNOWN with a message to a duplicate peer or peer group, a missing
peer, peer group or policy, deleting a policy in the export assignment, a policy naming a
missing set or reusing a statement name, assigning a missing policy, deleting a defined set
a policy names, a neighbor-set entry that is not a CIDR, a prefix set that mixes IPv4 and
IPv6, a peer or a defined set before StartBgp, and, after StopBgp, to everything: "server
stopped", StartBgp included, until the process is restarted (``restart()`` here);
``test_gobgpd_round_trip`` shows it).

What gobgpd 4.8 refuses in the protobuf itself (an enum left at 0, "unspecified": a
WatchEvent filter, a match set's type, a table type) cannot be said in the core's
operations; the adapter sets each of them, and the round trip against the real daemon
proves it.

Stricter than gobgpd 4.8 where gobgpd would leave itself broken, so that a plan that
would do so fails here first:
- deleting a policy that is assigned. gobgpd refuses it only for an *export* assignment
  (its in-use check looks at export twice, ``RoutingPolicy.DeletePolicy``); a policy in
  the *import* assignment it deletes and answers OK, leaving the assignment naming a policy
  that no longer lists (``test_gobgpd_round_trip`` checks both against the real daemon);
- deleting a peer group that has dynamic neighbors (gobgpd does, and panics at the next
  dynamic-neighbor operation), naming an unknown group in a dynamic neighbor (gobgpd
  panics), adding a dynamic neighbor twice or deleting a missing one (gobgpd says OK);
- anything else before StartBgp, StartBgp twice, and a second policy of one name (gobgpd
  takes the last two).

Sessions: ``establish`` brings one up for a configured peer or, like a dynamic neighbor
accepting a connection, for an address inside a group's range; ``receive`` gives it
paths, which the import assignment judges as gobgpd's global RIB would (statements in
order, default accept), so ``list_sessions`` counts accepted and rejected paths like the
adapter does; ``exports`` judges a path about to be sent to a peer by the export
assignment, whose neighbor sets name that destination peer. Each policy judges by the sets
as they were when it was added (gobgpd 4.8 binds them then: a set written again is a new
object that only later policies see; measured in test_rr_export_to_speakers). Counters let tests prove
that a no-op reconcile writes nothing.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field, replace

from lbroute.core import bgp
from lbroute.core.session import Session
from lbroute.gobgp.errors import GobgpRejected


@dataclass
class _Session:
    group: str  # the peer group of a dynamic neighbor's session; "" for a configured peer
    state: str = "ESTABLISHED"
    paths: list[tuple[str, str]] = field(default_factory=list)  # (prefix, next-hop) received
    stale: bool = False
    bfd_down: bool = False


class FakeGobgpd:
    target = "fake://gobgpd"

    def __init__(self, initial: bgp.DaemonConfig | None = None) -> None:
        self.config = initial or bgp.DaemonConfig(global_=None)
        self.writes: Counter[str] = Counter()
        self.rejudged: list[tuple[str, ...]] = []  # every Rejudge applied: its addresses, () for all
        self.resent: list[tuple[str, ...]] = []  # every Resend applied: its addresses, () for all
        self.zebra_enabled: bgp.ZebraSpec | None = None
        self.fail_next: list[Exception] = []
        self.statements: set[str] = {st.name for p in self.config.policies for st in p.statements}
        # gobgpd 4.8 binds a policy's conditions to the set objects there when it is added;
        # a set written again later is a new object, which only policies added after it see
        self.bound: dict[str, dict[tuple[bgp.SetKind, str], bgp.DefinedSetSpec]] = {
            p.name: {(d.kind, d.name): d for d in self.config.defined_sets} for p in self.config.policies
        }
        self.sessions: dict[str, _Session] = {}
        self.stopped = False  # after StopBgp: every call is refused until ``restart()``

    def _refuse(self, message: str) -> GobgpRejected:
        return GobgpRejected(self.target, "UNKNOWN", message)

    def _answer(self) -> None:
        if self.stopped:
            raise self._refuse("server stopped")

    def restart(self) -> None:
        """A new gobgpd process: BGP not started, nothing configured, no session."""
        self.config = bgp.DaemonConfig(global_=None)
        self.zebra_enabled = None
        self.statements = set()
        self.bound = {}
        self.sessions = {}
        self.stopped = False

    # --- sessions -------------------------------------------------------------------------------

    def establish(self, address: str) -> None:
        """A session comes up: a configured peer's, or one a dynamic neighbor's range admits."""
        if any(p.address == address for p in self.config.peers):
            self.sessions[address] = _Session(group="")
            return
        ip = ipaddress.ip_address(address)
        for d in self.config.dynamic_neighbors:  # gobgpd takes the first range that holds it
            if ip in ipaddress.ip_network(d.prefix):
                self.sessions[address] = _Session(group=d.peer_group)
                return
        raise AssertionError(f"gobgpd would refuse {address}: neither a peer nor in a dynamic range")

    def receive(self, address: str, *paths: tuple[str, str]) -> None:
        """The session's peer sends these (prefix, next-hop) paths."""
        self.sessions[address].paths += paths

    def drop_session(self, address: str) -> None:
        """The peer's daemon died (TCP closed, no NOTIFICATION). Its paths stay, as stale, only
        when graceful restart is configured for it (the fake assumes the peer offered it)."""
        peer = next(p for p in self.config.peers if p.address == address)
        session = self.sessions.setdefault(address, _Session(group=""))
        session.state = "IDLE"
        session.stale = peer.session.graceful_restart is not None
        if not session.stale:
            session.paths = []

    def keeps_stale_paths(self, address: str) -> bool:
        self._answer()
        session = self.sessions.get(address)
        return bool(session and session.stale)

    def list_sessions(self, at: str, *, advertised: bool = True) -> list[Session]:
        self._answer()
        out = []
        for address, s in sorted(self.sessions.items()):
            spec = self._session_spec(address, s)
            up = s.state == "ESTABLISHED"
            # gobgpd 4.8 counts a peer's paths only while its session is up; stale ones apart
            accepted = sum(1 for prefix, hop in s.paths if self.imports(address, prefix, hop))
            out.append(
                Session(
                    at=at,
                    neighbor=address,
                    peer_asn=spec.peer_asn,
                    state=s.state,
                    since=None,
                    received=len(s.paths) if up else 0,
                    accepted=accepted if up else 0,
                    advertised=0 if advertised else None,
                    hold_time=spec.timers.hold_time if s.state == "ESTABLISHED" else 0,
                    peer_group=s.group,
                    description=spec.description,
                    stale=len(s.paths) if s.stale else 0,
                    # BFD comes up with the session here; ``bfd_down`` stands for an expiry
                    bfd=("DOWN" if s.bfd_down or not up else "UP") if spec.bfd else "",
                )
            )
        return out

    def _session_spec(self, address: str, s: _Session) -> bgp.SessionSpec:
        if s.group:
            return next(g.session for g in self.config.peer_groups if g.name == s.group)
        return next(p.session for p in self.config.peers if p.address == address)

    def imports(self, source: str, prefix: str, next_hop: str) -> bool:
        """The global import assignment's verdict on a path from ``source``."""
        return self._judge(self.config.import_policies, source, prefix, next_hop)

    def exports(self, destination: str, prefix: str, next_hop: str) -> bool:
        """Whether the global export assignment lets this path be sent to ``destination``: as
        in gobgpd 4.8, a neighbor-set condition there matches the peer the path is sent to,
        not the one it came from (measured: test_rr_export_to_speakers)."""
        self._answer()
        return self._judge(self.config.export_policies, destination, prefix, next_hop)

    def _judge(self, assignment: tuple[str, ...], neighbor: str, prefix: str, next_hop: str) -> bool:
        """An assignment's verdict: statements in order, first accept/reject wins, default accept.
        An empty neighbor set matches every neighbor, as in gobgpd 4.8."""
        policies = {p.name: p for p in self.config.policies}
        for name in assignment:
            sets = self.bound[name]
            for st in policies[name].statements:
                members = sets[(bgp.SetKind.NEIGHBOR, st.neighbor_set)].neighbors if st.neighbor_set else ()
                if members and not _holds(members, neighbor):
                    continue
                if st.prefix_set and not _matches(sets[(bgp.SetKind.PREFIX, st.prefix_set)].prefixes, prefix):
                    continue
                if st.next_hop_in and not _holds(st.next_hop_in, next_hop):
                    continue
                if st.action is not bgp.RouteAction.NONE:
                    return st.action is bgp.RouteAction.ACCEPT
        return True

    # --- the client surface the reconciler uses ---------------------------------------------------

    def observe(self) -> bgp.DaemonConfig:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self._answer()
        return self.config

    def apply(self, op: bgp.Operation) -> None:
        self.writes[type(op).__name__] += 1
        self._answer()
        c = self.config
        if not isinstance(op, bgp.StartBgp) and c.global_ is None:
            raise self._refuse(f"{type(op).__name__} before StartBgp: bgp server hasn't started yet")
        match op:
            case bgp.StartBgp(spec):
                if c.global_ is not None:
                    raise self._refuse("bgp already started")
                self.config = bgp.DaemonConfig(global_=spec)
            case bgp.StopBgp():
                self.sessions = {}
                self.stopped = True
            case bgp.EnableZebra(spec):
                if self.zebra_enabled is not None:
                    raise self._refuse("already connected to zebra")
                self.zebra_enabled = spec
            case bgp.AddPeerGroup(spec):
                if any(g.name == spec.name for g in c.peer_groups):
                    raise self._refuse(f"can't overwrite the existing peer-group: {spec.name}")
                self.config = replace(c, peer_groups=(*c.peer_groups, spec))
            case bgp.UpdatePeerGroup(spec):
                self._need_group(spec.name)
                groups = tuple(spec if g.name == spec.name else g for g in c.peer_groups)
                self.config = replace(c, peer_groups=groups)
            case bgp.DeletePeerGroup(name):
                self._need_group(name)
                if any(d.peer_group == name for d in c.dynamic_neighbors):
                    raise self._refuse(f"peer group {name} still has dynamic neighbors")
                self.sessions = {a: s for a, s in self.sessions.items() if s.group != name}
                self.config = replace(c, peer_groups=tuple(g for g in c.peer_groups if g.name != name))
            case bgp.AddDynamicNeighbor(spec):
                self._need_group(spec.peer_group)
                if spec in c.dynamic_neighbors:
                    raise self._refuse(f"dynamic neighbor {spec.prefix} exists")
                self.config = replace(c, dynamic_neighbors=(*c.dynamic_neighbors, spec))
            case bgp.DeleteDynamicNeighbor(spec):
                if spec not in c.dynamic_neighbors:
                    raise self._refuse(f"no dynamic neighbor {spec.prefix}")
                self.config = replace(c, dynamic_neighbors=tuple(d for d in c.dynamic_neighbors if d != spec))
            case bgp.AddPeer(spec):
                if any(p.address == spec.address for p in c.peers):
                    raise self._refuse(f"can't overwrite the existing peer: {spec.address}")
                self.config = replace(c, peers=(*c.peers, spec))
            case bgp.UpdatePeer(spec):
                if not any(p.address == spec.address for p in c.peers):
                    raise self._refuse(f"can't delete a peer configuration for {spec.address}")
                self.sessions.pop(spec.address, None)  # the adapter replaces the peer: a new session
                self.config = replace(
                    c, peers=tuple(spec if p.address == spec.address else p for p in c.peers)
                )
            case bgp.DeletePeer(address):
                if not any(p.address == address for p in c.peers):
                    raise self._refuse(f"can't delete a peer configuration for {address}")
                self.sessions.pop(address, None)  # its paths leave with it, stale or not
                self.config = replace(c, peers=tuple(p for p in c.peers if p.address != address))

            case bgp.SetDefinedSet(spec):
                for entry in spec.neighbors:
                    if "/" not in entry:
                        raise self._refuse(f"invalid address or prefix: {entry}")
                if len({ipaddress.ip_network(p.prefix).version for p in spec.prefixes}) > 1:
                    raise self._refuse("multiple families")
                others = tuple(d for d in c.defined_sets if (d.kind, d.name) != (spec.kind, spec.name))
                self.config = replace(c, defined_sets=(*others, spec))
            case bgp.DeleteDefinedSet(kind, name):
                if not any((d.kind, d.name) == (kind, name) for d in c.defined_sets):
                    raise self._refuse(f"not found defined-set: {name}")
                if any(name in (st.neighbor_set, st.prefix_set) for p in c.policies for st in p.statements):
                    raise self._refuse(f"can't delete. defined-set {name} is in use")
                self.config = replace(
                    c, defined_sets=tuple(d for d in c.defined_sets if (d.kind, d.name) != (kind, name))
                )
            case bgp.AddPolicy(spec):
                if any(p.name == spec.name for p in c.policies):
                    raise self._refuse(f"policy {spec.name} exists")
                sets = {(d.kind, d.name) for d in c.defined_sets}
                for st in spec.statements:
                    if st.name in self.statements:
                        raise self._refuse(f"statement {st.name} already defined")
                    if st.neighbor_set and (bgp.SetKind.NEIGHBOR, st.neighbor_set) not in sets:
                        raise self._refuse(f"not found neighbor set {st.neighbor_set}")
                    if st.prefix_set and (bgp.SetKind.PREFIX, st.prefix_set) not in sets:
                        raise self._refuse(f"not found prefix set {st.prefix_set}")
                self.statements |= {st.name for st in spec.statements}
                self.bound[spec.name] = {(d.kind, d.name): d for d in c.defined_sets}
                self.config = replace(c, policies=(*c.policies, spec))
            case bgp.DeletePolicy(name):
                gone = [p for p in c.policies if p.name == name]
                if not gone:
                    raise self._refuse(f"not found policy: {name}")
                if name in c.import_policies or name in c.export_policies:
                    raise self._refuse(f"can't delete. policy {name} is in use")
                self.statements -= {st.name for st in gone[0].statements}
                self.config = replace(c, policies=tuple(p for p in c.policies if p.name != name))
            case bgp.SetImportPolicies(names):
                missing = sorted(set(names) - {p.name for p in c.policies})
                if missing:
                    raise self._refuse(f"not found policy {missing[0]}")
                self.config = replace(c, import_policies=names)
            case bgp.SetExportPolicies(names):
                missing = sorted(set(names) - {p.name for p in c.policies})
                if missing:
                    raise self._refuse(f"not found policy {missing[0]}")
                self.config = replace(c, export_policies=names)
            case bgp.Resend(addresses):
                for address in addresses:
                    if not any(p.address == address for p in c.peers):
                        raise self._refuse(f"neighbor that has {address} doesn't exist")
                self.resent.append(addresses)
            case bgp.Rejudge(addresses):
                # gobgpd: "all" is every peer; an address it has no neighbor for is refused
                for address in addresses:
                    if not any(p.address == address for p in c.peers):
                        raise self._refuse(f"neighbor that has {address} doesn't exist")
                self.rejudged.append(addresses)

    def _need_group(self, name: str) -> None:
        if not any(g.name == name for g in self.config.peer_groups):
            raise self._refuse(f"peer-group {name} doesn't exist")


def _holds(networks: tuple[str, ...], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in map(ipaddress.ip_network, networks))


def _matches(entries: tuple[bgp.PrefixMatch, ...], prefix: str) -> bool:
    net = ipaddress.ip_network(prefix)
    for entry in entries:
        pool = ipaddress.ip_network(entry.prefix)
        if (
            net.version == pool.version
            and net.subnet_of(pool)  # type: ignore[arg-type]
            and entry.min_length <= net.prefixlen <= entry.max_length
        ):
            return True
    return False
