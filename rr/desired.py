"""From the operator's config (and what Kubernetes lists) to the gobgpd configuration it implies. Pure.

The guard rails live here as gobgpd import policy on the global RIB, one policy per
speaker group: a route from the group's speakers is accepted only if its prefix lies in
the group's VIP pools with an allowed length and its next-hop lies in a node network;
every other route from those speakers is rejected. Routes from anyone else (the
upstream router) fall through to the assignment's default, accept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from lbroute.core import bgp

from .config import BfdConfig, NeighborConfig, RrConfig, SpeakerBfdConfig, SpeakerGroupConfig, TimersConfig


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


def guard_policy_name(group: str) -> str:
    return f"{bgp.OWNER_TAG}-guard-{group}"


def _guard_rails(
    group: SpeakerGroupConfig, speakers: tuple[str, ...]
) -> tuple[tuple[bgp.DefinedSetSpec, ...], bgp.PolicySpec]:
    """One accept statement per IP version that has pools (gobgpd refuses a prefix set that
    mixes families: "multiple families"), then one reject for everything else they send."""
    speaker_set = speaker_set_name(group.name)
    policy = guard_policy_name(group.name)
    neighbors = group.dynamic_prefixes or tuple(_host_prefix(a) for a in speakers)
    sets = [bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, speaker_set, neighbors=tuple(sorted(neighbors)))]
    statements = []
    for version, suffix in ((4, ""), (6, "6")):
        matches = []
        for pool in group.vip_pools:
            net = ipaddress.ip_network(pool)
            if net.version != version:
                continue
            for length in sorted(set(group.allowed_prefix_lengths)):
                if net.prefixlen <= length <= net.max_prefixlen:
                    matches.append(bgp.PrefixMatch(str(net), length, length))
        next_hops = tuple(n for n in group.node_networks if ipaddress.ip_network(n).version == version)
        if not matches or not next_hops:
            continue  # nothing of this version is acceptable: the reject statement takes it all
        vips = f"{bgp.OWNER_TAG}-vips{suffix}-{group.name}"
        sets.append(bgp.DefinedSetSpec(bgp.SetKind.PREFIX, vips, prefixes=tuple(sorted(matches))))
        statements.append(
            bgp.StatementSpec(
                name=f"{policy}-accept{suffix}",
                action=bgp.RouteAction.ACCEPT,
                neighbor_set=speaker_set,
                prefix_set=vips,
                next_hop_in=next_hops,
            )
        )
    statements.append(
        bgp.StatementSpec(name=f"{policy}-reject", action=bgp.RouteAction.REJECT, neighbor_set=speaker_set)
    )
    return tuple(sets), bgp.PolicySpec(policy, tuple(statements))


def desired_config(
    cfg: RrConfig,
    *,
    secrets: Mapping[str, str] | None = None,
    speakers: Mapping[str, tuple[str, ...]] | None = None,
) -> bgp.DaemonConfig:
    """``secrets``: file path -> its contents (MD5 keys); ``speakers``: group -> LB pod IPs it lists.

    A Kubernetes group with no pods yet (or an API server never heard from) has no
    explicit peers and an empty neighbor set: nobody is admitted, nothing is guessed.
    """
    secrets = secrets or {}
    speakers = speakers or {}
    sets: list[bgp.DefinedSetSpec] = []
    policies: list[bgp.PolicySpec] = []
    peers = [_neighbor(cfg, n, secrets) for n in cfg.neighbors]
    groups = []
    for g in cfg.speaker_groups:
        members = tuple(sorted(set(speakers.get(g.name, ())))) if g.kubernetes else ()
        if g.kubernetes and not members:
            continue  # no speakers: nothing to guard, and an empty neighbor set would be clutter
        group_sets, policy = _guard_rails(g, members)
        sets += group_sets
        policies.append(policy)
        password = secrets.get(g.md5_password_file, "") if g.md5_password_file else ""
        if g.kubernetes:
            session = _speaker_session(cfg, g, password)
            peers += [bgp.PeerSpec(address=a, session=session) for a in members]
        else:
            groups.append(bgp.PeerGroupSpec(name=g.name, session=_speaker_session(cfg, g, password)))
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
        import_policies=tuple(p.name for p in policies),
    ).owned()
