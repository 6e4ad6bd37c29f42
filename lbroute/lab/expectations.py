"""What the router's FIB must hold, given the topology and the scenario. Pure: no I/O.

``lab up`` and ``scale`` wait until the kernel matches this, ``status`` compares against
it, and the unit tests check it without root.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable

from lbroute.core.rib import FibRoute

from .scenario import Scenario, rogue_routes
from .topology import Node, Topology, in_vip_pools

Fib = dict[str, frozenset[str]]


def shut_out(topo: Topology, scenario: Scenario) -> frozenset[int]:
    """The LBs that get no session: a wrong MD5 key, or a rogue LB announcing more routes of
    one family than the speaker group's ``max_prefixes`` (gobgpd counts each family on its
    own, and ends the session when one is over)."""
    out = set(scenario.wrong_md5)
    rogue, limit = scenario.rogue_lb, scenario.max_prefixes
    if rogue and limit is not None and 1 <= rogue <= topo.lbs:
        node = Node(rogue)
        sent = [*topo.vips_of(rogue), *(p for p, _ in rogue_routes(node.ip, node.pod_ip))]
        per_family = Counter(ipaddress.ip_network(p).version for p in sent)
        if max(per_family.values()) > limit:
            out.add(rogue)
    return frozenset(out)


def expected_fib(topo: Topology, scenario: Scenario) -> Fib:
    """VIP -> the node addresses the router must forward on once converged (IPv4 VIPs via
    the nodes' IPv4 addresses, IPv6 via their IPv6 ones); a VIP left with none is absent."""
    excluded = {hop for i in shut_out(topo, scenario) for hop in (Node(i).ip, Node(i).ip6)}
    out = {vip: hops - excluded for vip, hops in topo.expected_next_hops().items()}
    return {vip: hops for vip, hops in out.items() if hops}


def vip_routes(routes: Iterable[FibRoute]) -> Fib:
    """The routes of a FIB that lie in one of the lab's VIP pools: prefix -> gateways."""
    return {r.prefix: r.next_hops for r in routes if in_pool(r.prefix)}


def in_pool(prefix: str) -> bool:
    return in_vip_pools(ipaddress.ip_network(prefix))


def describe(fib: Fib) -> str:
    """A FIB as one line, in a stable order, for messages."""
    return "{" + ", ".join(f"{k}: {sorted(v)}" for k, v in sorted(fib.items())) + "}"
