"""What the router's FIB must hold, given the topology and the scenario. Pure: no I/O.

``lab up`` and ``scale`` wait until the kernel matches this, ``status`` compares against
it, and the unit tests check it without root.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from lbroute.core.rib import FibRoute

from .scenario import Scenario, rogue_routes
from .topology import VIP_POOL, Node, Topology

Fib = dict[str, frozenset[str]]


def shut_out(topo: Topology, scenario: Scenario) -> frozenset[str]:
    """Node IPs of the LBs that get no session: a wrong MD5 key, or a rogue LB announcing more
    routes than the speaker group's ``max_prefixes`` (the RR then ends its session)."""
    out = {Node(i).ip for i in scenario.wrong_md5}
    rogue, limit = scenario.rogue_lb, scenario.max_prefixes
    if rogue and limit is not None and 1 <= rogue <= topo.lbs:
        node = Node(rogue)
        if len(topo.vips_of(rogue)) + len(rogue_routes(node.ip, node.pod_ip)) > limit:
            out.add(node.ip)
    return frozenset(out)


def expected_fib(topo: Topology, scenario: Scenario) -> Fib:
    """VIP -> the node IPs the router must forward on once converged; a VIP left with none is absent."""
    excluded = shut_out(topo, scenario)
    out = {vip: hops - excluded for vip, hops in topo.expected_next_hops().items()}
    return {vip: hops for vip, hops in out.items() if hops}


def vip_routes(routes: Iterable[FibRoute]) -> Fib:
    """The routes of a FIB that lie in the lab's VIP pool: prefix -> gateways."""
    return {r.prefix: r.next_hops for r in routes if in_pool(r.prefix)}


def in_pool(prefix: str) -> bool:
    network = ipaddress.ip_network(prefix)
    return network.version == VIP_POOL.version and network.subnet_of(VIP_POOL)  # type: ignore[arg-type]


def describe(fib: Fib) -> str:
    """A FIB as one line, in a stable order, for messages."""
    return "{" + ", ".join(f"{k}: {sorted(v)}" for k, v in sorted(fib.items())) + "}"
