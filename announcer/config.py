"""The announcer's config: services, their VIPs, and the next-hops (the node's IPs).

Everything exabgp would take without a word and the router could not use is refused
here: a next-hop of the wrong family or one that is nobody's address (0.0.0.0, loopback,
multicast, broadcast), an IPv6 router-id, a command that would write into exabgp.conf.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from lbroute.config import Problem, StrictModel
from lbroute.config.types import Address, address

from .state import NextHops, ServiceRoutes

SHOWN = 60  # characters of a bad value echoed back in an error


def shown(value: str) -> str:
    """A value as an error echoes it: quoted, and cut after SHOWN characters."""
    return repr(value) if len(value) <= SHOWN else repr(value[:SHOWN]) + "..."


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(value)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:0.0.0.0 is 0.0.0.0 to the kernel
    return ip


def _one_address(value: str) -> str:
    """A listening address that names one interface's address, never every address."""
    if _ip(value).is_unspecified:
        raise ValueError(
            f"{value} would listen on every address; name one, such as 127.0.0.1 or the pod's IP"
        )
    return value


def usable_next_hop(value: str) -> str:
    """The address canonical, or a ValueError: a next-hop the router can forward to."""
    value = address(value)
    ip = _ip(value)
    if ip.is_unspecified:
        why = "is the unspecified address"
    elif ip.is_loopback:
        why = "is a loopback address"
    elif ip.is_multicast:
        why = "is a multicast address"
    elif ip == ipaddress.IPv4Address("255.255.255.255"):
        why = "is the broadcast address"
    elif ip.is_link_local and ip.version == 6:
        why = "is link-local (BGP needs the node's global IPv6 address)"
    else:
        return value
    raise ValueError(f"{value} {why}; a next-hop is the node's own address (status.hostIP)")


def _ipv6_next_hop(value: str) -> str:
    if ipaddress.ip_address(value).version != 6:
        raise ValueError(f"{value} is IPv4; next_hop6 is the node's IPv6 address (IPv4 goes in next_hop)")
    return value


def next_hop_value(value: str, *, six: bool = False) -> str:
    """A next-hop given on the command line or in the environment, checked like one in the file."""
    checked = usable_next_hop(value)
    return _ipv6_next_hop(checked) if six else checked


def _ipv4_router_id(value: str) -> str:
    if ipaddress.ip_address(value).version != 4:
        raise ValueError(f"{value} is IPv6; a BGP router-id is an IPv4 address such as 10.0.0.11")
    return value


# characters that mean something to exabgp's config syntax: ; { } end or open a statement,
# # starts a comment, quotes group words, a backslash escapes, a newline starts a new line
_CONF_SYNTAX = set(";{}#\"\\'")


def command_line(value: str) -> str:
    """``value``, or a ValueError if exabgp.conf's ``run`` line could not hold it as it is."""
    bad = sorted({c for c in value if c in _CONF_SYNTAX or not c.isprintable()})
    if bad:
        raise ValueError(
            f"{shown(value)}: a command may not hold {' '.join(repr(c) for c in bad)}; exabgp.conf "
            "gives ; { } # quotes and backslashes their own meaning (write a wrapper script instead)"
        )
    if not value.strip():
        raise ValueError("the command is empty")
    return value


def _vip(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        why = str(err).replace(repr(value), "it")
        raise ValueError(
            f"{shown(value)} is not a VIP; write it as 10.1.1.1/32 or 2001:db8::1/128 ({why})"
        ) from None
    if net.prefixlen != net.max_prefixlen:
        raise ValueError(f"{shown(value)}: a VIP is a single address, /32 for IPv4 or /128 for IPv6")
    return str(net)


def _community(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and int(p) <= 65535 for p in parts):
        raise ValueError(f"{shown(value)} is not a community; write ASN:VALUE such as 65021:100")
    return value


Vip = Annotated[str, AfterValidator(_vip)]
Community = Annotated[str, AfterValidator(_community)]
NextHop = Annotated[str, AfterValidator(usable_next_hop)]
NextHop6 = Annotated[str, AfterValidator(usable_next_hop), AfterValidator(_ipv6_next_hop)]
ListenAddress = Annotated[str, AfterValidator(address), AfterValidator(_one_address)]
RouterId = Annotated[str, AfterValidator(address), AfterValidator(_ipv4_router_id)]
CommandLine = Annotated[str, AfterValidator(command_line)]


class HealthCheckConfig(StrictModel):
    """One probe per service: ``http`` (status, optional body match), ``tcp`` connect, ``exec``,
    or ``dataplane``: ``lbroute-dataplane``'s status file says the kernel holds its table and
    the service has a ready backend (docs/decisions/dataplane-gate.md)."""

    kind: Literal["http", "tcp", "exec", "dataplane"]
    url: str | None = None  # http
    expect_status: int = Field(200, ge=100, le=599)
    body_contains: str | None = None
    host: str | None = None  # tcp
    port: int | None = Field(None, ge=1, le=65535)
    command: tuple[str, ...] = ()  # exec, argv (no shell)
    status_file: str | None = None  # dataplane: lbroute-dataplane's status_file
    dataplane_service: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,23}$"
    )  # default: this service's name
    max_age: float = Field(30.0, gt=0, le=3600)  # dataplane: an older status fails (the controller is gone)
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
        if self.kind == "dataplane" and not self.status_file:
            raise ValueError("a dataplane check needs status_file: the path lbroute-dataplane writes")
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

    def routes(self) -> ServiceRoutes:
        """The one place a service's routes are made (a Kubernetes one has no VIPs yet)."""
        return ServiceRoutes(
            self.name,
            None if self.kubernetes else self.vips,
            self.communities,
            self.med,
            self.local_preference,
        )


class ExabgpNeighbor(StrictModel):
    address: Address
    md5_password_file: str | None = None


class BfdConfig(StrictModel):
    """FRR's bfdd beside exabgp: one BFD session to each neighbor, from ``local_address``
    (``render-bfdd-config``; docs/decisions/bfd.md). exabgp has no BFD of its own; the route
    reflector's gobgpd resets the BGP session when this one stops answering.

    The pod sits behind its node, so the sessions are multihop (RFC 5883, port 4784) and a
    packet from the route reflector must arrive with a TTL of at least ``minimum_ttl``
    (254: one routed hop). ``multihop: false`` for a pod on the route reflector's own link.
    The timers must match the route reflector's speaker group (300 ms x 3 both by default).
    """

    transmit_interval_ms: int = Field(300, ge=10, le=60000)
    receive_interval_ms: int = Field(300, ge=10, le=60000)
    detect_multiplier: int = Field(3, ge=2, le=255)
    multihop: bool = True
    minimum_ttl: int = Field(254, ge=1, le=254)


class ExabgpConfig(StrictModel):
    """What ``render-exabgp-config`` writes: the route reflector session(s) of this pod.

    exabgp 4.2 has no keepalive setting: it sends keepalives every hold_time/3, so the
    default hold time 3 gives keepalive 1.
    """

    neighbors: tuple[ExabgpNeighbor, ...] = Field(min_length=1)
    # the pod's own address; when not set here, read at render time from local_address_env,
    # which the downward API fills (status.podIP): one config for every pod of a DaemonSet
    local_address: Address | None = None
    local_address_env: str = "POD_IP"
    router_id: RouterId | None = Field(None, validate_default=True)
    asn: int = Field(65021, ge=1, le=4294967295)
    hold_time: int = Field(3, ge=3, le=65535)
    families: tuple[Literal["ipv4 unicast", "ipv6 unicast"], ...] = Field(("ipv4 unicast",), min_length=1)
    # None: the lbroute-announcer that renders exabgp.conf, run with the file it renders
    # (so the path is right wherever it is installed: a venv, /usr/local, the image)
    announcer_command: CommandLine | None = None
    # bfdd's sessions to the same neighbors (render-bfdd-config); None: no BFD
    bfd: BfdConfig | None = None

    @field_validator("local_address")
    @classmethod
    def _one_family(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (why := _family_problem(value, info.data.get("neighbors") or ())):
            raise ValueError(why)
        return value

    @field_validator("router_id")
    @classmethod
    def _router_id_for_ipv6(cls, value: str | None, info: ValidationInfo) -> str | None:
        local = info.data.get("local_address")
        if value is None and local and ipaddress.ip_address(local).version == 6:
            raise ValueError(_NO_ROUTER_ID.format(local=local, where="local_address"))
        return value

    def resolve_local_address(
        self, environ: dict[str, str] | None = None
    ) -> tuple[str | None, list[Problem]]:
        """``local_address``, else ``$local_address_env`` checked as the file's value would be."""
        if self.local_address is not None:
            return self.local_address, []
        env = os.environ if environ is None else environ
        var = self.local_address_env
        raw = env.get(var, "")
        if not raw:
            why = f"not set and ${var} is empty; set local_address or give the pod {var} from status.podIP"
            return None, [Problem("exabgp.local_address", why)]
        try:
            value = address(raw)
        except ValueError as err:
            return None, [Problem(f"${var}", str(err))]
        family = _family_problem(value, self.neighbors)
        if family is not None:
            return None, [Problem(f"${var}", family)]
        if self.router_id is None and ipaddress.ip_address(value).version == 6:
            return None, [Problem("exabgp.router_id", _NO_ROUTER_ID.format(local=value, where=f"${var}"))]
        return value, []


_NO_ROUTER_ID = (
    "required when {where} is IPv6 ({local}); a BGP router-id is an IPv4 address such as 10.0.0.11"
)


def _family_problem(local: str, neighbors: tuple[ExabgpNeighbor, ...]) -> str | None:
    version = ipaddress.ip_address(local).version
    for i, neighbor in enumerate(neighbors):
        if ipaddress.ip_address(neighbor.address).version != version:
            return (
                f"{local} and neighbors[{i}].address {neighbor.address} are of different families; "
                "exabgp needs both of one"
            )
    return None


class KubernetesConfig(StrictModel):
    server: str | None = None  # explicit URL (tests); else kubeconfig, else in-cluster
    kubeconfig: str | None = None


class MetricsConfig(StrictModel):
    address: ListenAddress = "127.0.0.1"
    # instead of address: the pod's own address from this variable (status.podIP), read at
    # start and checked the same way, so one config serves every pod and Prometheus reaches it
    address_env: str | None = None
    port: int = Field(9473, ge=0, le=65535)  # 0: no metrics listener

    def resolve_address(self, environ: dict[str, str] | None = None) -> tuple[str | None, list[Problem]]:
        if self.address_env is None:
            return self.address, []
        env = os.environ if environ is None else environ
        raw = env.get(self.address_env, "")
        if not raw:
            var = self.address_env
            why = f"${var} is empty; give the pod {var} from status.podIP, or set address"
            return None, [Problem("metrics.address_env", why)]
        try:
            return _one_address(address(raw)), []
        except ValueError as err:
            return None, [Problem(f"${self.address_env}", str(err))]


class AnnouncerConfig(StrictModel):
    # the node's address (status.hostIP): IPv4 VIPs go out via it, and IPv6 VIPs too when it
    # is IPv6 and no next_hop6 is given; next_hop6 is the IPv6 one of a dual-stack node
    next_hop: NextHop | None = None
    next_hop_env: str = "NODE_IP"
    next_hop6: NextHop6 | None = None
    next_hop6_env: str = "NODE_IP6"
    services: tuple[ServiceConfig, ...] = ()
    # the maintenance switch: withdraw while this file exists (or between SIGUSR1 and SIGUSR2)
    maintenance_file: str | None = None
    # the drain protocol (docs/decisions/drain-protocol.md)
    control_socket: str | None = None
    drain_marker: str | None = None
    drain_seconds: float = Field(5.0, ge=0, le=3600)
    # make-before-break (docs/decisions/make-before-break-drain.md): a drain first marks the
    # routes GRACEFUL_SHUTDOWN (65535:0) for drain_seconds, then withdraws. Only for a router
    # whose FIB keeps a marked next-hop's busy buckets (lbroute-rr's fib mode resilient);
    # off: withdraw, then drain_seconds (what any router understands)
    drain_graceful_shutdown: bool = False
    # with drain_graceful_shutdown: withdraw as soon as no TCP connection to a VIP is left in
    # the pod's network namespace (read from /proc/net/tcp), at the latest after drain_seconds
    drain_ends_when_idle: bool = False
    ack_timeout: float = Field(5.0, gt=0, le=60)
    metrics: MetricsConfig = MetricsConfig()
    exabgp: ExabgpConfig | None = None
    kubernetes: KubernetesConfig | None = None

    @model_validator(mode="after")
    def _idle_needs_marking(self) -> AnnouncerConfig:
        if self.drain_ends_when_idle and not self.drain_graceful_shutdown:
            raise ValueError(
                "drain_ends_when_idle needs drain_graceful_shutdown: true (a plain drain withdraws at once)"
            )
        forwarding = [i for i, s in enumerate(self.services) if s.check and s.check.kind == "dataplane"]
        if self.drain_ends_when_idle and forwarding:
            # a forwarding data plane holds no socket on a VIP: the pod would look idle at once
            raise ValueError(
                f"drain_ends_when_idle counts the pod's sockets on its VIPs, and services[{forwarding[0]}] "
                "has a dataplane check: its data plane forwards and holds none, so the drain would end "
                "at once; drop drain_ends_when_idle (the drain then marks for drain_seconds)"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> AnnouncerConfig:
        names = [s.name for s in self.services]
        if len(names) != len(set(names)):
            raise ValueError(f"services: names must be unique, got {names}")
        vips = [v for s in self.services for v in s.vips]
        if len(vips) != len(set(vips)):
            raise ValueError(f"services: a VIP belongs to one service, got {sorted(vips)}")
        return self

    @field_validator("next_hop6")
    @classmethod
    def _next_hop6_beside_an_ipv4_next_hop(cls, value: str | None, info: ValidationInfo) -> str | None:
        first = info.data.get("next_hop")
        if value and first and ipaddress.ip_address(first).version == 6:
            raise ValueError(
                f"next_hop {first} is IPv6 already; give next_hop the node's IPv4 address, or drop next_hop6"
            )
        return value

    @field_validator("exabgp")
    @classmethod
    def _families_for_the_vips(cls, value: ExabgpConfig | None, info: ValidationInfo) -> ExabgpConfig | None:
        if value is None:
            return value
        problems = []
        for i, service in enumerate(info.data.get("services") or ()):
            for j, vip in enumerate(service.vips):
                family = "ipv6 unicast" if ":" in vip else "ipv4 unicast"
                if family not in value.families:
                    problems.append(f"families has no {family} for services[{i}].vips[{j}] {vip}; add it")
        if problems:
            raise ValueError("\n".join(problems))
        return value

    @property
    def uses_kubernetes(self) -> bool:
        return any(s.kubernetes is not None for s in self.services)

    def resolve_next_hops(self, environ: dict[str, str] | None = None) -> tuple[NextHops, list[Problem]]:
        """The node's next-hops: ``next_hop``/``next_hop6`` if set, else the env vars the downward
        API fills; and a problem for every static VIP no next-hop fits."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []

        def take(value: str | None, var: str, *, six: bool) -> str | None:
            if value:
                return value  # from the file: checked by the model already
            raw = env.get(var, "")
            if not raw:
                return None
            try:
                return next_hop_value(raw, six=six)
            except ValueError as err:
                problems.append(Problem(f"${var}", str(err).replace(repr(raw), shown(raw))))
                return None

        first = take(self.next_hop, self.next_hop_env, six=False)
        second = take(self.next_hop6, self.next_hop6_env, six=True)
        if problems:
            return NextHops(), problems
        if first is None and second is None:
            return NextHops(), [
                Problem(
                    "next_hop",
                    f"not set and ${self.next_hop_env} is empty; set next_hop or give the pod "
                    f"{self.next_hop_env} from status.hostIP",
                )
            ]
        first_is_v6 = first is not None and ipaddress.ip_address(first).version == 6
        if first_is_v6 and second is not None:
            return NextHops(), [
                Problem(
                    "next_hop",
                    f"{first} (from next_hop or ${self.next_hop_env}) is IPv6 and there is an IPv6 "
                    "next_hop6 too; give next_hop the node's IPv4 address",
                )
            ]
        hops = NextHops(v4=None if first_is_v6 else first, v6=second or (first if first_is_v6 else None))
        for i, service in enumerate(self.services):
            for j, vip in enumerate(service.vips):
                if hops.for_prefix(vip) is None:
                    problems.append(Problem(f"services[{i}].vips[{j}]", self.no_next_hop(vip, hops)))
        return hops, problems

    def no_next_hop(self, vip: str, hops: NextHops) -> str:
        """What to do about a VIP whose family has no next-hop."""
        if ":" in vip:
            return (
                f"{vip} is IPv6 and there is no IPv6 next-hop; set next_hop6 or give the pod "
                f"${self.next_hop6_env} (the node's IPv6 address, from status.hostIPs)"
            )
        have = f" ({hops.v6} is IPv6)" if hops.v6 else ""
        return (
            f"{vip} is IPv4 and there is no IPv4 next-hop{have}; set next_hop or give the pod "
            f"${self.next_hop_env} (the node's IPv4 address, from status.hostIP)"
        )
