"""The announcer's config: services, their VIPs, and the next-hop (the node's IP)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from lbroute.config import StrictModel
from lbroute.config.types import Address, address


def _vip(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        raise ValueError(
            f"{value!r} is not a VIP; write it as 10.1.1.1/32 or 2001:db8::1/128 ({err})"
        ) from None
    if net.prefixlen != net.max_prefixlen:
        raise ValueError(f"{value!r}: a VIP is a single address, /32 for IPv4 or /128 for IPv6")
    return str(net)


def _community(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and int(p) <= 65535 for p in parts):
        raise ValueError(f"{value!r} is not a community; write ASN:VALUE such as 65021:100")
    return value


Vip = Annotated[str, AfterValidator(_vip)]
Community = Annotated[str, AfterValidator(_community)]


class HealthCheckConfig(StrictModel):
    """One probe per service: ``http`` (status, optional body match), ``tcp`` connect or ``exec``."""

    kind: Literal["http", "tcp", "exec"]
    url: str | None = None  # http
    expect_status: int = Field(200, ge=100, le=599)
    body_contains: str | None = None
    host: str | None = None  # tcp
    port: int | None = Field(None, ge=1, le=65535)
    command: tuple[str, ...] = ()  # exec, argv (no shell)
    interval: float = Field(1.0, gt=0, le=3600)
    timeout: float = Field(0.5, gt=0, le=60)
    rise: int = Field(3, ge=1, le=100)
    fall: int = Field(3, ge=1, le=100)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> HealthCheckConfig:
        if self.kind == "http" and not (self.url or "").startswith("http://"):
            raise ValueError("an http check needs url: http://HOST:PORT/PATH")
        if self.kind == "tcp" and (not self.host or not self.port):
            raise ValueError("a tcp check needs host and port")
        if self.kind == "exec" and not self.command:
            raise ValueError("an exec check needs command: [argv, ...]")
        if self.timeout > self.interval:
            raise ValueError(f"timeout {self.timeout} is longer than interval {self.interval}")
        return self


class KubernetesServiceConfig(StrictModel):
    """VIPs from a Service's status.loadBalancer.ingress (see docs/decisions/service-vip-source.md)."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    withdraw_without_endpoints: bool = False


class ServiceConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    vips: tuple[Vip, ...] = ()
    kubernetes: KubernetesServiceConfig | None = None
    communities: tuple[Community, ...] = ()
    med: int | None = Field(None, ge=0, le=4294967295)
    local_preference: int | None = Field(None, ge=0, le=4294967295)
    check: HealthCheckConfig | None = None

    @model_validator(mode="after")
    def _has_a_vip_source(self) -> ServiceConfig:
        if not self.vips and self.kubernetes is None:
            raise ValueError("give vips, or kubernetes: {namespace, name} to take them from a Service")
        return self


class ExabgpNeighbor(StrictModel):
    address: Address
    md5_password_file: str | None = None


class ExabgpConfig(StrictModel):
    """What ``render-exabgp-config`` writes: the route reflector session(s) of this pod.

    exabgp 4.2 has no keepalive setting: it sends keepalives every hold_time/3, so the
    default hold time 3 gives keepalive 1.
    """

    neighbors: tuple[ExabgpNeighbor, ...] = Field(min_length=1)
    local_address: Address
    router_id: Address | None = None
    asn: int = Field(65021, ge=1, le=4294967295)
    hold_time: int = Field(3, ge=3, le=65535)
    families: tuple[Literal["ipv4 unicast", "ipv6 unicast"], ...] = Field(("ipv4 unicast",), min_length=1)
    announcer_command: str = "/usr/local/bin/lbroute-announcer run --config /etc/lbroute/announcer.yaml"


class KubernetesConfig(StrictModel):
    server: str | None = None  # explicit URL (tests); else kubeconfig, else in-cluster
    kubeconfig: str | None = None


class MetricsConfig(StrictModel):
    address: Address = "127.0.0.1"
    port: int = Field(9473, ge=0, le=65535)  # 0: no metrics listener


class AnnouncerConfig(StrictModel):
    next_hop: Address | None = None
    next_hop_env: str = "NODE_IP"
    services: tuple[ServiceConfig, ...] = ()
    # the maintenance switch: withdraw while this file exists (or between SIGUSR1 and SIGUSR2)
    maintenance_file: str | None = None
    # the drain protocol (docs/decisions/drain-protocol.md)
    control_socket: str | None = None
    drain_marker: str | None = None
    drain_seconds: float = Field(5.0, ge=0, le=3600)
    ack_timeout: float = Field(5.0, gt=0, le=60)
    metrics: MetricsConfig = MetricsConfig()
    exabgp: ExabgpConfig | None = None
    kubernetes: KubernetesConfig | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> AnnouncerConfig:
        names = [s.name for s in self.services]
        if len(names) != len(set(names)):
            raise ValueError(f"services: names must be unique, got {names}")
        vips = [v for s in self.services for v in s.vips]
        if len(vips) != len(set(vips)):
            raise ValueError(f"services: a VIP belongs to one service, got {sorted(vips)}")
        return self

    @property
    def uses_kubernetes(self) -> bool:
        return any(s.kubernetes is not None for s in self.services)

    def resolve_next_hop(self, environ: dict[str, str] | None = None) -> str:
        """The node's IP: ``next_hop`` if set, else the env var the downward API fills."""
        if self.next_hop:
            return self.next_hop
        env = os.environ if environ is None else environ
        value = env.get(self.next_hop_env, "")
        if not value:
            raise ValueError(
                f"next_hop: not set and ${self.next_hop_env} is empty; set next_hop or give the pod "
                f"{self.next_hop_env} from status.hostIP"
            )
        return address(value)
