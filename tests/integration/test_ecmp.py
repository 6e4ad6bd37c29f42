"""The walking skeleton's promises, against real gobgpd, FRR zebra and exabgp in namespaces."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys

import pytest

from lbroute.config import load_config
from lbroute.core.bgp import plan
from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.fib import read_fib
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Service, parse_service
from rr.config import RrConfig
from rr.desired import desired_config
from tests.support.fib import VIP, fib_hops, wait_fib
from tests.support.lab import LabFactory

NODES = ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"]


@pytest.mark.also_from_images
def test_three_lbs_make_one_ecmp_route_with_three_node_next_hops(
    make_lab: LabFactory, router_kind: str
) -> None:
    lab = make_lab(lbs=3, router=router_kind)
    [route] = read_fib(lab.topology.router_ns, prefix=VIP)
    assert route.next_hops == frozenset(NODES[:3])
    assert route.protocol == "bgp"  # zebra installed it, not us
    # the router kind is recorded, and its daemons are the ones that run
    status = lab.status()
    router_daemons = {"gobgp": {"gobgpd-router", "rr-manager-router"}, "frr": {"bgpd"}}
    assert status["router"] == router_kind
    assert router_daemons[router_kind] <= set(status["processes"])
    assert not router_daemons["frr" if router_kind == "gobgp" else "gobgp"] & set(status["processes"])
    assert all(p["alive"] for p in status["processes"].values())
    # both ends of the BGP path: the RR's RIB has one path per speaker, the router all of them
    router_paths = lab.router.paths(VIP)
    with GobgpClient(str(lab.socket("rr"))) as rr:
        rr_paths = rr.list_paths(prefixes=(VIP,))
        # the speakers are not RR clients: nothing is reflected back to them, all goes to the router
        advertised = {s.neighbor: s.advertised for s in rr.list_sessions("rr")}
    # paths only, with graceful restart too (gobgpd 3.36 counted its End-of-RIB marker as one more)
    assert advertised == {"10.0.0.1": 3, "172.16.1.2": 0, "172.16.2.2": 0, "172.16.3.2": 0}
    assert {p.source for p in rr_paths} == {"172.16.1.2", "172.16.2.2", "172.16.3.2"}
    assert {p.next_hop for p in rr_paths} == set(NODES[:3])
    assert {p.next_hop for p in router_paths} == set(NODES[:3])
    assert {p.source for p in router_paths} == {"10.0.0.2"}


@pytest.mark.also_from_images
def test_fib_follows_scale_3_1_4(make_lab: LabFactory, router_kind: str) -> None:
    lab = make_lab(lbs=3, router=router_kind)
    lab.scale(1)
    wait_fib(lab, {NODES[0]})
    lab.scale(4)
    wait_fib(lab, set(NODES))


def test_two_services_on_overlapping_lb_sets(make_lab: LabFactory, router_kind: str) -> None:
    services = (Service("web", VIP), parse_service("api=10.1.2.1/32@1,2"))
    lab = make_lab(lbs=3, services=services, router=router_kind)
    assert fib_hops(lab, VIP) == set(NODES[:3])
    assert fib_hops(lab, "10.1.2.1/32") == set(NODES[:2])


def test_requests_from_the_router_reach_every_lb(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3)
    count = 90
    result = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", "lab", "probe", "--prefix", lab.prefix,
         "--count", str(count), "--json"],
        capture_output=True, text=True, check=True,
        env={"LBROUTE_STATE_ROOT": str(lab.root), "PATH": "/usr/sbin:/usr/bin:/bin"},
    )  # fmt: skip
    answers = json.loads(result.stdout)
    assert answers["failed"] == 0
    assert sum(answers["answers"].values()) == count
    assert set(answers["answers"]) == {"lb1", "lb2", "lb3"}


def test_reapplying_the_rr_manager_changes_nothing(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3)
    configs = {who: lab.dir / "config" / f"{who}.yaml" for who in ("rr", "router")}
    with GobgpClient(str(lab.socket("router"))) as router:
        before = {who: GobgpClient(str(lab.socket(who))).observe() for who in configs}
        updates_before = _updates_received(router)
        for who, path in configs.items():
            desired = desired_config(load_config(path, RrConfig))
            assert plan(desired, before[who]).operations == (), f"{who} not converged"
            out = subprocess.run(
                [sys.executable, "-m", "rr.main", "apply", "--config", str(path)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            assert "0 change(s) applied" in out.stderr
        after = {who: GobgpClient(str(lab.socket(who))).observe() for who in configs}
        assert after == before
        assert _updates_received(router) == updates_before
    assert fib_hops(lab) == set(NODES[:3])


def _updates_received(router: GobgpClient) -> dict[str, int]:
    return {p.conf.neighbor_address: p.state.messages.received.update for p in router.list_peers_raw()}


def test_down_leaves_no_process_and_no_namespace(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=2)
    records = list(lab.state.processes.values())
    namespaces = list(lab.state.namespaces)
    assert len(records) == 2 + 3 + 2 * 2  # zebra, 2 gobgpd, 2 managers; responder+exabgp per LB
    lab.down()
    from lbroute.kernel.ip import list_netns
    from lbroute.lab.processes import is_alive

    assert not [r.name for r in records if is_alive(r)]
    assert not set(namespaces) & set(list_netns())
    assert not lab.dir.exists()


def test_down_cleans_up_after_a_crashed_run(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=1)
    # a crash loses the Lab object, and here even the state file: down() still finds its namespaces
    (lab.dir / "state.json").unlink()
    orphan = Lab(lab.prefix, root=lab.root)
    removed = orphan.down()
    from lbroute.kernel.ip import list_netns

    assert set(removed) >= {f"{lab.prefix}-router", f"{lab.prefix}-lb1"}
    assert not [ns for ns in list_netns() if ns.startswith(lab.prefix + "-")]


def listeners(netns: str) -> set[tuple[str, str, str]]:
    """Every listening socket inside ``netns``: (kind, local address, program)."""
    out = subprocess.run(
        ["ip", "netns", "exec", netns, "ss", "-H", "-l", "-n", "-p", "-t", "-u", "-x"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = set()
    for line in out.splitlines():
        fields = line.split()
        program = re.search(r'users:\(\("([^"]+)"', line)
        found.add((fields[0], fields[4], program.group(1) if program else "?"))
    return found


def test_the_lab_listens_only_where_it_means_to(make_lab: LabFactory, router_kind: str) -> None:
    # gobgpd: BGP on the lab address and its unix API socket, nothing else (no pprof, no
    # metrics on 127.0.0.1:6060); managers' metrics on their namespace's own address; the
    # announcer's metrics on the pod address; the pod's responder is its data plane (port 80,
    # one socket for IPv4 and IPv6 VIPs alike: ss shows it as *:80; and *:7 for the hold
    # probe's echo)
    lab = make_lab(lbs=2, rrs=2, router=router_kind)
    topo = lab.topology
    router_tcp = {
        "gobgp": {("10.0.0.1:179", "gobgpd"), ("10.0.0.1:9180", "lbroute-rr")},
        "frr": {("10.0.0.1:179", "bgpd")},  # bgpd -l: BGP on the lab address only, no TCP vty
    }
    router_unix = {
        "gobgp": {("router/gobgp.sock", "gobgpd")},
        "frr": {("router/bgpd.vty", "bgpd")},
    }
    tcp = {
        topo.router_ns: router_tcp[router_kind],
        topo.rr_ns(1): {("10.0.0.2:179", "gobgpd"), ("10.0.0.2:9180", "lbroute-rr")},
        topo.rr_ns(2): {("10.0.0.3:179", "gobgpd"), ("10.0.0.3:9180", "lbroute-rr")},
        topo.lb_ns(1): {("172.16.1.2:9473", "lbroute-announc"), ("*:80", "python"), ("*:7", "python")},
        topo.lb_ns(2): {("172.16.2.2:9473", "lbroute-announc"), ("*:80", "python"), ("*:7", "python")},
    }
    unix = {
        topo.router_ns: {
            ("router/zserv.api", "zebra"),
            ("router/zebra.vty", "zebra"),
            *router_unix[router_kind],
        },
        topo.rr_ns(1): {("rr/gobgp.sock", "gobgpd")},
        topo.rr_ns(2): {("rr2/gobgp.sock", "gobgpd")},
        topo.lb_ns(1): {("lb1/announcer.sock", "lbroute-announc")},
        topo.lb_ns(2): {("lb2/announcer.sock", "lbroute-announc")},
    }
    # the client namespace (behind the router, for the hold probe) listens on nothing
    assert set(lab.state.namespaces) == {topo.net_ns, topo.client_ns, topo.node_ns(1), topo.node_ns(2), *tcp}
    for ns in lab.state.namespaces:
        found = listeners(ns)
        assert {(a, p) for kind, a, p in found if kind == "tcp"} == tcp.get(ns, set()), ns
        assert {(a.removeprefix(f"{lab.dir}/"), p) for kind, a, p in found if kind == "u_str"} == unix.get(
            ns, set()
        ), ns
        assert {kind for kind, _, _ in found} <= {"tcp", "u_str"}, (ns, found)  # no UDP, no raw
    # exabgp.conf holds the MD5 key (when there is one): only root reads it
    assert all(stat.S_IMODE((lab.dir / f"lb{i}" / "exabgp.conf").stat().st_mode) == 0o600 for i in (1, 2))
    # and in the root namespace, no lab process listens at all
    pids = {str(r.pid) for r in lab.state.processes.values()}
    root = subprocess.run(["ss", "-H", "-l", "-n", "-p", "-t", "-u"], capture_output=True, text=True).stdout
    assert not [line for line in root.splitlines() if set(re.findall(r"pid=(\d+)", line)) & pids]
