"""A thin gobgpd client that speaks the core's types.

Reads (``observe``, ``list_paths``, ``list_sessions``, ``watch``) turn protobuf into
``lbroute.core`` values; ``apply`` turns a core ``Operation`` into one RPC. No decisions
are made here.
Errors stay ``grpc.RpcError``; callers classify them by ``StatusCode`` (see
``lbroute.gobgp.errors``), never by message text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

import grpc
import grpc.experimental
from google.protobuf.any_pb2 import Any

from lbroute.core import bgp
from lbroute.core.events import PrefixesTouched, SessionReport, SnapshotDone, WatchReport
from lbroute.core.rib import Path
from lbroute.core.session import Session

from .apipb import attribute_pb2 as attr
from .apipb import gobgp_pb2 as api
from .apipb import gobgp_pb2_grpc as rpc
from .wire import NextHopReader

# Server-streaming reads (ListPath, ListPeer) on the calling thread instead of a helper
# thread per call: a 64k-path ListPath costs a fifth of the client CPU (see
# docs/benchmarks-cli.md). Cancelling such a stream from another thread still works.
_CHANNEL_OPTIONS = [
    # read server streams on the calling thread: a 64k-path ListPath is 3-4x faster
    (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
    # gRPC's reconnect backoff grows to minutes by default; a restarted gobgpd must be
    # noticed within a fraction of a second so the manager can re-apply at once
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 100),
]
_LOCAL_SOURCES = frozenset({"", "<nil>", "0.0.0.0", "::"})
_LIST_BATCH = 1024  # paths gobgpd gathers before it starts sending (0: the whole table first)

_FAMILIES = {
    bgp.Family.IPV4_UNICAST: (api.Family.AFI_IP, api.Family.SAFI_UNICAST),
    bgp.Family.IPV6_UNICAST: (api.Family.AFI_IP6, api.Family.SAFI_UNICAST),
}
_FAMILY_OF = {v: k for k, v in _FAMILIES.items()}
_SET_TYPES = {bgp.SetKind.PREFIX: api.PREFIX, bgp.SetKind.NEIGHBOR: api.NEIGHBOR}
_ACTIONS = {
    bgp.RouteAction.NONE: api.NONE,
    bgp.RouteAction.ACCEPT: api.ACCEPT,
    bgp.RouteAction.REJECT: api.REJECT,
}
_ACTION_OF = {v: k for k, v in _ACTIONS.items()}
# the name gobgpd gives the global RIB's policy assignment (a route server's are per peer)
GLOBAL_RIB = "global"


def family_pb(family: bgp.Family) -> api.Family:
    afi, safi = _FAMILIES[family]
    return api.Family(afi=afi, safi=safi)


def channel_target(target: str) -> str:
    """Accept ``unix:///path``, ``/path`` or ``host:port``."""
    if target.startswith("/"):
        return "unix://" + target
    return target


class GobgpClient:
    def __init__(self, target: str, timeout: float = 5.0) -> None:
        self.target = target
        self.timeout = timeout
        self._channel = grpc.insecure_channel(channel_target(target), options=_CHANNEL_OPTIONS)
        self._stub = rpc.GobgpApiStub(self._channel)

    def __enter__(self) -> GobgpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float) -> None:
        """Block until the channel connects; raises ``grpc.FutureTimeoutError``."""
        grpc.channel_ready_future(self._channel).result(timeout=timeout)

    # --- reads ----------------------------------------------------------------------------------

    def get_global(self) -> bgp.GlobalSpec | None:
        g = getattr(self._stub.GetBgp(api.GetBgpRequest(), timeout=self.timeout), "global")
        if g.asn == 0:  # gobgpd answers an empty Global until StartBgp
            return None
        return bgp.GlobalSpec(
            asn=g.asn,
            router_id=g.router_id,
            listen_port=g.listen_port,
            listen_addresses=tuple(g.listen_addresses),
            use_multiple_paths=g.use_multiple_paths,
        )

    def observe(self) -> bgp.DaemonConfig:
        """Everything the daemon holds that a ``DaemonConfig`` can express (zebra excepted)."""
        global_ = self.get_global()
        if global_ is None:
            return bgp.DaemonConfig(global_=None)
        groups = tuple(
            bgp.PeerGroupSpec(name=r.peer_group.conf.peer_group_name, session=_session_of(r.peer_group))
            for r in self._stub.ListPeerGroup(api.ListPeerGroupRequest(), timeout=self.timeout)
        )
        dynamic = tuple(
            bgp.DynamicNeighborSpec(
                prefix=r.dynamic_neighbor.prefix, peer_group=r.dynamic_neighbor.peer_group
            )
            for r in self._stub.ListDynamicNeighbor(api.ListDynamicNeighborRequest(), timeout=self.timeout)
        )
        peers = tuple(
            bgp.PeerSpec(address=p.conf.neighbor_address, session=_session_of(p))
            for p in self.list_peers_raw()
            # sessions accepted through a dynamic neighbor carry their group's name
            if not p.conf.peer_group
        )
        return bgp.DaemonConfig(
            global_=global_,
            peer_groups=groups,
            dynamic_neighbors=dynamic,
            peers=peers,
            defined_sets=self._defined_sets(),
            policies=tuple(
                _policy_of(r.policy)
                for r in self._stub.ListPolicy(api.ListPolicyRequest(), timeout=self.timeout)
            ),
            import_policies=self._import_policies(),
        )

    def _defined_sets(self) -> tuple[bgp.DefinedSetSpec, ...]:
        out = []
        for kind, pb_type in _SET_TYPES.items():
            request = api.ListDefinedSetRequest(defined_type=pb_type)
            for r in self._stub.ListDefinedSet(request, timeout=self.timeout):
                d = r.defined_set
                out.append(
                    bgp.DefinedSetSpec(
                        kind=kind,
                        name=d.name,
                        prefixes=tuple(
                            sorted(
                                bgp.PrefixMatch(p.ip_prefix, p.mask_length_min, p.mask_length_max)
                                for p in d.prefixes
                            )
                        ),
                        neighbors=tuple(sorted(d.list)) if kind is bgp.SetKind.NEIGHBOR else (),
                    )
                )
        return tuple(out)

    def _import_policies(self) -> tuple[str, ...]:
        request = api.ListPolicyAssignmentRequest(name=GLOBAL_RIB, direction=api.IMPORT)
        names: list[str] = []
        for r in self._stub.ListPolicyAssignment(request, timeout=self.timeout):
            names += [p.name for p in r.assignment.policies]
        return tuple(names)

    def list_peers_raw(self) -> list[api.Peer]:
        return [r.peer for r in self._stub.ListPeer(api.ListPeerRequest(), timeout=self.timeout)]

    def peer_counters(self) -> list[bgp.PeerCounters]:
        """Per peer: prefixes received, and how many of them the import policy let through.

        gobgpd's own ``accepted`` counter ignores the global RIB's import policy (it equals
        ``received`` here), so rejections are counted from the adj-RIB-in, where gobgpd marks
        each path the policy filtered when asked with ``enable_filtered``.
        """
        out = []
        for p in self.list_peers_raw():
            address = _neighbor_of(p)
            established = p.state.session_state == api.PeerState.ESTABLISHED
            received = accepted = 0
            for a in p.afi_safis:
                received += a.state.received
                if established and a.state.received:
                    accepted += self._unfiltered(address, a.config.family)
            out.append(
                bgp.PeerCounters(
                    # a dynamic neighbor's conf carries no address; its state does
                    address=address,
                    group=p.conf.peer_group or p.conf.description,
                    established=established,
                    received=received,
                    accepted=accepted,
                    stale=_stale_paths(p),
                )
            )
        return sorted(out, key=lambda c: c.address)

    def keeps_stale_paths(self, address: str) -> bool:
        """gobgpd keeps this peer's paths, stale, while it restarts (see ``_stale_paths``)."""
        request = api.ListPeerRequest(address=address)
        return any(_stale_paths(r.peer) for r in self._stub.ListPeer(request, timeout=self.timeout))

    def _unfiltered(self, address: str, family: api.Family) -> int:
        request = api.ListPathRequest(
            table_type=api.ADJ_IN, name=address, family=family, enable_filtered=True
        )
        return sum(
            1
            for r in self._stub.ListPath(request, timeout=self.timeout)
            for path in r.destination.paths
            if not path.filtered and not path.is_withdraw
        )

    def events(self) -> Iterator[bgp.PeerEvent | bgp.RouteEvent]:
        """Session changes and best-path changes in the core's words, for the rr manager.

        Ends (raises ``grpc.RpcError``) when gobgpd goes away.
        """
        best = api.WatchEventRequest.Table.Filter.BEST
        for response in self._watch_stream(best):
            if response.HasField("peer"):
                peer = response.peer.peer
                state = api.PeerState.SessionState.Name(peer.state.session_state)
                yield bgp.PeerEvent(
                    address=_neighbor_of(peer),
                    established=peer.state.session_state == api.PeerState.ESTABLISHED,
                    state=state,
                )
            elif response.HasField("table"):
                for p in response.table.paths:
                    yield bgp.RouteEvent(
                        prefix=_prefix_of(p),
                        next_hop=_next_hop(p),
                        source=p.neighbor_ip,
                        withdrawn=p.is_withdraw,
                    )

    def list_paths(
        self,
        family: bgp.Family = bgp.Family.IPV4_UNICAST,
        *,
        adj_in_of: str | None = None,
        prefixes: tuple[str, ...] = (),
        ordered: bool = True,
    ) -> list[Path]:
        """Paths in the global RIB, or in one peer's adj-RIB-in when ``adj_in_of`` is given.

        Attributes come as BGP wire bytes (``enable_only_binary``): decoding the next-hop
        from those is several times cheaper than unpacking protobuf ``Any`` messages. With
        ``batch_size`` gobgpd streams while it walks its table instead of after, so it works
        while this process parses: a 64k-path read went from ~0.6 s to ~0.4 s.
        ``ordered=False`` keeps gobgpd's order and saves the sort on a large RIB.
        """
        request = api.ListPathRequest(
            table_type=api.ADJ_IN if adj_in_of else api.GLOBAL,
            name=adj_in_of or "",
            family=family_pb(family),
            prefixes=[api.TableLookupPrefix(prefix=p) for p in prefixes],
            enable_only_binary=True,
            batch_size=_LIST_BATCH,
        )
        reader = NextHopReader()
        out: list[Path] = []
        append = out.append
        for response in self._stub.ListPath(request, timeout=self.timeout):
            dest = response.destination
            prefix = dest.prefix
            for p in dest.paths:
                if p.is_withdraw:
                    continue
                source = p.neighbor_ip
                append(
                    Path(
                        prefix,
                        reader.next_hop(p.pattrs_binary),
                        "" if source in _LOCAL_SOURCES else source,
                        p.best,
                        p.identifier,
                        p.stale,
                    )
                )
        if ordered:
            out.sort()
        return out

    def list_sessions(self, at: str) -> list[Session]:
        """Every BGP session this gobgpd has, configured or accepted through a dynamic neighbor."""
        request = api.ListPeerRequest(enableAdvertised=True)
        return [_session(at, r.peer) for r in self._stub.ListPeer(request, timeout=self.timeout)]

    def watch(self) -> EventWatch:
        """Session state changes and table changes (best paths and every adj-RIB-in update).

        BEST alone misses an RR's non-best paths coming and going; ADJIN catches those.
        """
        table_filter = api.WatchEventRequest.Table.Filter
        return EventWatch(self._watch_stream(table_filter.BEST, table_filter.ADJIN))

    def _watch_stream(self, *table_filters: api.WatchEventRequest.Table.Filter.Type) -> Any:
        """The raw WatchEvent stream (cancellable): peer events and the given table filters."""
        table_filter = api.WatchEventRequest.Table.Filter
        request = api.WatchEventRequest(
            peer=api.WatchEventRequest.Peer(),
            table=api.WatchEventRequest.Table(filters=[table_filter(type=t) for t in table_filters]),
        )
        return self._stub.WatchEvent(request)

    # --- writes ---------------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[Path], *, batch: int = 1000) -> None:
        """Originate IPv4 unicast paths in the global RIB (one AddPathStream), e.g. to build a
        large RIB for a benchmark. ``path_id`` tells paths of one prefix apart (add-path)."""

        def requests() -> Iterator[api.AddPathStreamRequest]:
            chunk: list[api.Path] = []
            for path in paths:
                chunk.append(_local_path_pb(path))
                if len(chunk) >= batch:
                    yield api.AddPathStreamRequest(table_type=api.GLOBAL, paths=chunk)
                    chunk = []
            if chunk:
                yield api.AddPathStreamRequest(table_type=api.GLOBAL, paths=chunk)

        self._stub.AddPathStream(requests(), timeout=self.timeout)

    def apply(self, op: bgp.Operation) -> None:
        t = self.timeout
        match op:
            case bgp.StartBgp(spec):
                g = api.Global(
                    asn=spec.asn,
                    router_id=spec.router_id,
                    listen_port=spec.listen_port,
                    listen_addresses=list(spec.listen_addresses),
                    use_multiple_paths=spec.use_multiple_paths,
                )
                self._stub.StartBgp(api.StartBgpRequest(**{"global": g}), timeout=t)
            case bgp.StopBgp():
                self._stub.StopBgp(api.StopBgpRequest(), timeout=t)
            case bgp.AddPeerGroup(spec):
                self._stub.AddPeerGroup(api.AddPeerGroupRequest(peer_group=_peer_group_pb(spec)), timeout=t)
            case bgp.UpdatePeerGroup(spec):
                self._stub.UpdatePeerGroup(
                    api.UpdatePeerGroupRequest(peer_group=_peer_group_pb(spec)), timeout=t
                )
            case bgp.DeletePeerGroup(name):
                self._stub.DeletePeerGroup(api.DeletePeerGroupRequest(name=name), timeout=t)
            case bgp.AddDynamicNeighbor(spec):
                dn = api.DynamicNeighbor(prefix=spec.prefix, peer_group=spec.peer_group)
                self._stub.AddDynamicNeighbor(api.AddDynamicNeighborRequest(dynamic_neighbor=dn), timeout=t)
            case bgp.DeleteDynamicNeighbor(spec):
                self._stub.DeleteDynamicNeighbor(
                    api.DeleteDynamicNeighborRequest(prefix=spec.prefix, peer_group=spec.peer_group),
                    timeout=t,
                )
            case bgp.AddPeer(spec, restarting):
                self._stub.AddPeer(api.AddPeerRequest(peer=_peer_pb(spec, restarting=restarting)), timeout=t)
            case bgp.UpdatePeer(spec):
                # gobgpd applies address-family changes (add-path) only to a new session:
                # replace the peer so the desired settings are what the session negotiates.
                self._stub.DeletePeer(api.DeletePeerRequest(address=spec.address), timeout=t)
                self._stub.AddPeer(api.AddPeerRequest(peer=_peer_pb(spec)), timeout=t)
            case bgp.DeletePeer(address):
                self._stub.DeletePeer(api.DeletePeerRequest(address=address), timeout=t)
            case bgp.EnableZebra(spec):
                self._stub.EnableZebra(
                    api.EnableZebraRequest(
                        url=spec.url,
                        version=spec.version,
                        software_name=spec.software_name,
                        route_types=list(spec.route_types),
                    ),
                    timeout=t,
                )
            case bgp.SetDefinedSet(spec):
                self._stub.AddDefinedSet(
                    api.AddDefinedSetRequest(defined_set=_defined_set_pb(spec), replace=True), timeout=t
                )
            case bgp.DeleteDefinedSet(kind, name):
                d = api.DefinedSet(defined_type=_SET_TYPES[kind], name=name)
                # ``all``: the set itself, not just the entries listed in the request (none)
                self._stub.DeleteDefinedSet(api.DeleteDefinedSetRequest(defined_set=d, all=True), timeout=t)
            case bgp.AddPolicy(spec):
                self._stub.AddPolicy(api.AddPolicyRequest(policy=_policy_pb(spec)), timeout=t)
            case bgp.DeletePolicy(name):
                # without ``all`` gobgpd deletes only the statements named in the request (none
                # here) and keeps the policy; a later AddPolicy would then clash with it
                request = api.DeletePolicyRequest(policy=api.Policy(name=name), all=True)
                self._stub.DeletePolicy(request, timeout=t)
            case bgp.SetImportPolicies(names):
                assignment = api.PolicyAssignment(
                    name=GLOBAL_RIB,
                    direction=api.IMPORT,
                    policies=[api.Policy(name=n) for n in names],
                    default_action=api.ACCEPT,
                )
                self._stub.SetPolicyAssignment(
                    api.SetPolicyAssignmentRequest(assignment=assignment), timeout=t
                )
            case _:  # pragma: no cover
                raise AssertionError(f"unknown operation {op!r}")


class EventWatch:
    """A running WatchEvent stream. Iterate for core reports; ``cancel()`` from any thread ends it."""

    def __init__(self, call: Iterator[api.WatchEventResponse]) -> None:
        self._call = call
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[WatchReport]:
        try:
            for response in self._call:
                yield from _reports(response)
        except grpc.RpcError as err:
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:
                return
            raise


def _neighbor_of(peer: api.Peer) -> str:
    """A session's remote address: in its state once known (dynamic neighbors have no config one)."""
    return str(peer.state.neighbor_address or peer.conf.neighbor_address)


def _reports(response: api.WatchEventResponse) -> Iterator[WatchReport]:
    kind = response.WhichOneof("event")
    if kind == "peer":
        event = response.peer
        if event.type == api.WatchEventResponse.PeerEvent.END_OF_INIT:
            yield SnapshotDone()
            return
        peer = event.peer
        yield SessionReport(
            neighbor=_neighbor_of(peer),
            state=api.PeerState.SessionState.Name(peer.state.session_state),
            initial=event.type == api.WatchEventResponse.PeerEvent.INIT,
        )
    elif kind == "table":
        prefixes = dict.fromkeys(_prefix_of(p) for p in response.table.paths)
        prefixes.pop("", None)
        if prefixes:
            yield PrefixesTouched(tuple(prefixes))


def _prefix_of(path: api.Path) -> str:
    if path.nlri.Is(attr.IPAddressPrefix.DESCRIPTOR):
        nlri = attr.IPAddressPrefix()
        path.nlri.Unpack(nlri)
        return f"{nlri.prefix}/{nlri.prefix_len}"
    return ""


def _session(at: str, p: api.Peer) -> Session:
    state = api.PeerState.SessionState.Name(p.state.session_state)
    timers = p.timers.state
    stamp = timers.uptime if state == "ESTABLISHED" else timers.downtime
    gr = p.graceful_restart
    return Session(
        at=at,
        neighbor=_neighbor_of(p),
        peer_asn=p.state.peer_asn or p.conf.peer_asn,
        state=state,
        since=stamp.seconds + stamp.nanos / 1e9 if stamp.seconds else None,
        received=sum(a.state.received for a in p.afi_safis),
        accepted=sum(a.state.accepted for a in p.afi_safis),
        advertised=sum(a.state.advertised for a in p.afi_safis),
        hold_time=timers.negotiated_hold_time,
        peer_group=p.conf.peer_group or p.state.peer_group,
        description=p.conf.description,
        admin_down=p.state.admin_state == api.PeerState.DOWN,
        graceful_restart=("helper" if gr.helper_only else "on") if gr.enabled else "",
        stale=_stale_paths(p),
    )


def _stale_paths(p: api.Peer) -> int:
    """Paths gobgpd keeps, stale, for a peer whose session dropped under graceful restart:
    all it had received, until its End-of-RIB or its restart time (RFC 4724)."""
    return sum(a.state.received for a in p.afi_safis) if p.graceful_restart.peer_restarting else 0


def _session_of(p: api.Peer | api.PeerGroup) -> bgp.SessionSpec:
    afis = []
    for a in p.afi_safis:
        family = _FAMILY_OF.get((a.config.family.afi, a.config.family.safi))
        if family is None:
            continue
        afis.append(
            bgp.AfiSafi(
                family=family,
                add_path_receive=a.add_paths.config.receive,
                add_path_send_max=a.add_paths.config.send_max,
                max_prefixes=a.prefix_limits.max_prefixes,
            )
        )
    rr = p.route_reflector
    gr = p.graceful_restart
    return bgp.SessionSpec(
        peer_asn=p.conf.peer_asn,
        description=p.conf.description,
        afi_safis=tuple(sorted(afis)),
        timers=bgp.Timers(
            hold_time=p.timers.config.hold_time,
            keepalive=p.timers.config.keepalive_interval,
            connect_retry=p.timers.config.connect_retry,
            idle_hold_after_reset=p.timers.config.idle_hold_time_after_reset,
        ),
        route_reflector_client=rr.route_reflector_client,
        cluster_id=rr.route_reflector_cluster_id if rr.route_reflector_client else "",
        passive=p.transport.passive_mode,
        auth_password=p.conf.auth_password,
        graceful_restart=bgp.GracefulRestart(gr.restart_time, gr.helper_only) if gr.enabled else None,
    )


def _session_fields(s: bgp.SessionSpec, *, restarting: bool = False) -> dict[str, object]:
    gr = s.graceful_restart
    # an address family is in our graceful-restart capability only with its own switch on
    keep_ours = gr is not None and not gr.helper_only
    return {
        "afi_safis": [
            api.AfiSafi(
                config=api.AfiSafiConfig(family=family_pb(a.family), enabled=True),
                mp_graceful_restart=api.MpGracefulRestart(
                    config=api.MpGracefulRestartConfig(enabled=keep_ours)
                ),
                add_paths=api.AddPaths(
                    config=api.AddPathsConfig(receive=a.add_path_receive, send_max=a.add_path_send_max)
                ),
                prefix_limits=(
                    api.PrefixLimit(family=family_pb(a.family), max_prefixes=a.max_prefixes)
                    if a.max_prefixes
                    else None
                ),
            )
            for a in s.afi_safis
        ],
        "timers": api.Timers(
            config=api.TimersConfig(
                hold_time=s.timers.hold_time,
                keepalive_interval=s.timers.keepalive,
                connect_retry=s.timers.connect_retry,
                idle_hold_time_after_reset=s.timers.idle_hold_after_reset,
            )
        ),
        "route_reflector": api.RouteReflector(
            route_reflector_client=s.route_reflector_client, route_reflector_cluster_id=s.cluster_id
        ),
        "transport": api.Transport(passive_mode=s.passive),
        "graceful_restart": (
            api.GracefulRestart(
                enabled=True,
                restart_time=gr.restart_time,
                helper_only=gr.helper_only,
                local_restarting=restarting,
            )
            if gr is not None
            else None
        ),
    }


def _peer_pb(spec: bgp.PeerSpec, *, restarting: bool = False) -> api.Peer:
    s = spec.session
    conf = api.PeerConf(
        neighbor_address=spec.address,
        peer_asn=s.peer_asn,
        description=s.description,
        auth_password=s.auth_password,
    )
    return api.Peer(conf=conf, **_session_fields(s, restarting=restarting))  # type: ignore[arg-type]


def _peer_group_pb(spec: bgp.PeerGroupSpec) -> api.PeerGroup:
    s = spec.session
    conf = api.PeerGroupConf(
        peer_group_name=spec.name,
        peer_asn=s.peer_asn,
        description=s.description,
        auth_password=s.auth_password,
    )
    return api.PeerGroup(conf=conf, **_session_fields(s))  # type: ignore[arg-type]


def _defined_set_pb(spec: bgp.DefinedSetSpec) -> api.DefinedSet:
    return api.DefinedSet(
        defined_type=_SET_TYPES[spec.kind],
        name=spec.name,
        list=list(spec.neighbors),
        prefixes=[
            api.Prefix(ip_prefix=p.prefix, mask_length_min=p.min_length, mask_length_max=p.max_length)
            for p in spec.prefixes
        ],
    )


def _policy_pb(spec: bgp.PolicySpec) -> api.Policy:
    statements = []
    for st in spec.statements:
        conditions = api.Conditions(next_hop_in_list=list(st.next_hop_in))
        if st.neighbor_set:
            conditions.neighbor_set.CopyFrom(api.MatchSet(type=api.MatchSet.ANY, name=st.neighbor_set))
        if st.prefix_set:
            conditions.prefix_set.CopyFrom(api.MatchSet(type=api.MatchSet.ANY, name=st.prefix_set))
        statements.append(
            api.Statement(
                name=st.name, conditions=conditions, actions=api.Actions(route_action=_ACTIONS[st.action])
            )
        )
    return api.Policy(name=spec.name, statements=statements)


def _policy_of(p: api.Policy) -> bgp.PolicySpec:
    statements = []
    for st in p.statements:
        c = st.conditions
        statements.append(
            bgp.StatementSpec(
                name=st.name,
                action=_ACTION_OF[st.actions.route_action],
                neighbor_set=c.neighbor_set.name if c.HasField("neighbor_set") else "",
                prefix_set=c.prefix_set.name if c.HasField("prefix_set") else "",
                next_hop_in=tuple(c.next_hop_in_list),
            )
        )
    return bgp.PolicySpec(name=p.name, statements=tuple(statements))


def _next_hop(p: api.Path) -> str:
    for any_attr in p.pattrs:
        if any_attr.Is(attr.NextHopAttribute.DESCRIPTOR):
            nh = attr.NextHopAttribute()
            any_attr.Unpack(nh)
            return str(nh.next_hop)
        if any_attr.Is(attr.MpReachNLRIAttribute.DESCRIPTOR):
            mp = attr.MpReachNLRIAttribute()
            any_attr.Unpack(mp)
            if mp.next_hops:
                return str(mp.next_hops[0])
    return ""


def _local_path_pb(path: Path) -> api.Path:
    address, _, length = path.prefix.partition("/")
    nlri, origin, next_hop = Any(), Any(), Any()
    nlri.Pack(attr.IPAddressPrefix(prefix=address, prefix_len=int(length or 32)))
    origin.Pack(attr.OriginAttribute(origin=0))  # IGP, like the speakers' paths
    next_hop.Pack(attr.NextHopAttribute(next_hop=path.next_hop))
    return api.Path(
        nlri=nlri,
        pattrs=[origin, next_hop],
        family=family_pb(bgp.Family.IPV4_UNICAST),
        identifier=path.path_id,
    )
