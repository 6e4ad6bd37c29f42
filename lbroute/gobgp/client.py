"""A thin gobgpd client that speaks the core's types.

Reads (``observe``, ``list_paths``, ``list_sessions``, ``watch``) turn protobuf into
``lbroute.core`` values; ``apply`` turns a core ``Operation`` into one RPC. No decisions
are made here. Every ``grpc.RpcError`` leaves as a ``GobgpError`` (``GobgpUnavailable``
or ``GobgpRejected``, see ``lbroute.gobgp.errors``), so callers classify failures by type
and never import grpc.

Written for gobgpd 4.8's API (docs/decisions/gobgpd-4.8-from-sid.md): its enums carry their
type's name (``SESSION_STATE_ESTABLISHED``) and most have an ``..._UNSPECIFIED`` 0 that
gobgpd refuses, so every enum field of a request is set, never left at its default, and
gobgpd's names become the core's words here and nowhere else (``_SESSION_STATES``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

import grpc
import grpc.experimental

from lbroute.core import bgp, guard
from lbroute.core.events import PrefixesTouched, SessionReport, SnapshotDone, TouchedPath, WatchReport
from lbroute.core.rib import Path
from lbroute.core.session import BFD_UP, ESTABLISHED, Session

from . import policy_next_hops, wire
from .apipb import attribute_pb2 as attr
from .apipb import common_pb2 as common
from .apipb import gobgp_pb2 as api
from .apipb import gobgp_pb2_grpc as rpc
from .apipb import nlri_pb2 as nlri
from .errors import GobgpError, GobgpRejected, GobgpUnavailable
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
    bgp.Family.IPV4_UNICAST: (common.Family.AFI_IP, common.Family.SAFI_UNICAST),
    bgp.Family.IPV6_UNICAST: (common.Family.AFI_IP6, common.Family.SAFI_UNICAST),
}
_FAMILY_OF = {v: k for k, v in _FAMILIES.items()}
_SET_TYPES = {bgp.SetKind.PREFIX: api.DEFINED_TYPE_PREFIX, bgp.SetKind.NEIGHBOR: api.DEFINED_TYPE_NEIGHBOR}
_ACTIONS = {
    # a statement without an action: gobgpd goes on to the next one
    bgp.RouteAction.NONE: api.ROUTE_ACTION_UNSPECIFIED,
    bgp.RouteAction.ACCEPT: api.ROUTE_ACTION_ACCEPT,
    bgp.RouteAction.REJECT: api.ROUTE_ACTION_REJECT,
}
_ACTION_OF = {v: k for k, v in _ACTIONS.items()}
# gobgpd's session states in the core's words (``Session.state``, ``SessionReport.state``): the
# rr manager, the CLI and the metric labels compare these, never gobgpd's own names
_SESSION_STATES: dict[int, str] = {
    api.PeerState.SESSION_STATE_IDLE: "IDLE",
    api.PeerState.SESSION_STATE_CONNECT: "CONNECT",
    api.PeerState.SESSION_STATE_ACTIVE: "ACTIVE",
    api.PeerState.SESSION_STATE_OPENSENT: "OPENSENT",
    api.PeerState.SESSION_STATE_OPENCONFIRM: "OPENCONFIRM",
    api.PeerState.SESSION_STATE_ESTABLISHED: ESTABLISHED,
}
# gobgpd's BFD session states in the core's words (``Session.bfd``); UNSPECIFIED: no BFD
_BFD_STATES: dict[int, str] = {
    api.BFD_SESSION_STATE_UP: BFD_UP,
    api.BFD_SESSION_STATE_DOWN: "DOWN",
    api.BFD_SESSION_STATE_INIT: "INIT",
    api.BFD_SESSION_STATE_ADMIN_DOWN: "ADMIN_DOWN",
}
# the name gobgpd gives the global RIB's policy assignment (a route server's are per peer)
GLOBAL_RIB = "global"


def family_pb(family: bgp.Family) -> common.Family:
    afi, safi = _FAMILIES[family]
    return common.Family(afi=afi, safi=safi)


def _session_state(state: int) -> str:
    """A ``PeerState.session_state`` in the core's words; ``UNKNOWN`` for 0 (unspecified)."""
    return _SESSION_STATES.get(state, "UNKNOWN")


def channel_target(target: str) -> str:
    """Accept ``unix:///path``, ``/path`` or ``host:port``."""
    if target.startswith("/"):
        return "unix://" + target
    return target


def error_of(target: str, err: grpc.RpcError) -> GobgpError:
    """The typed error for a failed call, keyed on its status code."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = err.details() if callable(getattr(err, "details", None)) else ""
    return GobgpError.of(target, code.name if code is not None else "UNKNOWN", details or "")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _typed_errors(
    method: Callable[Concatenate[GobgpClient, _P], _R],
) -> Callable[Concatenate[GobgpClient, _P], _R]:
    """A method whose gRPC failures leave as ``GobgpError``s naming this client's target."""

    def call(self: GobgpClient, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except grpc.RpcError as err:
            raise error_of(self.target, err) from err

    functools.update_wrapper(call, method)  # name and docstring; ``call`` keeps its own type
    return call


class GobgpClient:
    def __init__(self, target: str, timeout: float = 5.0) -> None:
        self.target = target
        self.timeout = timeout
        self._channel = grpc.insecure_channel(channel_target(target), options=_CHANNEL_OPTIONS)
        self._stub = rpc.GoBgpServiceStub(self._channel)

    def __enter__(self) -> GobgpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float) -> None:
        """Block until the channel connects; ``GobgpUnavailable`` when it has not within ``timeout``."""
        ready = grpc.channel_ready_future(self._channel)
        try:
            ready.result(timeout=timeout)
        except grpc.FutureTimeoutError:
            ready.cancel()  # else its polling thread outlives the wait (and trips over a closed channel)
            raise GobgpUnavailable(self.target, "UNAVAILABLE", f"not answering after {timeout:g}s") from None

    # --- reads ----------------------------------------------------------------------------------

    @_typed_errors
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

    @_typed_errors
    def observe(self) -> bgp.DaemonConfig:
        """Everything the daemon holds that a ``DaemonConfig`` can express (zebra excepted), in
        one order whatever gobgpd's (it lists peers from a Go map): two reads of an unchanged
        daemon are equal. Only the import and export assignments keep their order, which is its meaning."""
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
            bgp.PeerSpec(
                address=p.conf.neighbor_address, session=_session_of(p), admin_down=p.conf.admin_down
            )
            for p in self.list_peers_raw()
            # sessions accepted through a dynamic neighbor carry their group's name
            if not p.conf.peer_group
        )
        policies = (
            _policy_of(r.policy) for r in self._stub.ListPolicy(api.ListPolicyRequest(), timeout=self.timeout)
        )
        return bgp.DaemonConfig(
            global_=global_,
            peer_groups=tuple(sorted(groups, key=lambda g: g.name)),
            dynamic_neighbors=tuple(sorted(dynamic)),
            peers=tuple(sorted(peers, key=lambda p: p.address)),
            defined_sets=tuple(sorted(self._defined_sets(), key=lambda d: (d.kind.value, d.name))),
            policies=tuple(sorted(policies, key=lambda p: p.name)),
            import_policies=self._assigned(api.POLICY_DIRECTION_IMPORT),
            export_policies=self._assigned(api.POLICY_DIRECTION_EXPORT),
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

    def _assigned(self, direction: api.PolicyDirection) -> tuple[str, ...]:
        """The global assignment's policies in one direction, in order."""
        request = api.ListPolicyAssignmentRequest(name=GLOBAL_RIB, direction=direction)
        names: list[str] = []
        for r in self._stub.ListPolicyAssignment(request, timeout=self.timeout):
            names += [p.name for p in r.assignment.policies]
        return tuple(names)

    @_typed_errors
    def list_peers_raw(self, *, advertised: bool = False) -> list[api.Peer]:
        """gobgpd's own peer messages (tests read its UPDATE counters). ``advertised`` makes gobgpd
        count each peer's adj-RIB-out, which walks its RIB once per peer."""
        request = api.ListPeerRequest(enable_advertised=advertised)
        return [r.peer for r in self._stub.ListPeer(request, timeout=self.timeout)]

    @_typed_errors
    def keeps_stale_paths(self, address: str) -> bool:
        """gobgpd keeps this peer's paths, stale, while it restarts (see ``_stale_paths``)."""
        request = api.ListPeerRequest(address=address)
        return any(self._stale_paths(r.peer) for r in self._stub.ListPeer(request, timeout=self.timeout))

    def _stale_paths(self, peer: api.Peer) -> int:
        """Paths gobgpd keeps, stale, for a peer whose session dropped under graceful restart:
        all it had received, until its End-of-RIB or its restart time (RFC 4724).

        Counted in the peer's adj-RIB-in: gobgpd 4.8's per-peer counters read 0 unless the
        session is ESTABLISHED (3.36 kept them), and a restarting peer's session is not.
        """
        if not peer.graceful_restart.peer_restarting:
            return 0
        address = _neighbor_of(peer)
        count = 0
        for a in peer.afi_safis:
            request = api.ListPathRequest(
                table_type=api.TABLE_TYPE_ADJ_IN,
                name=address,
                family=a.config.family,
                enable_only_binary=True,
                batch_size=_LIST_BATCH,
            )
            for response in self._stub.ListPath(request, timeout=self.timeout):
                count += sum(1 for p in response.destination.paths if p.stale and not p.is_withdraw)
        return count

    @_typed_errors
    def list_paths(
        self,
        family: bgp.Family = bgp.Family.IPV4_UNICAST,
        *,
        adj_in_of: str | None = None,
        prefixes: tuple[str, ...] = (),
        ordered: bool = True,
        with_attributes: bool = False,
        rejected_only: bool = False,
    ) -> list[Path]:
        """Paths in the global RIB, or in one peer's adj-RIB-in when ``adj_in_of`` is given.

        Attributes come as BGP wire bytes (``enable_only_binary``): decoding the next-hop
        from those is several times cheaper than decoding protobuf attribute messages. With
        ``batch_size`` gobgpd streams while it walks its table instead of after, so it works
        while this process parses: a 64k-path read went from ~0.6 s to ~0.4 s.
        ``ordered=False`` keeps gobgpd's order and saves the sort on a large RIB.
        ``with_attributes`` decodes what best-path selection compares (``Path.attributes``);
        ``rejected_only`` (with ``adj_in_of``) lists only the paths the import policy rejects.
        """
        request = api.ListPathRequest(
            table_type=api.TABLE_TYPE_ADJ_IN if adj_in_of else api.TABLE_TYPE_GLOBAL,
            name=adj_in_of or "",
            family=family_pb(family),
            prefixes=[api.TableLookupPrefix(prefix=p) for p in prefixes],
            enable_only_binary=True,
            enable_filtered=rejected_only,
            batch_size=_LIST_BATCH,
        )
        reader = NextHopReader()
        out: list[Path] = []
        append = out.append
        for response in self._stub.ListPath(request, timeout=self.timeout):
            dest = response.destination
            prefix = dest.prefix
            for p in dest.paths:
                if p.is_withdraw or (rejected_only and not p.filtered):
                    continue
                source = p.neighbor_ip
                next_hop, communities = reader.read(p.pattrs_binary)
                append(
                    Path(
                        prefix,
                        next_hop,
                        "" if source in _LOCAL_SOURCES else source,
                        p.best,
                        p.identifier,
                        p.stale,
                        communities,
                        attributes=wire.attributes(p.pattrs_binary) if with_attributes else None,
                    )
                )
        if ordered:
            out.sort()
        return out

    @_typed_errors
    def list_sessions(self, at: str, *, advertised: bool = True) -> list[Session]:
        """Every BGP session this gobgpd has, configured or accepted through a dynamic neighbor.

        ``accepted`` is counted in the global RIB, by source: gobgpd's own per-peer counter
        ignores the global import policy (the guard rails). That is one ListPath per address
        family any peer has sent paths in, streaming every path the RIB holds; ``advertised``
        (gobgpd walks its RIB once per peer for it) can be left out.
        """
        peers = self.list_peers_raw(advertised=advertised)
        in_rib = self._paths_by_source(peers)
        sessions = [_session(at, p, in_rib, self._stale_paths(p), advertised=advertised) for p in peers]
        if not any(s.rejected for s in sessions):
            return sessions
        judge = guard.Guard(self.observe())
        return [
            dataclasses.replace(s, rejected_by=self._rejected_by(judge, s, p)) if s.rejected else s
            for s, p in zip(sessions, peers, strict=True)
        ]

    def _rejected_by(self, judge: guard.Guard, s: Session, peer: api.Peer) -> tuple[tuple[str, int], ...]:
        """Why the import policy rejects each path of ``s`` its adj-RIB-in holds: gobgpd marks a
        path filtered and says no more, so the reason is read from the policy (``core.guard``)."""
        families = sorted(
            {
                _FAMILY_OF[key]
                for a in peer.afi_safis
                if (key := (a.config.family.afi, a.config.family.safi)) in _FAMILY_OF
            }
        )
        paths = [
            p
            for family in families
            for p in self.list_paths(family, adj_in_of=s.neighbor, with_attributes=True, rejected_only=True)
        ]
        return tuple(guard.rejected_counts(judge, paths).items())

    def _paths_by_source(self, peers: list[api.Peer]) -> Counter[str]:
        """How many paths of each peer the global RIB holds, in the families peers have sent."""
        families = {
            _FAMILY_OF[key]
            for p in peers
            for a in p.afi_safis
            if a.state.received and (key := (a.config.family.afi, a.config.family.safi)) in _FAMILY_OF
        }
        counts: Counter[str] = Counter()
        for family in sorted(families):
            request = api.ListPathRequest(
                table_type=api.TABLE_TYPE_GLOBAL,
                family=family_pb(family),
                enable_only_binary=True,
                batch_size=_LIST_BATCH,
            )
            for response in self._stub.ListPath(request, timeout=self.timeout):
                counts.update(p.neighbor_ip for p in response.destination.paths if not p.is_withdraw)
        return counts

    def watch(self, *, adj_in: bool = True) -> EventWatch:
        """Session state changes and table changes: best paths, and with ``adj_in`` every
        adj-RIB-in update (BEST alone misses an RR's non-best paths coming and going).

        Iterating it raises ``GobgpError`` when gobgpd goes away; ``cancel()`` ends it quietly.
        """
        table_filter = api.WatchEventRequest.Table.Filter
        filters = [table_filter.TYPE_BEST, table_filter.TYPE_ADJIN] if adj_in else [table_filter.TYPE_BEST]
        return EventWatch(self.target, self._watch_stream(*filters))

    def _watch_stream(
        self, *table_filters: api.WatchEventRequest.Table.Filter.Type
    ) -> Iterator[api.WatchEventResponse]:
        """The raw WatchEvent stream (cancellable): peer events and the given table filters.

        Each filter's type must be given: gobgpd 4.8 ends a stream whose filter is 0
        (unspecified) with INVALID_ARGUMENT, and only once the stream is read."""
        table_filter = api.WatchEventRequest.Table.Filter
        request = api.WatchEventRequest(
            peer=api.WatchEventRequest.Peer(),
            table=api.WatchEventRequest.Table(filters=[table_filter(type=t) for t in table_filters]),
        )
        return self._stub.WatchEvent(request)  # type: ignore[no-any-return]

    # --- writes ---------------------------------------------------------------------------------

    @_typed_errors
    def add_paths(self, paths: Iterable[Path], *, batch: int = 1000) -> None:
        """Originate IPv4 unicast paths in the global RIB (one AddPathStream), e.g. to build a
        large RIB for a benchmark. ``path_id`` tells paths of one prefix apart (add-path)."""

        def requests() -> Iterator[api.AddPathStreamRequest]:
            chunk: list[api.Path] = []
            for path in paths:
                chunk.append(_local_path_pb(path))
                if len(chunk) >= batch:
                    yield api.AddPathStreamRequest(table_type=api.TABLE_TYPE_GLOBAL, paths=chunk)
                    chunk = []
            if chunk:
                yield api.AddPathStreamRequest(table_type=api.TABLE_TYPE_GLOBAL, paths=chunk)

        self._stub.AddPathStream(requests(), timeout=self.timeout)

    @_typed_errors
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
                request = api.AddPeerRequest(peer=_peer_pb(spec, restarting=restarting))
                if spec.admin_down:
                    self._add_hold(request, t)
                else:
                    self._stub.AddPeer(request, timeout=t)
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
            case bgp.SetImportPolicies(names) | bgp.SetExportPolicies(names):
                direction = (
                    api.POLICY_DIRECTION_IMPORT
                    if isinstance(op, bgp.SetImportPolicies)
                    else api.POLICY_DIRECTION_EXPORT
                )
                assignment = api.PolicyAssignment(
                    name=GLOBAL_RIB,
                    direction=direction,
                    policies=[api.Policy(name=n) for n in names],
                    default_action=api.ROUTE_ACTION_ACCEPT,
                )
                self._stub.SetPolicyAssignment(
                    api.SetPolicyAssignmentRequest(assignment=assignment), timeout=t
                )
            case bgp.Resend(addresses):
                for address in addresses or ("all",):
                    request = api.ResetPeerRequest(
                        address=address, soft=True, direction=api.ResetPeerRequest.DIRECTION_OUT
                    )
                    self._stub.ResetPeer(request, timeout=t)
            case bgp.Rejudge(addresses):
                for address in addresses or ("all",):
                    request = api.ResetPeerRequest(
                        address=address, soft=True, direction=api.ResetPeerRequest.DIRECTION_IN
                    )
                    self._stub.ResetPeer(request, timeout=t)
            case _:  # pragma: no cover
                raise AssertionError(f"unknown operation {op!r}")

    def _add_hold(self, request: api.AddPeerRequest, t: float) -> None:
        """A speaker held down (admin down) from a dynamic range may hold a session of that
        range: it reconnects within ms of each cut-off. That dynamic session goes and the hold
        comes, a few times at most if the speaker keeps slipping in between; a peer configured
        there by anyone else is a clash, left alone and refused as gobgpd refuses it."""
        address = request.peer.conf.neighbor_address
        for attempt in range(_HOLD_ATTEMPTS):
            try:
                self._stub.AddPeer(request, timeout=t)
                return
            except grpc.RpcError as err:
                if not _said(err, "can't overwrite the existing peer") or attempt == _HOLD_ATTEMPTS - 1:
                    raise
            existing = [r.peer for r in self._stub.ListPeer(api.ListPeerRequest(address=address), timeout=t)]
            if any(not (p.conf.peer_group or p.state.peer_group) for p in existing):
                raise GobgpRejected(
                    self.target, "ALREADY_EXISTS", f"a peer {address} not of a dynamic range is there"
                )
            try:
                self._stub.DeletePeer(api.DeletePeerRequest(address=address), timeout=t)
            except grpc.RpcError as err:
                if not _said(err, "can't delete a peer configuration"):
                    raise  # (that one: the session was gone already; add again)


_HOLD_ATTEMPTS = 5


def _said(err: grpc.RpcError, words: str) -> bool:
    return words in error_of("", err).details


class EventWatch:
    """A running WatchEvent stream. Iterate for core reports; ``cancel()`` from any thread ends it."""

    def __init__(self, target: str, call: Iterator[api.WatchEventResponse]) -> None:
        self.target = target
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
            raise error_of(self.target, err) from err


def _neighbor_of(peer: api.Peer) -> str:
    """A session's remote address: in its state once known (dynamic neighbors have no config one)."""
    return str(peer.state.neighbor_address or peer.conf.neighbor_address)


def _reports(response: api.WatchEventResponse) -> Iterator[WatchReport]:
    kind = response.WhichOneof("event")
    if kind == "peer":
        event = response.peer
        if event.type == api.WatchEventResponse.PeerEvent.TYPE_END_OF_INIT:
            yield SnapshotDone()
            return
        peer = event.peer
        yield SessionReport(
            neighbor=_neighbor_of(peer),
            state=_session_state(peer.state.session_state),
            initial=event.type == api.WatchEventResponse.PeerEvent.TYPE_INIT,
            # gobgpd 4.8 reports the shutdown as an admin state of its own (measured: IDLE
            # with ADMIN_STATE_PFX_CT, then at once a new session from a dynamic neighbor)
            max_prefix_shutdown=peer.state.admin_state == api.PeerState.ADMIN_STATE_PFX_CT,
        )
    elif kind == "table":
        # an End-of-RIB marker (or a non-IP NLRI) names no prefix
        paths = tuple(
            TouchedPath(prefix, _source(p.neighbor_ip), p.is_withdraw)
            for p in response.table.paths
            if (prefix := _prefix_of(p))
        )
        if paths:
            yield PrefixesTouched(paths)


def _source(neighbor_ip: str) -> str:
    return "" if neighbor_ip in _LOCAL_SOURCES else neighbor_ip


def _prefix_of(path: api.Path) -> str:
    if path.nlri.WhichOneof("nlri") == "prefix":
        return f"{path.nlri.prefix.prefix}/{path.nlri.prefix.prefix_len}"
    return ""


def _session(at: str, p: api.Peer, in_rib: Counter[str], stale: int, *, advertised: bool) -> Session:
    """``received``, ``accepted`` and ``advertised`` are 0 unless the session is ESTABLISHED:
    gobgpd 4.8 counts only then. ``stale`` counts the paths kept for a restarting peer."""
    state = _session_state(p.state.session_state)
    timers = p.timers.state
    stamp = timers.uptime if state == ESTABLISHED else timers.downtime
    gr = p.graceful_restart
    neighbor = _neighbor_of(p)
    received = sum(a.state.received for a in p.afi_safis)
    return Session(
        at=at,
        neighbor=neighbor,
        peer_asn=p.state.peer_asn or p.conf.peer_asn,
        state=state,
        since=stamp.seconds + stamp.nanos / 1e9 if stamp.seconds else None,
        received=received,
        # the RIB may briefly hold a path whose receipt the counter has not caught up with
        accepted=min(in_rib.get(neighbor, 0), received),
        advertised=sum(a.state.advertised for a in p.afi_safis) if advertised else None,
        hold_time=timers.negotiated_hold_time,
        peer_group=p.conf.peer_group or p.state.peer_group,
        description=p.conf.description,
        admin_down=p.state.admin_state == api.PeerState.ADMIN_STATE_DOWN,
        max_prefix_shutdown=p.state.admin_state == api.PeerState.ADMIN_STATE_PFX_CT,
        graceful_restart=("helper" if gr.helper_only else "on") if gr.enabled else "",
        stale=stale,
        bfd=_BFD_STATES.get(p.state.bfd_state.session_state, ""),
    )


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
        bfd=_bfd_of(p.bfd),
    )


def _bfd_of(b: api.BfdPeerConfig) -> bgp.Bfd | None:
    """A peer's BFD reads back with gobgpd's defaults filled in even when it is off, a peer
    group's exactly as written: ``enabled`` alone says whether there is BFD."""
    if not b.enabled:
        return None
    return bgp.Bfd(
        tx_interval_us=b.desired_minimum_tx_interval,
        rx_interval_us=b.required_minimum_receive,
        multiplier=b.detection_multiplier,
        port=b.port,
    )


def _bfd_pb(b: bgp.Bfd | None) -> api.BfdPeerConfig:
    """Every field written, port included, so both a peer and a peer group read back equal."""
    if b is None:
        return api.BfdPeerConfig(enabled=False)
    return api.BfdPeerConfig(
        enabled=True,
        port=b.port,
        desired_minimum_tx_interval=b.tx_interval_us,
        required_minimum_receive=b.rx_interval_us,
        detection_multiplier=b.multiplier,
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
        "bfd": _bfd_pb(s.bfd),
    }


def _peer_pb(spec: bgp.PeerSpec, *, restarting: bool = False) -> api.Peer:
    s = spec.session
    conf = api.PeerConf(
        neighbor_address=spec.address,
        peer_asn=s.peer_asn,
        description=s.description,
        auth_password=s.auth_password,
        admin_down=spec.admin_down,
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
        # gobgpd 4.8 refuses a match set without its type: "invalid match restricted type 0"
        conditions = api.Conditions(next_hop_in_list=policy_next_hops.entries(st.next_hop_in))
        if st.neighbor_set:
            conditions.neighbor_set.CopyFrom(api.MatchSet(type=api.MatchSet.TYPE_ANY, name=st.neighbor_set))
        if st.prefix_set:
            conditions.prefix_set.CopyFrom(api.MatchSet(type=api.MatchSet.TYPE_ANY, name=st.prefix_set))
        if st.as_path_length is not None:
            conditions.as_path_length.CopyFrom(
                api.AsPathLength(type=api.COMPARISON_EQ, length=st.as_path_length)
            )
        actions = api.Actions(route_action=_ACTIONS[st.action])
        if st.set_attributes is not None:
            _set_actions(actions, st.set_attributes)
        statements.append(api.Statement(name=st.name, conditions=conditions, actions=actions))
    return api.Policy(name=spec.name, statements=statements)


def _set_actions(actions: api.Actions, s: bgp.SetAttributes) -> None:
    if s.local_pref:
        actions.local_pref.CopyFrom(api.LocalPrefAction(value=s.local_pref))
    if s.med is not None:
        actions.med.CopyFrom(api.MedAction(type=api.MedAction.TYPE_REPLACE, value=s.med))
    if s.origin_igp:
        actions.origin_action.CopyFrom(api.OriginAction(origin=api.ORIGIN_TYPE_IGP))
    if s.remove_communities:
        actions.community.CopyFrom(
            api.CommunityAction(type=api.CommunityAction.TYPE_REMOVE, communities=list(s.remove_communities))
        )


def _set_attributes_of(a: api.Actions) -> bgp.SetAttributes | None:
    """What ``_set_actions`` wrote, as gobgpd lists it back; None when it sets nothing.
    An action of another kind (MOD, ADD, REPLACE of communities) reads as something no desired
    statement has, so the plan replaces the policy."""
    found = bgp.SetAttributes(
        local_pref=a.local_pref.value if a.HasField("local_pref") else 0,
        med=(a.med.value if a.med.type == api.MedAction.TYPE_REPLACE else -1) if a.HasField("med") else None,
        origin_igp=a.HasField("origin_action") and a.origin_action.origin == api.ORIGIN_TYPE_IGP,
        remove_communities=(
            tuple(a.community.communities)
            if a.HasField("community") and a.community.type == api.CommunityAction.TYPE_REMOVE
            else ("(not a removal)",)
            if a.HasField("community")
            else ()
        ),
    )
    return None if found == bgp.SetAttributes() else found


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
                next_hop_in=policy_next_hops.networks(c.next_hop_in_list),
                as_path_length=(
                    c.as_path_length.length
                    if c.HasField("as_path_length") and c.as_path_length.type == api.COMPARISON_EQ
                    else None
                ),
                set_attributes=_set_attributes_of(st.actions),
            )
        )
    return bgp.PolicySpec(name=p.name, statements=tuple(statements))


def _local_path_pb(path: Path) -> api.Path:
    address, _, length = path.prefix.partition("/")
    return api.Path(
        nlri=nlri.NLRI(prefix=nlri.IPAddressPrefix(prefix=address, prefix_len=int(length or 32))),
        pattrs=[
            attr.Attribute(origin=attr.OriginAttribute(origin=0)),  # IGP, like the speakers' paths
            attr.Attribute(next_hop=attr.NextHopAttribute(next_hop=path.next_hop)),
        ],
        family=family_pb(bgp.Family.IPV4_UNICAST),
        identifier=path.path_id,
    )
