"""From the operator's config (and what Kubernetes lists) to the gobgpd configuration it implies. Pure.

The guard rails live here as gobgpd import policy on the global RIB, one policy per
speaker group. A route from the group's speakers is accepted only if its prefix is one
the group may announce (its ``vips``, else any of its pools' allowed lengths), its AS path
is what an LB speaker sends, and its next-hop is the address of the speaker's own node:
for a pod Kubernetes lists, the node its ``status.hostIP`` names (the API's word on where the
pod runs: that node's ``addresses`` when ``nodes`` lists it, else the host IP alone); for
the rest, ``nodes`` (one accept statement per node, matching the speakers inside its pod
CIDRs), and without ``nodes`` any next-hop in the node networks. Every accepted route leaves with
the attributes best-path selection compares set alike (``NORMALIZED``), so no speaker can
pull traffic to itself or push it away. Every other route from those speakers is
rejected. Routes from anyone else (the upstream router) fall through to the assignment's
default, accept. See docs/decisions/guard-rails.md.

An LB speaker never needs a route from the RR, so the global export assignment sends it
none: one policy, a reject statement per speaker group matching the group's neighbor set
(gobgpd matches it against the peer a path is sent to), the assignment's default accept
for everyone else (the upstream router gets every path, as before). See
docs/decisions/rr-export-nothing-to-speakers.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Mapping

from lbroute.core import bgp
from lbroute.core.rib import DEFAULT_LOCAL_PREF, prefix_order

from .config import (
    BfdConfig,
    NeighborConfig,
    NodeConfig,
    RrConfig,
    SpeakerBfdConfig,
    SpeakerGroupConfig,
    TimersConfig,
)

# every standard community but GRACEFUL_SHUTDOWN (65535:0, RFC 8326: "about to withdraw,
# prefer the others", which the announcer's drain sends and must reach the router). Go's
# RE2 has no lookahead, so: an ASN below 65535, or 65535 with any other value.
COMMUNITIES_BUT_GRACEFUL_SHUTDOWN = (
    r"^(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-4]):"
    r"|^65535:[1-9]"
)
# what every accepted speaker route carries into the RIB: one LOCAL_PREF, MED 0 (what a
# path without MED counts as at gobgpd and FRR alike: gobgpd cannot delete the attribute),
# origin IGP, no community but GRACEFUL_SHUTDOWN
NORMALIZED = bgp.SetAttributes(
    local_pref=DEFAULT_LOCAL_PREF,
    med=0,
    origin_igp=True,
    remove_communities=(COMMUNITIES_BUT_GRACEFUL_SHUTDOWN,),
)


def _families(
    names: tuple[str, ...], *, receive: bool = False, send_max: int = 0, max_prefixes: int = 0
) -> tuple[bgp.AfiSafi, ...]:
    return tuple(
        sorted(
            bgp.AfiSafi(
                bgp.Family(n), add_path_receive=receive, add_path_send_max=send_max, max_prefixes=max_prefixes
            )
            for n in names
        )
    )


def _speaker_session(cfg: RrConfig, group: SpeakerGroupConfig, password: str) -> bgp.SessionSpec:
    return bgp.SessionSpec(
        peer_asn=group.peer_asn or cfg.asn,
        description=f"{bgp.OWNER_TAG}:speakers:{group.name}",
        afi_safis=_families(group.families, max_prefixes=group.max_prefixes),
        timers=_timers(group.timers),
        # not route-reflector clients: routes from non-clients are reflected to clients only,
        # so the router (a client) gets every LB's path and no LB gets the others' (seed B.3)
        route_reflector_client=False,
        # the LB speaker connects to us: dynamic neighbors are always passive, explicit ones too
        passive=True,
        auth_password=password,
        bfd=_bfd(group.bfd),
    )


def _neighbor(cfg: RrConfig, n: NeighborConfig, secrets: Mapping[str, str]) -> bgp.PeerSpec:
    reflector = cfg.role == "route-reflector"
    role = "upstream" if reflector else "rr"
    return bgp.PeerSpec(
        address=n.address,
        session=bgp.SessionSpec(
            peer_asn=n.peer_asn or cfg.asn,
            description=f"{bgp.OWNER_TAG}:{role}",
            afi_safis=_families(n.families, receive=n.add_path_receive, send_max=n.add_path_send_max),
            timers=_timers(n.timers),
            # on an RR the upstream router is the route-reflector client
            route_reflector_client=reflector,
            cluster_id=(cfg.cluster_id or cfg.router_id) if reflector else "",
            passive=n.passive,
            auth_password=secrets.get(n.md5_password_file, "") if n.md5_password_file else "",
            graceful_restart=(
                bgp.GracefulRestart(n.graceful_restart.restart_time, helper_only=not reflector)
                if n.graceful_restart
                else None
            ),
            bfd=_bfd(n.bfd),
        ),
    )


# where gobgpd sends BFD: the pod's bfdd takes multihop on 4784, another gobgpd listens on 3784 only
_BFD_PORT_SINGLE_HOP = 3784
_BFD_PORT_MULTIHOP = 4784


def _bfd(b: BfdConfig | None) -> bgp.Bfd | None:
    if b is None:
        return None
    multihop = isinstance(b, SpeakerBfdConfig) and b.multihop
    return bgp.Bfd(
        tx_interval_us=b.transmit_interval_ms * 1000,
        rx_interval_us=b.receive_interval_ms * 1000,
        multiplier=b.detect_multiplier,
        port=_BFD_PORT_MULTIHOP if multihop else _BFD_PORT_SINGLE_HOP,
    )


def _timers(t: TimersConfig) -> bgp.Timers:
    return bgp.Timers(t.hold_time, t.keepalive, t.connect_retry, t.idle_hold_after_reset)


def _host_prefix(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return f"{ip}/{ip.max_prefixlen}"


def speaker_set_name(group: str) -> str:
    return f"{bgp.OWNER_TAG}-speakers-{group}"


def node_set_name(group: str, node: str) -> str:
    return f"{bgp.OWNER_TAG}-speakers-{group}-on-{node}"


def guard_policy_prefix(group: str) -> str:
    """Every guard policy of ``group`` starts so; a digest of its statements follows, then one
    of its sets' members (``<prefix><statements>-<members>``)."""
    return f"{bgp.OWNER_TAG}-guard-{group}-"


def _prefix_matches(group: SpeakerGroupConfig, version: int) -> list[bgp.PrefixMatch]:
    if group.vips:
        nets = [ipaddress.ip_network(v) for v in group.vips]
        return sorted(bgp.PrefixMatch(str(n), n.prefixlen, n.prefixlen) for n in nets if n.version == version)
    matches = []
    for pool in group.vip_pools:
        net = ipaddress.ip_network(pool)
        if net.version != version:
            continue
        for length in sorted(set(group.allowed_prefix_lengths)):
            if net.prefixlen <= length <= net.max_prefixlen:
                matches.append(bgp.PrefixMatch(str(net), length, length))
    return sorted(matches)


def _speakers_on(node: NodeConfig, neighbors: tuple[str, ...]) -> tuple[str, ...]:
    """The part of the group's speaker ranges (CIDRs, or pods' host prefixes) inside the node's
    pod CIDRs: two CIDRs overlap only when one holds the other, so it is the smaller one."""
    out = set()
    for c in node.pod_cidrs:
        cidr = ipaddress.ip_network(c)
        for n in neighbors:
            net = ipaddress.ip_network(n)
            if net.version != cidr.version:
                continue
            if net.subnet_of(cidr):  # type: ignore[arg-type]
                out.add(str(net))
            elif cidr.subnet_of(net):  # type: ignore[arg-type]
                out.add(str(cidr))
    return _ordered(out)


def _ordered(networks: set[str]) -> tuple[str, ...]:
    return tuple(sorted(networks, key=prefix_order))


def _inside(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network,
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    return any(net.version == n.version and net.subnet_of(n) for n in networks)  # type: ignore[arg-type]


def _host_label(addresses: tuple[str, ...]) -> str:
    """A set-name part for a node known only by its host IPs (not in ``nodes``): its first
    IPv4 address (the one every pod reports, ``status.hostIP``), else its first."""
    first = min(addresses, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))
    return "host-" + first.replace(".", "-").replace(":", "-")


def _placed_by_host(
    cfg: RrConfig, speakers: tuple[str, ...], hosts: Mapping[str, tuple[str, ...]]
) -> tuple[list[tuple[str, tuple[str, ...], tuple[str, ...]]], tuple[str, ...]]:
    """(node label, its next-hop addresses, its speakers' host prefixes) for each node the
    API places speakers on, and the speakers it places nowhere."""
    by_host: dict[tuple[str, ...], list[str]] = {}
    unplaced = []
    for a in speakers:
        on = hosts.get(a, ())
        if on:
            by_host.setdefault(tuple(sorted(on)), []).append(_host_prefix(a))
        else:
            unplaced.append(a)
    # label -> (next-hop addresses, pods): pods that report a node's host IPs differently
    # (one only its IPv4, another both) are on the same node, with every address reported
    nodes: dict[str, tuple[set[str], set[str]]] = {}
    for on, pods in sorted(by_host.items()):
        node = next((n for n in cfg.nodes if set(on) & set(n.addresses)), None)
        label, addresses = (node.name, tuple(node.addresses)) if node is not None else (_host_label(on), on)
        entry = nodes.setdefault(label, (set(), set()))
        entry[0].update(addresses)
        entry[1].update(pods)
    placed = [(label, _ordered(a), _ordered(p)) for label, (a, p) in nodes.items()]
    return placed, tuple(unplaced)


def _guard_rails(
    cfg: RrConfig,
    group: SpeakerGroupConfig,
    speakers: tuple[str, ...],
    hosts: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[tuple[bgp.DefinedSetSpec, ...], bgp.PolicySpec]:
    """Accept statements per node (or for all node networks) and IP version that has VIPs
    (gobgpd refuses a prefix set that mixes families: "multiple families"), then one reject
    for everything else the group's speakers send.

    The policy is named after a digest of its statements and one of its sets' members: a
    change of either is a new policy, added beside the old (after its sets are written) and
    swapped in with the import assignment in one call (``bgp.plan``), so no route meets a
    moment without guard rails, nor a policy that still sees the sets as they were."""
    speaker_set = speaker_set_name(group.name)
    neighbors = group.dynamic_prefixes or tuple(_host_prefix(a) for a in speakers)
    sets = [bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, speaker_set, neighbors=tuple(sorted(neighbors)))]
    # an LB speaker sends an empty AS path over iBGP, its own AS alone over eBGP
    as_path_length = 0 if (group.peer_asn or cfg.asn) == cfg.asn else 1
    node_nets = [ipaddress.ip_network(n) for n in group.node_networks]
    # (statement name suffix, neighbor set, next-hop networks) for each way in
    ways: list[tuple[str, str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]]] = []
    placed, unplaced = _placed_by_host(cfg, speakers, hosts or {}) if group.kubernetes else ([], speakers)
    if placed:
        # the API placed some speakers; the rest keep the config's placement, on their own
        neighbors = tuple(_host_prefix(a) for a in unplaced)
    # node label -> (its next-hop addresses, its speakers): the config's nodes first, in order
    nodes: dict[str, tuple[tuple[str, ...], set[str]]] = {}
    if cfg.nodes and neighbors:
        for node in cfg.nodes:
            by_cidr = _speakers_on(node, neighbors)
            if by_cidr:  # no statement on an empty neighbor set: never rely on what gobgpd matches then
                nodes[node.name] = (tuple(node.addresses), set(by_cidr))
    for label, addresses, pods in placed:
        nodes.setdefault(label, (addresses, set()))[1].update(pods)
    for label, (addresses, members) in nodes.items():
        name = node_set_name(group.name, label)
        sets.append(bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, name, neighbors=_ordered(members)))
        # a node address outside the node networks is a config problem (or, from the API, a
        # host IP no next-hop may be): never a next-hop; its speakers' routes are all rejected
        hops = [ipaddress.ip_network(_host_prefix(a)) for a in addresses]
        ways.append((f"{label}-", name, [h for h in hops if _inside(h, node_nets)]))
    if cfg.nodes or not neighbors:
        pass  # every speaker is on a node (or on none: the reject statement takes its routes)
    elif placed:
        name = f"{speaker_set}-unplaced"
        sets.append(bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, name, neighbors=_ordered(set(neighbors))))
        ways.append(("unplaced-", name, node_nets))
    else:
        ways.append(("", speaker_set, node_nets))
    statements = []
    for version, suffix in ((4, ""), (6, "6")):
        matches = _prefix_matches(group, version)
        if not matches:
            continue  # nothing of this version is acceptable: the reject statement takes it all
        vips = f"{bgp.OWNER_TAG}-vips{suffix}-{group.name}"
        sets.append(bgp.DefinedSetSpec(bgp.SetKind.PREFIX, vips, prefixes=tuple(matches)))
        for name, neighbor_set, hops in ways:
            next_hops = tuple(str(h) for h in hops if h.version == version)
            if not next_hops:
                continue
            statements.append(
                bgp.StatementSpec(
                    name=f"{name}accept{suffix}",
                    action=bgp.RouteAction.ACCEPT,
                    neighbor_set=neighbor_set,
                    prefix_set=vips,
                    next_hop_in=next_hops,
                    as_path_length=as_path_length,
                    set_attributes=NORMALIZED,
                )
            )
    statements.append(
        bgp.StatementSpec(name="reject", action=bgp.RouteAction.REJECT, neighbor_set=speaker_set)
    )
    # two digests: the statements, then the members of the sets they name. gobgpd 4.8 binds a
    # policy to the set objects there when the policy is added; a set written again is a new
    # object only later policies see (measured: tests/integration/test_rr_guard_binding.py),
    # so a pod joining a node with pods would otherwise be in neither set the policy holds
    # and meet the default accept. Members alone changed: ``bgp.plan`` sees the same statements
    # digest and judges again only the peers that entered or left a set.
    rules = hashlib.sha256(repr(statements).encode()).hexdigest()[:8]
    contents = hashlib.sha256(repr([(s.name, s.neighbors, s.prefixes) for s in sets]).encode()).hexdigest()[
        :8
    ]
    policy = f"{guard_policy_prefix(group.name)}{rules}-{contents}"
    named = tuple(dataclasses.replace(st, name=f"{policy}-{st.name}") for st in statements)
    return tuple(sets), bgp.PolicySpec(policy, named)


def export_policy_prefix() -> str:
    """The export policy starts so; a digest of its statements and its sets' members follows."""
    return f"{bgp.OWNER_TAG}-export-"


def _nothing_to_speakers(sets: list[bgp.DefinedSetSpec]) -> bgp.PolicySpec | None:
    """One reject statement per speaker group with speakers, on the group's own neighbor set
    (never empty: a group without speakers has none, and an empty neighbor set matches every
    peer in gobgpd 4.8, the router too). None when there is no group: nothing to keep.

    Named after a digest of its statements *and of those sets' members*: gobgpd 4.8 binds a
    policy's conditions to the set objects there when the policy is added, and a set written
    again (``AddDefinedSet`` with ``replace``) is a new object that only policies added later
    see (measured). A pod that comes or goes is therefore a new export policy, added after its
    set is written and swapped in; it needs no ``Resend``: a new pod's session starts after."""
    if not sets:
        return None
    statements = [
        bgp.StatementSpec(
            name=f"reject-{s.name.removeprefix(speaker_set_name(''))}",
            action=bgp.RouteAction.REJECT,
            neighbor_set=s.name,
        )
        for s in sets
    ]
    digest = hashlib.sha256(repr((statements, [s.neighbors for s in sets])).encode()).hexdigest()[:8]
    policy = f"{export_policy_prefix()}{digest}"
    named = tuple(dataclasses.replace(st, name=f"{policy}-{st.name}") for st in statements)
    return bgp.PolicySpec(policy, named)


def desired_config(
    cfg: RrConfig,
    *,
    secrets: Mapping[str, str] | None = None,
    speakers: Mapping[str, tuple[str, ...]] | None = None,
    hosts: Mapping[str, tuple[str, ...]] | None = None,
    held: frozenset[str] = frozenset(),
) -> bgp.DaemonConfig:
    """``secrets``: file path -> its contents (MD5 keys); ``speakers``: group -> LB pod IPs it
    lists; ``hosts``: LB pod IP -> the host IPs of the node it runs on (``status.hostIPs``);
    ``held``: speaker addresses held down (damped after max-prefix shutdowns): each is a peer
    in admin state down, whose connections gobgpd refuses, an explicit one beside its
    dynamic range for a dynamic speaker (``lbroute.core.damping``).

    A Kubernetes group with no pods yet (or an API server never heard from) has no
    explicit peers and an empty neighbor set: nobody is admitted, nothing is guessed.
    """
    secrets = secrets or {}
    speakers = speakers or {}
    sets: list[bgp.DefinedSetSpec] = []
    policies: list[bgp.PolicySpec] = []
    peers = [_neighbor(cfg, n, secrets) for n in cfg.neighbors]
    groups = []
    guarded: list[bgp.DefinedSetSpec] = []  # the neighbor sets of the groups with speakers
    for g in cfg.speaker_groups:
        members = tuple(sorted(set(speakers.get(g.name, ())))) if g.kubernetes else ()
        if g.kubernetes and not members:
            continue  # no speakers: nothing to guard, and an empty neighbor set would be clutter
        group_sets, policy = _guard_rails(cfg, g, members, hosts)
        sets += group_sets
        policies.append(policy)
        guarded += [s for s in group_sets if s.name == speaker_set_name(g.name)]
        password = secrets.get(g.md5_password_file, "") if g.md5_password_file else ""
        session = _speaker_session(cfg, g, password)
        if g.kubernetes:
            peers += [bgp.PeerSpec(address=a, session=session, admin_down=a in held) for a in members]
        else:
            groups.append(bgp.PeerGroupSpec(name=g.name, session=session))
            ranges = [ipaddress.ip_network(p) for p in g.dynamic_prefixes]
            holding = dataclasses.replace(session, description=f"{bgp.OWNER_TAG}:held:{g.name}")
            peers += [
                bgp.PeerSpec(address=a, session=holding, admin_down=True)
                for a in sorted(held)
                if any(ipaddress.ip_address(a) in r for r in ranges)
            ]
    imports = tuple(p.name for p in policies)
    export = _nothing_to_speakers(guarded)
    if export is not None:
        policies.append(export)
    return bgp.DaemonConfig(
        global_=bgp.GlobalSpec(
            asn=cfg.asn,
            router_id=cfg.router_id,
            listen_port=cfg.listen_port,
            listen_addresses=cfg.listen_addresses,
            # the router's ECMP switch: install every tied path, not just the best one
            use_multiple_paths=cfg.role == "router",
        ),
        peer_groups=tuple(groups),
        dynamic_neighbors=tuple(
            sorted(
                bgp.DynamicNeighborSpec(prefix=p, peer_group=g.name)
                for g in cfg.speaker_groups
                for p in g.dynamic_prefixes
            )
        ),
        peers=tuple(peers),
        zebra=(
            bgp.ZebraSpec(url=cfg.zebra.url, version=cfg.zebra.version, software_name=cfg.zebra.software_name)
            if cfg.zebra
            else None
        ),
        defined_sets=tuple(sets),
        policies=tuple(policies),
        import_policies=imports,
        export_policies=(export.name,) if export is not None else (),
    ).owned()
