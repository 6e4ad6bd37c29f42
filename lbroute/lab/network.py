"""The lab's plumbing: namespaces, veths and the bridge, built from the topology.

Every namespace goes through ``record`` *before* it is created (the state file is written
first), so a run that crashes half-way still knows what to delete. Nothing here starts a
daemon or decides what a daemon should do.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable

from lbroute.kernel.ip import ip, sysctl

from . import processes
from .state import ProcessRecord
from .topology import (
    CLIENT_GATEWAY,
    CLIENT_IP,
    CLIENT_NET,
    ROUTER_IP,
    ROUTER_IP6,
    VIP_POOL,
    VIP_POOL6,
    Node,
    Topology,
)

Record = Callable[[str], None]


def add_namespace(name: str, record: Record) -> None:
    record(name)
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", netns=name)


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    ip("link", "add", name_a, "netns", ns_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)


def attach_to_bridge(topo: Topology, ns: str, port: str, address: str, address6: str | None = None) -> None:
    """``ns``'s eth0 with ``address`` (and ``address6``), its peer ``port`` a port of the lab's bridge."""
    veth(ns, "eth0", topo.net_ns, port)
    ip("link", "set", port, "master", "br0", "up", netns=topo.net_ns)
    ip("addr", "add", address, "dev", "eth0", netns=ns)
    if address6:
        add_address6(ns, address6, "eth0")
    ip("link", "set", "eth0", "up", netns=ns)


def add_address6(ns: str, address: str, dev: str) -> None:
    """An IPv6 address usable at once: ``nodad`` skips duplicate address detection (a second
    or so of "tentative"; nobody else on the lab's links has these addresses)."""
    ip("addr", "add", address, "dev", dev, "nodad", netns=ns)


def build_core(topo: Topology, record: Record) -> None:
    """The bridge's namespace, the router's and the RRs', joined on the node network."""
    add_namespace(topo.net_ns, record)
    ip("link", "add", "br0", "type", "bridge", netns=topo.net_ns)
    ip("link", "set", "br0", "up", netns=topo.net_ns)
    add_namespace(topo.router_ns, record)
    attach_to_bridge(topo, topo.router_ns, "router", f"{ROUTER_IP}/24", f"{ROUTER_IP6}/64")
    # L4 hash: flows from one client spread over all next-hops, in both families
    sysctl(topo.router_ns, "net.ipv4.fib_multipath_hash_policy", "1")
    sysctl(topo.router_ns, "net.ipv6.fib_multipath_hash_policy", "1")
    # the client namespace behind the router, whose traffic the router forwards
    sysctl(topo.router_ns, "net.ipv4.ip_forward", "1")
    add_namespace(topo.client_ns, record)
    veth(topo.router_ns, "client0", topo.client_ns, "eth0")
    ip("addr", "add", f"{CLIENT_GATEWAY}/{CLIENT_NET.prefixlen}", "dev", "client0", netns=topo.router_ns)
    ip("link", "set", "client0", "up", netns=topo.router_ns)
    ip("addr", "add", f"{CLIENT_IP}/{CLIENT_NET.prefixlen}", "dev", "eth0", netns=topo.client_ns)
    ip("link", "set", "eth0", "up", netns=topo.client_ns)
    ip("route", "add", "default", "via", CLIENT_GATEWAY, netns=topo.client_ns)
    for j in range(1, topo.rrs + 1):
        add_namespace(topo.rr_ns(j), record)
        attach_to_bridge(topo, topo.rr_ns(j), f"rr{j}", f"{topo.rr_ip(j)}/24", f"{topo.rr_ip6(j)}/64")


def build_node(topo: Topology, node: Node, record: Record) -> None:
    """A node on the bridge and its LB pod behind a veth, the pod's VIPs on its ``lo``; both
    dual-stack."""
    node_ns, lb_ns = topo.node_ns(node.index), topo.lb_ns(node.index)
    add_namespace(node_ns, record)
    attach_to_bridge(topo, node_ns, f"node{node.index}", f"{node.ip}/24", f"{node.ip6}/64")
    sysctl(node_ns, "net.ipv4.ip_forward", "1")
    sysctl(node_ns, "net.ipv6.conf.all.forwarding", "1")
    add_namespace(lb_ns, record)
    veth(node_ns, "pod0", lb_ns, "eth0")
    ip("addr", "add", f"{node.pod_gateway}/24", "dev", "pod0", netns=node_ns)
    add_address6(node_ns, f"{node.pod_gateway6}/64", "pod0")
    ip("link", "set", "pod0", "up", netns=node_ns)
    ip("addr", "add", f"{node.pod_ip}/24", "dev", "eth0", netns=lb_ns)
    add_address6(lb_ns, f"{node.pod_ip6}/64", "eth0")
    ip("link", "set", "eth0", "up", netns=lb_ns)
    ip("route", "add", "default", "via", node.pod_gateway, netns=lb_ns)
    ip("-6", "route", "add", "default", "via", node.pod_gateway6, netns=lb_ns)
    for vip in topo.vips_of(node.index):
        if ipaddress.ip_network(vip).version == 6:
            add_address6(lb_ns, vip, "lo")
        else:
            ip("addr", "add", vip, "dev", "lo", netns=lb_ns)
    # the node hands VIP traffic to its LB pod (seed Table 3.2 (2)), in both families, and the
    # answers to the lab's clients back to the router
    ip("route", "add", str(VIP_POOL), "via", node.pod_ip, netns=node_ns)
    ip("route", "add", str(VIP_POOL6), "via", node.pod_ip6, netns=node_ns)
    ip("route", "add", str(CLIENT_NET), "via", ROUTER_IP, netns=node_ns)
    # each RR reaches this pod's BGP speaker through the node
    for j in range(1, topo.rrs + 1):
        ip("route", "replace", node.pod_subnet, "via", node.ip, netns=topo.rr_ns(j))


def remove_node(topo: Topology, node: Node, forget: Record) -> None:
    """Undo ``build_node``; ``forget`` is told of each namespace once it is gone."""
    # delete the veths now: a deleted namespace's links go away asynchronously, and a
    # quick scale back up would find their names still taken
    ip("link", "del", f"node{node.index}", netns=topo.net_ns, check=False)
    ip("link", "del", "pod0", netns=topo.node_ns(node.index), check=False)
    for ns in (topo.lb_ns(node.index), topo.node_ns(node.index)):
        delete_namespace(ns)
        forget(ns)
    for j in range(1, topo.rrs + 1):
        ip("route", "del", node.pod_subnet, netns=topo.rr_ns(j), check=False)


def delete_namespace(ns: str) -> None:
    """End what still runs inside a namespace the lab created (e.g. exabgp's API child), then delete it."""
    result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    for pid_text in result.stdout.split():
        pid = int(pid_text)
        started = processes.start_time_of(pid)
        if started is None:
            continue
        processes.stop(ProcessRecord(f"leftover-{pid}", pid, started, ns, [], ""), grace=2.0)
    ip("netns", "del", ns, check=False)
