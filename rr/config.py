"""The rr manager's config file: one model for both roles, checked whole before anything runs."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from lbroute.config import StrictModel
from lbroute.config.types import Address, Network


class TimersConfig(StrictModel):
    hold_time: int = Field(3, ge=3, le=65535)
    keepalive: int = Field(1, ge=1, le=21845)
    # how soon a dropped session is tried again (gobgpd's own defaults: 120 s and 30 s)
    connect_retry: int = Field(1, ge=1, le=65535)
    idle_hold_after_reset: int = Field(1, ge=1, le=65535)

    @model_validator(mode="after")
    def _keepalive_below_hold(self) -> TimersConfig:
        if self.keepalive * 3 > self.hold_time:
            raise ValueError(
                f"keepalive {self.keepalive} must be at most a third of hold_time {self.hold_time}"
            )
        return self


def _metrics_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"{value!r} is not host:port such as 127.0.0.1:9180") from None
    if not sep or not 0 < number < 65536:
        raise ValueError(f"{value!r} is not host:port such as 127.0.0.1:9180")
    if address.is_unspecified:
        raise ValueError(f"{value!r}: name one address (loopback or the namespace's), never all of them")
    return value


MetricsAddress = Annotated[str, AfterValidator(_metrics_address)]


class KubernetesPeersConfig(StrictModel):
    """LB speakers admitted one by one: an explicit passive peer per LB pod the API server lists."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    label_selector: str = Field(min_length=1)
    # where the API server is: a URL (tests, the fake server), a kubeconfig, or neither (in-cluster)
    api_server: str | None = None
    kubeconfig: str | None = None


class SpeakerGroupConfig(StrictModel):
    """LB speakers: admitted by source address (dynamic neighbors) or one peer per pod (kubernetes).

    Routes they send pass the guard rails: inside ``vip_pools``, a length from
    ``allowed_prefix_lengths``, a next-hop inside ``node_networks``, at most ``max_prefixes``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")
    dynamic_prefixes: tuple[Network, ...] = ()
    kubernetes: KubernetesPeersConfig | None = None
    # MD5 key (a mounted Secret): enforced only for explicit peers, gobgpd ignores it for dynamic ones
    md5_password_file: str | None = None
    peer_asn: int | None = Field(None, ge=1, le=4294967295)
    timers: TimersConfig = TimersConfig()
    families: tuple[Literal["ipv4-unicast", "ipv6-unicast"], ...] = ("ipv4-unicast",)
    vip_pools: tuple[Network, ...] = Field(min_length=1)
    allowed_prefix_lengths: tuple[int, ...] = Field((32, 128), min_length=1)
    node_networks: tuple[Network, ...] = Field(min_length=1)
    max_prefixes: int = Field(1000, ge=1, le=4294967295)

    @model_validator(mode="after")
    def _one_way_in(self) -> SpeakerGroupConfig:
        problems = []
        if bool(self.dynamic_prefixes) == (self.kubernetes is not None):
            problems.append("set exactly one of dynamic_prefixes and kubernetes")
        if self.md5_password_file and self.dynamic_prefixes:
            problems.append(
                "md5_password_file needs kubernetes (explicit peers): gobgpd does not enforce MD5 "
                "for dynamic neighbors"
            )
        for length in self.allowed_prefix_lengths:
            if not 0 <= length <= 128:
                problems.append(f"allowed_prefix_lengths: {length} is not a prefix length")
        for pool in self.vip_pools:
            net = ipaddress.ip_network(pool)
            if not any(net.prefixlen <= n <= net.max_prefixlen for n in self.allowed_prefix_lengths):
                problems.append(f"vip_pools: no allowed prefix length fits inside {pool}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class GracefulRestartConfig(StrictModel):
    """BGP graceful restart between the router and an RR (RFC 4724).

    On an RR: the router is asked to keep this RR's paths for ``restart_time`` seconds
    when this RR's gobgpd dies, and to keep forwarding on them until the restarted RR has
    sent its table again. On the router: it keeps the RR's paths that way (helper only:
    the router promises nothing about its own, zebra drops them when its gobgpd dies).
    Both sides must enable it. The price: while paths are held stale, a withdrawal the
    held RR would have passed on waits for it to come back (see docs/decisions).
    """

    restart_time: int = Field(30, ge=1, le=4095)


class NeighborConfig(StrictModel):
    """A router (role route-reflector) or an RR (role router) this daemon peers with."""

    address: Address
    peer_asn: int | None = Field(None, ge=1, le=4294967295)
    add_path_send_max: int = Field(0, ge=0, le=255)
    add_path_receive: bool = False
    md5_password_file: str | None = None
    # wait for the other side to connect. One side of each session should be passive: when
    # both connect at once, gobgpd's collision handling can keep the session flapping.
    passive: bool = False
    timers: TimersConfig = TimersConfig(hold_time=9, keepalive=3)
    graceful_restart: GracefulRestartConfig | None = None
    families: tuple[Literal["ipv4-unicast", "ipv6-unicast"], ...] = ("ipv4-unicast",)


class ZebraConfig(StrictModel):
    url: str = Field(pattern=r"^(unix:|tcp:).+")
    version: int = Field(6, ge=2, le=6)
    software_name: str = "frr8.2"


class RrConfig(StrictModel):
    role: Literal["route-reflector", "router"]
    gobgpd: str = Field(description="gRPC target: unix:///path/gobgp.sock or host:port")
    asn: int = Field(ge=1, le=4294967295)
    router_id: Address
    listen_addresses: tuple[Address, ...] = ("0.0.0.0",)
    listen_port: int = Field(179, ge=-1, le=65535)
    cluster_id: Address | None = None
    speaker_groups: tuple[SpeakerGroupConfig, ...] = ()
    neighbors: tuple[NeighborConfig, ...] = ()
    zebra: ZebraConfig | None = None
    resync_interval: float = Field(30.0, gt=0, le=3600)
    # Prometheus endpoint; None serves none. Never the unspecified address.
    metrics_address: MetricsAddress | None = None

    @model_validator(mode="after")
    def _role_rules(self) -> RrConfig:
        problems = []
        if ipaddress.ip_address(self.router_id).version != 4:
            problems.append(f"router_id {self.router_id} must be an IPv4 address")
        if self.role == "router" and self.speaker_groups:
            problems.append("speaker_groups are for role route-reflector; a router peers with its RRs")
        if self.role == "route-reflector" and self.zebra is not None:
            problems.append("zebra is for role router; the RR does not program a FIB")
        names = [g.name for g in self.speaker_groups]
        if len(set(names)) != len(names):
            problems.append(f"speaker_groups: names must be unique, got {names}")
        addresses = [n.address for n in self.neighbors]
        if len(set(addresses)) != len(addresses):
            problems.append(f"neighbors: addresses must be unique, got {addresses}")
        if problems:
            raise ValueError("\n".join(problems))
        return self
