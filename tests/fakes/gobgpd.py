"""An in-memory gobgpd that enforces the rules the real one does, for unit tests of the reconciler.

It holds a ``DaemonConfig`` and applies operations to it, refusing what gobgpd refuses:
anything before StartBgp, a second peer group or peer of the same name, a dynamic
neighbor naming an unknown group, deleting what is not there, a policy naming a set that
does not exist or a statement name another policy already uses, assigning a policy that
does not exist. Stricter
than gobgpd in one place: it refuses to delete a defined set that a policy still names, so
a plan that would leave a dangling reference fails here first.
Counters let tests prove that a no-op reconcile writes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from lbroute.core import bgp


class FakeGobgpdError(Exception):
    pass


class FakeGobgpd:
    target = "fake://gobgpd"

    def __init__(self, initial: bgp.DaemonConfig | None = None) -> None:
        self.config = initial or bgp.DaemonConfig(global_=None)
        self.writes: Counter[str] = Counter()
        self.zebra_enabled: bgp.ZebraSpec | None = None
        self.fail_next: list[Exception] = []
        self.statements: set[str] = {st.name for p in self.config.policies for st in p.statements}
        # peers whose session dropped with graceful restart: gobgpd keeps their paths stale
        self.stale: set[str] = set()

    def peer_counters(self) -> list[bgp.PeerCounters]:
        return []

    def drop_session(self, address: str) -> None:
        """The peer's daemon died (TCP closed, no NOTIFICATION). Its paths stay, as stale, only
        when graceful restart is configured for it (the fake assumes the peer offered it)."""
        peer = next(p for p in self.config.peers if p.address == address)
        if peer.session.graceful_restart is not None:
            self.stale.add(address)

    def keeps_stale_paths(self, address: str) -> bool:
        return address in self.stale

    # the client surface the reconciler uses
    def observe(self) -> bgp.DaemonConfig:
        if self.fail_next:
            raise self.fail_next.pop(0)
        return self.config

    def apply(self, op: bgp.Operation) -> None:
        self.writes[type(op).__name__] += 1
        c = self.config
        if not isinstance(op, bgp.StartBgp) and c.global_ is None:
            raise FakeGobgpdError(f"{type(op).__name__} before StartBgp")
        match op:
            case bgp.StartBgp(spec):
                if c.global_ is not None:
                    raise FakeGobgpdError("bgp already started")
                self.config = bgp.DaemonConfig(global_=spec)
            case bgp.StopBgp():
                self.stale = set()
                self.config = bgp.DaemonConfig(global_=None)
                self.zebra_enabled = None
                self.statements = set()
            case bgp.EnableZebra(spec):
                if self.zebra_enabled is not None:
                    raise FakeGobgpdError("already connected to zebra")
                self.zebra_enabled = spec
            case bgp.AddPeerGroup(spec):
                if any(g.name == spec.name for g in c.peer_groups):
                    raise FakeGobgpdError(f"peer group {spec.name} exists")
                self.config = replace(c, peer_groups=(*c.peer_groups, spec))
            case bgp.UpdatePeerGroup(spec):
                self._need_group(spec.name)
                groups = tuple(spec if g.name == spec.name else g for g in c.peer_groups)
                self.config = replace(c, peer_groups=groups)
            case bgp.DeletePeerGroup(name):
                self._need_group(name)
                if any(d.peer_group == name for d in c.dynamic_neighbors):
                    raise FakeGobgpdError(f"peer group {name} still has dynamic neighbors")
                self.config = replace(c, peer_groups=tuple(g for g in c.peer_groups if g.name != name))
            case bgp.AddDynamicNeighbor(spec):
                self._need_group(spec.peer_group)
                if spec in c.dynamic_neighbors:
                    raise FakeGobgpdError(f"dynamic neighbor {spec.prefix} exists")
                self.config = replace(c, dynamic_neighbors=(*c.dynamic_neighbors, spec))
            case bgp.DeleteDynamicNeighbor(spec):
                if spec not in c.dynamic_neighbors:
                    raise FakeGobgpdError(f"no dynamic neighbor {spec.prefix}")
                self.config = replace(c, dynamic_neighbors=tuple(d for d in c.dynamic_neighbors if d != spec))
            case bgp.AddPeer(spec):
                if any(p.address == spec.address for p in c.peers):
                    raise FakeGobgpdError(f"peer {spec.address} exists")
                self.config = replace(c, peers=(*c.peers, spec))
            case bgp.UpdatePeer(spec):
                if not any(p.address == spec.address for p in c.peers):
                    raise FakeGobgpdError(f"no peer {spec.address}")
                self.config = replace(
                    c, peers=tuple(spec if p.address == spec.address else p for p in c.peers)
                )
            case bgp.DeletePeer(address):
                if not any(p.address == address for p in c.peers):
                    raise FakeGobgpdError(f"no peer {address}")
                self.stale.discard(address)  # its paths leave with it, stale or not
                self.config = replace(c, peers=tuple(p for p in c.peers if p.address != address))

            case bgp.SetDefinedSet(spec):
                others = tuple(d for d in c.defined_sets if (d.kind, d.name) != (spec.kind, spec.name))
                self.config = replace(c, defined_sets=(*others, spec))
            case bgp.DeleteDefinedSet(kind, name):
                if not any((d.kind, d.name) == (kind, name) for d in c.defined_sets):
                    raise FakeGobgpdError(f"no {kind.value} set {name}")
                if any(name in (st.neighbor_set, st.prefix_set) for p in c.policies for st in p.statements):
                    raise FakeGobgpdError(f"{kind.value} set {name} is in use")
                self.config = replace(
                    c, defined_sets=tuple(d for d in c.defined_sets if (d.kind, d.name) != (kind, name))
                )
            case bgp.AddPolicy(spec):
                if any(p.name == spec.name for p in c.policies):
                    raise FakeGobgpdError(f"policy {spec.name} exists")
                sets = {(d.kind, d.name) for d in c.defined_sets}
                for st in spec.statements:
                    if st.name in self.statements:
                        raise FakeGobgpdError(f"statement {st.name} already defined")
                    if st.neighbor_set and (bgp.SetKind.NEIGHBOR, st.neighbor_set) not in sets:
                        raise FakeGobgpdError(f"no neighbor set {st.neighbor_set}")
                    if st.prefix_set and (bgp.SetKind.PREFIX, st.prefix_set) not in sets:
                        raise FakeGobgpdError(f"no prefix set {st.prefix_set}")
                self.statements |= {st.name for st in spec.statements}
                self.config = replace(c, policies=(*c.policies, spec))
            case bgp.DeletePolicy(name):
                gone = [p for p in c.policies if p.name == name]
                if not gone:
                    raise FakeGobgpdError(f"no policy {name}")
                self.statements -= {st.name for st in gone[0].statements}
                self.config = replace(
                    c,
                    policies=tuple(p for p in c.policies if p.name != name),
                    import_policies=tuple(n for n in c.import_policies if n != name),
                )
            case bgp.SetImportPolicies(names):
                missing = set(names) - {p.name for p in c.policies}
                if missing:
                    raise FakeGobgpdError(f"no policy {sorted(missing)}")
                self.config = replace(c, import_policies=names)

    def _need_group(self, name: str) -> None:
        if not any(g.name == name for g in self.config.peer_groups):
            raise FakeGobgpdError(f"no peer group {name}")
