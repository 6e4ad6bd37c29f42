"""The rr manager's config file: one model for both roles, checked whole before anything runs.

Field by field first; then ``problems()`` checks what only the whole file shows (what
gobgpd or the guard rails could not honour: overlapping speaker ranges, the router inside
one), and ``warnings()`` names settings that are valid but turn a guard rail off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from lbroute.config import Problem, StrictModel
from lbroute.config.types import Address, Network, is_wildcard, shorten

# sockaddr_un.sun_path is 108 bytes, one of them the terminating NUL
_MAX_SOCKET_PATH = 107
_TARGET_EXAMPLE = "unix:///run/gobgpd/gobgp.sock or 127.0.0.1:50051"


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


class BfdConfig(StrictModel):
    """BFD on a session: a neighbor not heard from for ``detect_multiplier`` intervals is reset
    at once, well before BGP's hold timer (3 s at least). 300 ms x 3 detects in 0.9 s
    (docs/decisions/bfd.md; what a loaded machine takes: docs/benchmarks-bfd.md). The ranges
    are FRR bfdd's, which the LB pods run."""

    transmit_interval_ms: int = Field(300, ge=10, le=60000)
    receive_interval_ms: int = Field(300, ge=10, le=60000)
    detect_multiplier: int = Field(3, ge=2, le=255)


class SpeakerBfdConfig(BfdConfig):
    # an LB pod sits behind its node, one routed hop or more away: multihop BFD (RFC 5883),
    # which the pod's bfdd sends to port 4784 (the RR host redirects it to gobgpd's 3784).
    # false: the speakers share a link with this gobgpd (single hop, RFC 5881, port 3784)
    multihop: bool = True


def _port(text: str) -> int | None:
    """A TCP port 1-65535 written in digits, else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        return None
    number = int(text)
    return number if 0 < number < 65536 else None


def _metrics_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{shorten(value)} is not host:port such as 127.0.0.1:9180") from None
    if not sep or _port(port) is None:
        raise ValueError(f"{shorten(value)} is not host:port such as 127.0.0.1:9180")
    if is_wildcard(address):
        raise ValueError(
            f"{shorten(value)}: name one address (loopback or the namespace's), never all of them"
        )
    return value


def _gobgpd_target(value: str) -> str:
    """What ``GobgpClient`` can dial: ``unix:///path``, ``unix:/path``, ``/path`` or ``host:port``."""
    if value.startswith(("unix:", "/")):
        path = value.removeprefix("unix://") if value.startswith("unix://") else value.removeprefix("unix:")
        if not path.startswith("/"):
            raise ValueError(f"{shorten(value)}: the socket needs an absolute path, e.g. {_TARGET_EXAMPLE}")
        if len(path.encode()) > _MAX_SOCKET_PATH:
            raise ValueError(
                f"a unix socket path is at most {_MAX_SOCKET_PATH} bytes, this one {len(path.encode())}"
            )
        return value
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not (sep and host and _port(port) is not None and _is_host(host)):
        raise ValueError(f"{shorten(value)} is not a gRPC target such as {_TARGET_EXAMPLE}")
    # gobgpd's gRPC has no authentication: whoever reaches it rewrites the guard rails
    if not _is_loopback(host):
        raise ValueError(
            f"{shorten(value)}: gobgpd's API has no authentication; use its unix socket or a "
            "loopback address (127.0.0.1, ::1, localhost)"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host.split(".")
        return len(host) <= 253 and all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels
        )


MetricsAddress = Annotated[str, AfterValidator(_metrics_address)]
GobgpdTarget = Annotated[str, AfterValidator(_gobgpd_target)]


class KubernetesPeersConfig(StrictModel):
    """LB speakers admitted one by one: an explicit passive peer per LB pod the API server lists."""

    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    label_selector: str = Field(min_length=1)
    # where the API server is: a URL (tests, the fake server), a kubeconfig, or neither (in-cluster)
    api_server: str | None = None
    kubeconfig: str | None = None


class NodeConfig(StrictModel):
    """A node LB pods run on. Its speakers are the addresses inside ``pod_cidrs``, and the
    only next-hops they may announce are ``addresses`` (the node's own, one per IP version):
    a pod cannot send traffic to another node, to the router, or to an unused address."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    addresses: tuple[Address, ...] = Field(min_length=1, max_length=2)
    pod_cidrs: tuple[Network, ...] = Field(min_length=1)


class SpeakerGroupConfig(StrictModel):
    """LB speakers: admitted by source address (dynamic neighbors) or one peer per pod (kubernetes).

    Routes they send pass the guard rails: inside ``vip_pools``, a length from
    ``allowed_prefix_lengths`` (or, when ``vips`` is given, one of those VIPs exactly), a
    next-hop inside ``node_networks`` (and, when the config lists ``nodes``, the address of
    the speaker's own node), at most ``max_prefixes``.
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
    # BFD with every speaker of the group (each LB pod runs bfdd beside exabgp); None: none
    bfd: SpeakerBfdConfig | None = None
    # the VIPs these speakers serve; empty: any inside vip_pools (a speaker may take another's)
    vips: tuple[Network, ...] = ()

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
        pools = [ipaddress.ip_network(p) for p in self.vip_pools]
        for j, vip in enumerate(self.vips):
            net = ipaddress.ip_network(vip)
            if not any(net.version == p.version and net.subnet_of(p) for p in pools):  # type: ignore[arg-type]
                problems.append(f"vips[{j}]: {vip} is in none of vip_pools; add its pool or fix the VIP")
            elif net.prefixlen not in self.allowed_prefix_lengths:
                problems.append(f"vips[{j}]: {vip} has a length allowed_prefix_lengths does not allow")
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
    # BFD with this gobgpd (single hop); on a router only with two or more RRs (see problems())
    bfd: BfdConfig | None = None


class ZebraConfig(StrictModel):
    url: str = Field(pattern=r"^(unix:|tcp:).+")
    version: int = Field(6, ge=2, le=6)
    software_name: str = "frr8.2"


# protocol numbers a route of ours must not carry: the kernel's own, zebra's and FRR's daemons'
_TAKEN_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 11: "zebra"} | {
    n: "FRR's" for n in range(186, 198)
}

# a shorter settle would have the held writer poll gobgpd's sessions without pause
MIN_SETTLE_SECONDS = 0.5


class FibConfig(StrictModel):
    """The router's kernel FIB (docs/decisions/resilient-fib.md).

    ``zebra`` (the default): gobgpd hands its multipath routes to FRR's zebra, which installs
    ordinary hash-threshold groups. ``resilient``: lbroute-rr writes each VIP's route as a
    resilient next-hop group itself (no zebra); ``buckets``, ``idle_timer`` and
    ``unbalanced_timer`` (seconds; 0: never force a rebalance) are the kernel's group
    parameters. Ours are the next-hop objects with ``protocol`` and an ID in ``nexthop_ids``,
    and the routes with ``protocol``. After gobgpd (or the manager) starts, the kernel is
    held as it is until a session has been up ``settle_seconds``, for at most ``hold_seconds``.
    """

    mode: Literal["zebra", "resilient"] = "zebra"
    buckets: int = Field(256, ge=2, le=65535)
    idle_timer: int = Field(60, ge=1, le=86400)
    unbalanced_timer: int = Field(300, ge=0, le=86400)
    protocol: int = Field(200, ge=0, le=255)
    nexthop_ids: tuple[int, int] = (2_000_000_000, 2_000_999_999)
    settle_seconds: float = Field(5.0, le=600)
    hold_seconds: float = Field(90.0, gt=0, le=86400)

    @field_validator("settle_seconds")
    @classmethod
    def _a_settle_to_wait_for(cls, value: float) -> float:
        # while holding, the writer looks at gobgpd's sessions this often (at most every second)
        if value < MIN_SETTLE_SECONDS:
            raise ValueError(
                f"{value:g} is too short: a session must be up a while before its table is in; "
                f"give at least {MIN_SETTLE_SECONDS:g} (the default is 5)"
            )
        return value

    @field_validator("protocol")
    @classmethod
    def _a_protocol_of_ours(cls, value: int) -> int:
        if value in _TAKEN_PROTOCOLS:
            raise ValueError(
                f"{value} is {_TAKEN_PROTOCOLS[value]}; take one nobody else writes routes with, such as 200"
            )
        return value

    @field_validator("nexthop_ids")
    @classmethod
    def _a_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        first, last = value
        if not 1 <= first <= last <= 4294967295:
            raise ValueError(f"{first}-{last}: give [first, last] with 1 <= first <= last < 2^32")
        return value


class RrConfig(StrictModel):
    role: Literal["route-reflector", "router"]
    gobgpd: GobgpdTarget = Field(description="gRPC target: unix:///path/gobgp.sock or host:port")
    asn: int = Field(ge=1, le=4294967295)
    router_id: Address
    listen_addresses: tuple[Address, ...] = ("0.0.0.0",)
    listen_port: int = Field(179, ge=-1, le=65535)
    cluster_id: Address | None = None
    speaker_groups: tuple[SpeakerGroupConfig, ...] = ()
    # where each speaker lives (pod CIDR -> node address); empty: any next-hop in node_networks
    nodes: tuple[NodeConfig, ...] = ()
    neighbors: tuple[NeighborConfig, ...] = ()
    zebra: ZebraConfig | None = None
    fib: FibConfig = FibConfig()
    resync_interval: float = Field(30.0, gt=0, le=3600)
    # Prometheus endpoint; None serves none. Never the unspecified address.
    metrics_address: MetricsAddress | None = None

    def problems(self) -> list[Problem]:
        """What gobgpd or the guard rails could not honour, each at its place."""
        return list(self._problems())

    def _problems(self) -> Iterator[Problem]:
        # BGP identifiers are four bytes, written as an IPv4 address
        if ipaddress.ip_address(self.router_id).version != 4:
            yield Problem(
                "router_id", f"{self.router_id} must be an IPv4 address (a BGP identifier is 4 bytes)"
            )
        if self.cluster_id is not None and ipaddress.ip_address(self.cluster_id).version != 4:
            yield Problem(
                "cluster_id", f"{self.cluster_id} must be an IPv4 address (a cluster ID is 4 bytes)"
            )
        if self.role == "router" and self.speaker_groups:
            yield Problem("speaker_groups", "for role route-reflector; a router peers with its RRs")
        if self.role == "route-reflector" and self.zebra is not None:
            yield Problem("zebra", "for role router; the RR does not program a FIB")
        if self.role == "route-reflector" and self.fib.mode != "zebra":
            yield Problem("fib.mode", "for role router; the RR does not program a FIB")
        if self.fib.mode == "resilient" and self.zebra is not None:
            yield Problem(
                "zebra", "fib.mode resilient writes the FIB itself, without zebra: drop zebra (or the mode)"
            )
        yield from self._bfd_needs_a_second_rr()
        yield from _repeated("speaker_groups", "name", [g.name for g in self.speaker_groups])
        yield from _repeated("neighbors", "address", [n.address for n in self.neighbors])
        yield from self._speaker_ranges()
        yield from self._node_problems()
        for (i, where, net), (k, earlier, other) in _overlaps(self._places("vip_pools")):
            if i == k:
                yield Problem(where, f"{net} overlaps {earlier} {other} of the same group; keep one")

    def _bfd_needs_a_second_rr(self) -> Iterator[Problem]:
        """A router with one RR keeps forwarding through that RR's restart on graceful restart;
        BFD would end it: gobgpd 4.8 keeps the reset of a BFD that expired while the session
        was down and kills the next session with it (docs/decisions/bfd.md, bug B)."""
        if self.role != "router" or len(self.neighbors) >= 2:
            return
        for i, n in enumerate(self.neighbors):
            if n.bfd is not None:
                yield Problem(
                    f"neighbors[{i}].bfd",
                    "BFD towards the only RR would turn its restart into an outage; with one RR "
                    "graceful restart keeps forwarding: set bfd only with two or more RRs",
                )

    def _speaker_ranges(self) -> Iterator[Problem]:
        """gobgpd admits a speaker to the first dynamic neighbor whose range holds it, and every
        guard policy whose neighbor set holds it judges its routes: ranges must not overlap."""
        ranges = self._places("dynamic_prefixes")
        for (_, where, net), (_, earlier, other) in _overlaps(ranges):
            yield Problem(
                where, f"{net} overlaps {earlier} {other}: gobgpd admits a speaker there to one of them only"
            )

    def _node_problems(self) -> Iterator[Problem]:
        """Each speaker address must lead to one node, each node address be one node's only,
        and be a next-hop the speaker groups' node networks allow."""
        if self.nodes and self.role == "router":
            yield Problem("nodes", "for role route-reflector; the router takes what its RRs accept")
        yield from _repeated("nodes", "name", [n.name for n in self.nodes])
        owner: dict[str, int] = {}
        node_nets = [ipaddress.ip_network(n) for g in self.speaker_groups for n in g.node_networks]
        for i, node in enumerate(self.nodes):
            versions = [ipaddress.ip_address(a).version for a in node.addresses]
            if len(set(versions)) != len(versions):
                yield Problem(f"nodes[{i}].addresses", "one address per IP version (the node's next-hop)")
            for j, a in enumerate(node.addresses):
                where = f"nodes[{i}].addresses[{j}]"
                if a in owner:
                    yield Problem(where, f"{a} is also nodes[{owner[a]}]'s")
                owner.setdefault(a, i)
                ip = ipaddress.ip_address(a)
                if self.speaker_groups and not any(ip.version == n.version and ip in n for n in node_nets):
                    yield Problem(where, f"{a} is in no speaker group's node_networks: add it there")
        cidrs = [
            (i, f"nodes[{i}].pod_cidrs[{j}]", ipaddress.ip_network(c))
            for i, node in enumerate(self.nodes)
            for j, c in enumerate(node.pod_cidrs)
        ]
        for (_, where, net), (_, earlier, other) in _overlaps(cidrs):
            yield Problem(where, f"{net} overlaps {earlier} {other}: a speaker there would have two nodes")

    def _places(self, field: str) -> list[tuple[int, str, IPNetwork]]:
        """(group index, place, network) for every entry of a speaker-group list of networks."""
        return [
            (i, f"speaker_groups[{i}].{field}[{j}]", ipaddress.ip_network(p))
            for i, g in enumerate(self.speaker_groups)
            for j, p in enumerate(getattr(g, field))
        ]

    def warnings(self) -> list[Problem]:
        """Valid, but a guard rail is off: said at ``config check`` and logged at every start."""
        out = []
        for i, g in enumerate(self.speaker_groups):
            at = f"speaker_groups[{i}]"
            for j, p in enumerate(g.dynamic_prefixes):
                if ipaddress.ip_network(p).prefixlen == 0:
                    out.append(
                        Problem(f"{at}.dynamic_prefixes[{j}]", f"{p} admits a speaker from any address")
                    )
            for j, p in enumerate(g.vip_pools):
                net = ipaddress.ip_network(p)
                if net.prefixlen == 0:
                    out.append(Problem(f"{at}.vip_pools[{j}]", f"{p} lets the speakers announce any prefix"))
                if 0 in g.allowed_prefix_lengths and net.prefixlen == 0:
                    out.append(
                        Problem(f"{at}.allowed_prefix_lengths", f"0 with pool {p} admits a default route")
                    )
            for j, p in enumerate(g.node_networks):
                if ipaddress.ip_network(p).prefixlen == 0:
                    out.append(Problem(f"{at}.node_networks[{j}]", f"{p} accepts any next-hop"))
        if self.speaker_groups and not self.nodes and self.role == "route-reflector":
            out.append(
                Problem(
                    "nodes",
                    "none listed: a speaker may announce any next-hop inside node_networks "
                    "(another node's, the router's); list each node's address and pod CIDRs",
                )
            )
        # an explicit peer wins over a dynamic range in gobgpd, but the group's guard rails still
        # judge what it sends: everything outside the group's pools would be rejected
        for i, n in enumerate(self.neighbors):
            ip = ipaddress.ip_address(n.address)
            for _, where, net in self._places("dynamic_prefixes"):
                if ip.version == net.version and ip in net:
                    what = f"{n.address} is inside {where} {net}: that group's guard rails judge its routes"
                    out.append(Problem(f"neighbors[{i}].address", what))
        # inside one group an overlap is a problem (see problems()); across groups it may be meant
        for (i, where, net), (k, earlier, other) in _overlaps(self._places("vip_pools")):
            if i != k:
                out.append(
                    Problem(where, f"{net} overlaps {earlier} {other}: both groups may announce VIPs there")
                )
        return out


def _repeated(field: str, key: str, values: list[str]) -> Iterator[Problem]:
    """A problem at each entry of ``field`` whose ``key`` an earlier entry already has."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first:
            yield Problem(f"{field}[{i}].{key}", f"{value!r} is also {field}[{first[value]}]'s")
        first.setdefault(value, i)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_Place = tuple[int, str, IPNetwork]


def _overlaps(places: list[_Place]) -> Iterator[tuple[_Place, _Place]]:
    """Each place whose network overlaps another's, paired with one such (the later in the file
    first), in file order.

    Two CIDR networks overlap only when one holds the other, so one sweep in address order
    finds them: each network is checked against the innermost open one that still reaches
    it. O(n log n): a config at the size bound has thousands of networks.
    """
    order = sorted(range(len(places)), key=lambda k: _sweep_key(places[k][2]))
    open_: list[int] = []  # indexes of networks that hold the next one's start, outermost first
    pairs = []
    for k in order:
        net = places[k][2]
        while open_ and not _holds(places[open_[-1]][2], net):
            open_.pop()
        if open_:
            j = open_[-1]
            pairs.append((max(j, k), min(j, k)))
        open_.append(k)
    for later, earlier in sorted(pairs):
        yield places[later], places[earlier]


def _sweep_key(net: IPNetwork) -> tuple[int, int, int]:
    return net.version, int(net.network_address), net.prefixlen


def _holds(outer: IPNetwork, inner: IPNetwork) -> bool:
    return outer.version == inner.version and int(inner.broadcast_address) <= int(outer.broadcast_address)
