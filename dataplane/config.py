"""``lbroute-dataplane``'s and ``lbroute-realserver``'s config: services, where their backends
come from, the Maglev parameters every pod shares, and what the driver may do.

Refused here, before anything touches a kernel: a service without a backend source, two
services on one VIP and port, a DSCP missing or shared under nft-dsr (the backends tell the
services apart by it), a port change under nft-dsr (the backend answers from the VIP and
port the client used, so there is nothing to translate back), a table size that is not a
prime, a static backend outside the pod networks, a listening wildcard.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from lbroute.config import Problem, StrictModel
from lbroute.config.types import Address, Network, is_wildcard, shorten
from lbroute.core import maglev
from lbroute.core.dataplane import ServiceSpec

DRIVERS = ("nft-nat", "nft-dsr", "ipvs")
Driver = Literal["nft-nat", "nft-dsr", "ipvs"]
NAME = r"^[a-z][a-z0-9_]{0,23}$"  # names nft maps (<name>_buckets): an identifier
K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
NETNS = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_SERVICES = 64
MAX_STATIC_BACKENDS = 1024
DSCP_SECOND_CHANCE = 32  # added to a service's DSCP on a packet's second chance


def _ipv4(value: str) -> str:
    if ipaddress.ip_address(value).version != 4:
        raise ValueError("the data plane forwards IPv4 only; give an IPv4 address such as 10.1.1.1")
    return value


def _table_size(value: int) -> int:
    problem = maglev.size_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _one_address(value: str) -> str:
    if is_wildcard(ipaddress.ip_address(value)):
        raise ValueError("this would listen on every address; name one, such as 127.0.0.1 or the pod's IP")
    return value


Ipv4 = Annotated[Address, AfterValidator(_ipv4)]
ListenAddress = Annotated[Address, AfterValidator(_one_address)]


class KubernetesBackends(StrictModel):
    """Backends from the EndpointSlices of one Service (label kubernetes.io/service-name)."""

    namespace: str = Field(pattern=K8S_NAME)
    service: str = Field(pattern=K8S_NAME)
    # which of the slice's ports is the target port; with one port, that one
    port_name: str | None = Field(None, max_length=63)


class ServiceConfig(StrictModel):
    name: str = Field(pattern=NAME)
    vip: Ipv4
    port: int = Field(ge=1, le=65535)
    target_port: int | None = Field(None, ge=1, le=65535)  # default: port
    dscp: int = Field(0, ge=0, le=31)  # nft-dsr: 1-31, one per service
    backends: tuple[Ipv4, ...] | None = Field(None, max_length=MAX_STATIC_BACKENDS)
    draining: tuple[Ipv4, ...] = Field((), max_length=MAX_STATIC_BACKENDS)  # static: terminating
    kubernetes: KubernetesBackends | None = None

    def spec(self) -> ServiceSpec:
        return ServiceSpec(self.name, self.vip, self.port, self.target_port or self.port, self.dscp)


class MaglevConfig(StrictModel):
    """Every LB pod of a service must use the same two numbers, or they disagree on backends."""

    table_size: Annotated[int, AfterValidator(_table_size)] = maglev.DEFAULT_SIZE
    seed: int = Field(0x5EED, ge=0, le=(1 << 32) - 1)


class MetricsConfig(StrictModel):
    address: ListenAddress = "127.0.0.1"
    port: int = Field(9474, ge=0, le=65535)  # 0: no metrics listener


class KubernetesConfig(StrictModel):
    server: str | None = None  # explicit URL (tests); else kubeconfig, else in-cluster
    kubeconfig: str | None = None


class IpvsConfig(StrictModel):
    # net.ipv4.vs.sloppy_tcp: a director takes over a flow mid-connection (ECMP moved it)
    sloppy_tcp: bool = True
    # the forwarding method of every destination: NAT (masquerade) or TUN (IPIP, L3DSR)
    forward: Literal["nat", "tun"] = "nat"


class CommonConfig(StrictModel):
    services: tuple[ServiceConfig, ...] = Field(min_length=1, max_length=MAX_SERVICES)
    # where backends may be: an endpoint outside is refused (it would make the LB forward
    # to any address someone can write into an EndpointSlice)
    pod_networks: tuple[Network, ...] = Field(min_length=1, max_length=64)
    maglev: MaglevConfig = MaglevConfig()
    kubernetes: KubernetesConfig | None = None
    # program the kernel of this named network namespace (``ip netns exec``) instead of our
    # own: for a controller running beside the pod rather than in it
    netns: str | None = Field(None, pattern=NETNS)
    status_file: str | None = None
    resync_interval: float = Field(10.0, ge=0.5, le=3600)
    metrics: MetricsConfig = MetricsConfig()

    @property
    def uses_kubernetes(self) -> bool:
        return any(s.kubernetes is not None for s in self.services)

    def _service_problems(self, dsr: bool) -> list[Problem]:
        problems = []
        seen: dict[tuple[str, int], int] = {}
        names: dict[str, int] = {}
        dscps: dict[int, int] = {}
        nets = [ipaddress.ip_network(n) for n in self.pod_networks]
        for i, s in enumerate(self.services):
            where = f"services[{i}]"
            if s.name in names:
                problems.append(Problem(f"{where}.name", f"{s.name} is services[{names[s.name]}]'s name too"))
            names.setdefault(s.name, i)
            if (s.vip, s.port) in seen:
                first = seen[(s.vip, s.port)]
                problems.append(Problem(where, f"{s.vip}:{s.port} is services[{first}]'s VIP and port too"))
            seen.setdefault((s.vip, s.port), i)
            if (s.backends is None) == (s.kubernetes is None):
                problems.append(
                    Problem(
                        where, "give backends: [addresses] or kubernetes: {namespace, service}, one of them"
                    )
                )
            if s.draining and s.backends is None:
                problems.append(Problem(f"{where}.draining", "only with static backends"))
            for j, b in enumerate((s.backends or ()) + s.draining):
                if not any(ipaddress.ip_address(b) in n for n in nets):
                    key = "backends" if j < len(s.backends or ()) else "draining"
                    k = j if key == "backends" else j - len(s.backends or ())
                    problems.append(
                        Problem(
                            f"{where}.{key}[{k}]",
                            f"{b} is outside pod_networks ({', '.join(self.pod_networks)})",
                        )
                    )
            if dsr:
                if not s.dscp:
                    problems.append(Problem(f"{where}.dscp", "nft-dsr needs a DSCP value 1-31 per service"))
                elif s.dscp in dscps:
                    problems.append(
                        Problem(f"{where}.dscp", f"{s.dscp} is services[{dscps[s.dscp]}]'s DSCP too")
                    )
                dscps.setdefault(s.dscp, i)
                if s.target_port not in (None, s.port):
                    problems.append(
                        Problem(
                            f"{where}.target_port",
                            f"{s.target_port}: under direct server return the backend answers from "
                            f"the VIP's own port {s.port}; drop target_port or use nft-nat",
                        )
                    )
        return problems


class DataplaneConfig(CommonConfig):
    driver: Driver = "nft-nat"
    # nft-dsr: seconds an idle flow stays pinned to its backend, and pins per service at most
    flow_timeout: int = Field(120, ge=5, le=86400)
    flow_slots: int = Field(65535, ge=1024, le=1 << 20)
    ipvs: IpvsConfig = IpvsConfig()
    # where ``lbroute-dataplane render-keepalived`` may write (ipvs driver)
    keepalived_config: str | None = None

    def problems(self) -> list[Problem]:
        return self._service_problems(dsr=self.driver == "nft-dsr")

    def warnings(self) -> list[Problem]:
        out = []
        if self.driver != "nft-dsr" and any(s.dscp for s in self.services):
            out.append(Problem("services", f"dscp is used only by nft-dsr (driver is {self.driver})"))
        return out


class RealserverConfig(CommonConfig):
    """The backend's side of nft-dsr: the VIPs on ``lo``, the rewrite back to them, and the
    second chance (needs the same services, backends and Maglev numbers as the LBs)."""

    # the backend's own address (the pod IP); else from the environment variable
    address: Ipv4 | None = None
    address_env: str = Field("POD_IP", pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    second_chance: bool = True
    # rp_filter on every interface: "loose" (the VIP's replies leave by another way than
    # the LB's packets came), or leave the kernel's setting
    rp_filter: Literal["loose", "unchanged"] = "loose"

    def problems(self) -> list[Problem]:
        return self._service_problems(dsr=True)


def address_from_env(value: str, var: str) -> str:
    """The backend's address from ``$var``: a ValueError saying what is wrong."""
    try:
        return _ipv4(str(ipaddress.ip_address(value)))
    except ValueError:
        raise ValueError(f"${var} is {shorten(value)}: not an IPv4 address such as 172.16.1.10") from None
