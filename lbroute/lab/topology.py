"""Names and addresses of the lab, computed from a few numbers. Pure: no I/O.

    client          10.2.0.2 ──veth── router (10.2.0.1): the hold probe's, behind the router
    router          10.0.0.1       fd00::1       ─┐
    route reflector 10.0.0.2       fd00::2       ─┤ bridge "<prefix>-net" (its own namespace)
    node i          10.0.0.(10+i)  fd00::(10+i)  ─┘
        └──veth── LB pod i  172.16.i.2  fd16:i::2  (VIPs on lo)

Dual-stack: every host has an IPv4 and an IPv6 address on the node network (the IPv6
one written with the same digits). BGP runs over IPv4; IPv6 VIPs ride those sessions
(ipv6-unicast) with the node's IPv6 address as next-hop. The router and the RR reach the
pod range through the nodes; each node routes both VIP pools to its pod, and the client
network back through the router. All of it lives in namespaces the lab creates.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from lbroute.core.echo import shown

ASN = 65021
NODE_NET = ipaddress.ip_network("10.0.0.0/24")
NODE_NET6 = ipaddress.ip_network("fd00::/64")
POD_RANGE = ipaddress.ip_network("172.16.0.0/16")
VIP_POOL = ipaddress.ip_network("10.1.0.0/16")
VIP_POOL6 = ipaddress.ip_network("2001:db8:1::/48")
VIP_POOLS = (VIP_POOL, VIP_POOL6)
ROUTER_IP = "10.0.0.1"
ROUTER_IP6 = "fd00::1"
# clients behind the router, so that their traffic is forwarded as a router's is (hashed per
# packet), not sent from the router's own sockets: the hold probe runs there
CLIENT_NET = ipaddress.ip_network("10.2.0.0/24")
CLIENT_IP = "10.2.0.2"
CLIENT_GATEWAY = "10.2.0.1"
DEFAULT_VIP = "10.1.1.1/32"
MAX_LBS = 64
# a lab's name: it names namespaces (<prefix>-router: within the kernel's 15 characters) and
# the state directory <root>/<prefix>, so nothing that could be a path
PREFIX_RE = re.compile(r"[a-z][a-z0-9]{0,7}")


class TopologyError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Service:
    """A VIP and the LBs (1-based indexes) that serve it; ``lbs=None`` means every LB."""

    name: str
    vip: str
    lbs: tuple[int, ...] | None = None

    def served_by(self, lb: int) -> bool:
        return self.lbs is None or lb in self.lbs


@dataclass(frozen=True)
class Node:
    index: int

    @property
    def ip(self) -> str:
        return str(NODE_NET.network_address + 10 + self.index)

    @property
    def ip6(self) -> str:
        return _ipv6_like(10 + self.index)

    def next_hop_for(self, vip: str) -> str:
        """The node's address of the VIP's family: what its LB announces the VIP with."""
        return self.ip6 if _version(vip) == 6 else self.ip

    @property
    def pod_ip(self) -> str:
        return f"172.16.{self.index}.2"

    @property
    def pod_gateway(self) -> str:
        return f"172.16.{self.index}.1"

    @property
    def pod_subnet(self) -> str:
        return f"172.16.{self.index}.0/24"

    @property
    def pod_ip6(self) -> str:
        return f"fd16:{self.index}::2"

    @property
    def pod_gateway6(self) -> str:
        return f"fd16:{self.index}::1"


@dataclass(frozen=True)
class Topology:
    prefix: str
    lbs: int
    services: tuple[Service, ...] = (Service("web", DEFAULT_VIP),)
    rrs: int = 1

    def __post_init__(self) -> None:
        problems = validate(self.prefix, self.lbs, self.rrs) + service_problems(self.services)
        if problems:
            raise TopologyError("; ".join(problems))

    # namespaces
    @property
    def net_ns(self) -> str:
        return f"{self.prefix}-net"

    @property
    def router_ns(self) -> str:
        return f"{self.prefix}-router"

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}-client"

    def rr_ns(self, j: int = 1) -> str:
        return f"{self.prefix}-rr" if j == 1 else f"{self.prefix}-rr{j}"

    def node_ns(self, i: int) -> str:
        return f"{self.prefix}-node{i}"

    def lb_ns(self, i: int) -> str:
        return f"{self.prefix}-lb{i}"

    def rr_name(self, j: int = 1) -> str:
        """What the lab calls RR ``j`` (its gobgpd, its manager, its directory): rr, rr2."""
        return rr_name(j)

    def rr_ip(self, j: int = 1) -> str:
        return str(NODE_NET.network_address + 1 + j)

    def rr_ip6(self, j: int = 1) -> str:
        return _ipv6_like(1 + j)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(Node(i) for i in range(1, self.lbs + 1))

    def vips_of(self, lb: int) -> tuple[str, ...]:
        return tuple(s.vip for s in self.services if s.served_by(lb))

    @property
    def families(self) -> tuple[str, ...]:
        """The address families BGP carries: IPv4 always, IPv6 when a service has an IPv6 VIP
        (so an IPv4-only lab's sessions are what they always were)."""
        six = any(_version(s.vip) == 6 for s in self.services)
        return ("ipv4-unicast", "ipv6-unicast") if six else ("ipv4-unicast",)

    def expected_next_hops(self) -> dict[str, frozenset[str]]:
        """What the router's FIB must hold once converged: VIP -> node addresses (of the VIP's
        family) of its LBs."""
        out: dict[str, frozenset[str]] = {}
        for s in self.services:
            hops = frozenset(n.next_hop_for(s.vip) for n in self.nodes if s.served_by(n.index))
            if hops:
                out[s.vip] = hops
        return out

    def with_lbs(self, lbs: int) -> Topology:
        return Topology(self.prefix, lbs, self.services, self.rrs)


def rr_name(j: int) -> str:
    return "rr" if j == 1 else f"rr{j}"


def _ipv6_like(host: int) -> str:
    """fd00::11 for host 11: the IPv6 address of the node network with the IPv4 one's digits."""
    return str(ipaddress.ip_address(f"{NODE_NET6.network_address}{host}"))


def _version(prefix: str) -> int:
    return ipaddress.ip_network(prefix).version


def in_vip_pools(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether ``network`` (a VIP or an address as /32, /128) lies in one of the lab's VIP pools."""
    return any(network.version == pool.version and network.subnet_of(pool) for pool in VIP_POOLS)  # type: ignore[arg-type]


def check_prefix(prefix: str) -> str:
    """The lab name, or a ``TopologyError``: the one check every command's prefix passes."""
    if not PREFIX_RE.fullmatch(prefix):
        raise TopologyError(
            f"lab prefix {shown(prefix)}: use 1-8 lowercase letters and digits, starting with a letter"
        )
    return prefix


def validate(prefix: str, lbs: int, rrs: int) -> list[str]:
    problems = []
    try:
        check_prefix(prefix)
    except TopologyError as err:
        problems.append(str(err))
    if not 0 <= lbs <= MAX_LBS:
        problems.append(f"lbs {lbs}: must be between 0 and {MAX_LBS}")
    if rrs not in (1, 2):
        problems.append(f"rrs {rrs}: must be 1 or 2")
    return problems


def service_problems(services: tuple[Service, ...]) -> list[str]:
    """Services the lab cannot build side by side: each name and each VIP once, at least one."""
    problems = []
    if not services:
        problems.append("services: give at least one")
    for what, values in (("name", [s.name for s in services]), ("VIP", [s.vip for s in services])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            problems.append(f"services: each {what} once; given more than once: {', '.join(twice)}")
    return problems


def parse_service(text: str) -> Service:
    """``NAME=VIP[@LB,LB...]``, e.g. ``api=10.1.2.1/32@1,2`` or ``web6=2001:db8:1::1/128``.
    The name's own rules are the announcer's, checked when the lab renders its config
    (before anything is created)."""
    where = f"service {shown(text)}"
    try:
        name, rest = text.split("=", 1)
        vip, _, lbs_text = rest.partition("@")
        network = ipaddress.ip_network(vip, strict=True)
    except ValueError as err:
        raise TopologyError(f"{where}: expected NAME=VIP[@1,2,...] ({shown(str(err))})") from None
    if not name:
        raise TopologyError(f"{where}: the name before '=' is empty")
    if network.prefixlen != network.max_prefixlen:
        raise TopologyError(f"{where}: the lab's VIPs are IPv4 /32s and IPv6 /128s")
    if not in_vip_pools(network):
        pools = " or ".join(str(p) for p in VIP_POOLS)
        raise TopologyError(f"{where}: VIP must lie in the lab's pools {pools}")
    lbs: tuple[int, ...] | None = None
    if lbs_text:
        try:
            lbs = tuple(sorted({int(x) for x in lbs_text.split(",")}))
        except ValueError:
            raise TopologyError(f"{where}: LB list must be numbers like 1,2") from None
        if not all(1 <= i <= MAX_LBS for i in lbs):
            raise TopologyError(f"{where}: LBs are numbered 1 to {MAX_LBS}")
    return Service(name=name, vip=str(network), lbs=lbs)
