"""From the operator's config to the gobgpd configuration it implies. Pure."""

from __future__ import annotations

from lbroute.core import bgp

from .config import NeighborConfig, RrConfig, SpeakerGroupConfig


def _families(names: tuple[str, ...], *, receive: bool = False, send_max: int = 0) -> tuple[bgp.AfiSafi, ...]:
    return tuple(
        sorted(
            bgp.AfiSafi(bgp.Family(n), add_path_receive=receive, add_path_send_max=send_max) for n in names
        )
    )


def _speaker_group(cfg: RrConfig, group: SpeakerGroupConfig) -> bgp.PeerGroupSpec:
    return bgp.PeerGroupSpec(
        name=group.name,
        session=bgp.SessionSpec(
            peer_asn=group.peer_asn or cfg.asn,
            description=f"{bgp.OWNER_TAG}:speakers:{group.name}",
            afi_safis=_families(group.families),
            timers=bgp.Timers(group.timers.hold_time, group.timers.keepalive),
            route_reflector_client=True,
            cluster_id=cfg.cluster_id or cfg.router_id,
            # dynamic neighbors are always passive: the LB speaker connects to us
            passive=True,
        ),
    )


def _neighbor(cfg: RrConfig, n: NeighborConfig) -> bgp.PeerSpec:
    role = "upstream" if cfg.role == "route-reflector" else "rr"
    return bgp.PeerSpec(
        address=n.address,
        session=bgp.SessionSpec(
            peer_asn=n.peer_asn or cfg.asn,
            description=f"{bgp.OWNER_TAG}:{role}",
            afi_safis=_families(n.families, receive=n.add_path_receive, send_max=n.add_path_send_max),
            timers=bgp.Timers(n.timers.hold_time, n.timers.keepalive),
        ),
    )


def desired_config(cfg: RrConfig) -> bgp.DaemonConfig:
    return bgp.DaemonConfig(
        global_=bgp.GlobalSpec(
            asn=cfg.asn,
            router_id=cfg.router_id,
            listen_port=cfg.listen_port,
            listen_addresses=cfg.listen_addresses,
            # the router's ECMP switch: install every tied path, not just the best one
            use_multiple_paths=cfg.role == "router",
        ),
        peer_groups=tuple(_speaker_group(cfg, g) for g in cfg.speaker_groups),
        dynamic_neighbors=tuple(
            sorted(
                bgp.DynamicNeighborSpec(prefix=p, peer_group=g.name)
                for g in cfg.speaker_groups
                for p in g.dynamic_prefixes
            )
        ),
        peers=tuple(_neighbor(cfg, n) for n in cfg.neighbors),
        zebra=(
            bgp.ZebraSpec(url=cfg.zebra.url, version=cfg.zebra.version, software_name=cfg.zebra.software_name)
            if cfg.zebra
            else None
        ),
    ).owned()
