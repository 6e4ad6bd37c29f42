"""Connections survive ECMP changes (issue 13), against real gobgpd, exabgp and the kernel.

Every test holds connections open from the lab's client namespace (``lbroute lab hold``'s
probe: a line each way every 100 ms) across a change of the router's next-hops, and counts
per LB what was lost. With the resilient FIB a change moves only the buckets it must; with
zebra's hash-threshold groups it re-divides the hash space. A restart of the manager or of
the router's gobgpd moves no bucket at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from lbroute.kernel.ip import ip_json
from lbroute.kernel.nexthops import Kernel
from lbroute.lab import configs, daemons
from lbroute.lab.hold import hold_during
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Node
from lbroute.polling import eventually
from tests.support.cli import lab_cli
from tests.support.fib import VIP
from tests.support.lab import LabFactory

ADDRESS = VIP.split("/")[0]
CONNECTIONS = 300


def buckets(lab: Lab) -> dict[int, list[int]]:
    """Per group of the router's kernel, the next-hop of each bucket, in bucket order."""
    out: dict[int, list[int]] = {}
    for entry in ip_json("nexthop", "bucket", "show", netns=lab.topology.router_ns):
        out.setdefault(int(entry["id"]), []).append(int(entry["bucket"]["nhid"]))
    return out


def kernel_fib(lab: Lab) -> tuple[Any, Any, dict[int, list[int]]]:
    ns = lab.topology.router_ns
    routes = [r for r in ip_json("route", "show", "table", "main", netns=ns) if "nhid" in r]
    return ip_json("nexthop", "show", netns=ns), routes, buckets(lab)


def manager_log(lab: Lab) -> str:
    return (lab.dir / "logs" / "rr-manager-router.log").read_text()


def passes_after(lab: Lab, mark: int) -> list[dict[str, Any]]:
    """The FIB writer's log events written after ``mark`` (a length of the log)."""
    events = []
    for line in manager_log(lab)[mark:].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return [e for e in events if str(e.get("event", "")).startswith("rr.fib.")]


def first_member(lab: Lab) -> int:
    """The LB whose node is the first member of the VIP's group. Taking it out of a
    hash-threshold group shifts every boundary; the middle one of three would leave the other
    two their ranges (which zebra's order, by its own next-hop IDs, sometimes makes lb3)."""
    ns = lab.topology.router_ns
    [route] = [r for r in ip_json("route", "show", "table", "main", netns=ns) if r.get("dst") == ADDRESS]
    entries = {n["id"]: n for n in ip_json("nexthop", "show", netns=ns)}
    first = entries[route["nhid"]]["group"][0]["id"]
    return int(entries[first]["gateway"].rsplit(".", 1)[1]) - 10


def test_removing_one_of_three_lbs_loses_no_connection_of_the_survivors_only_with_the_resilient_fib(
    make_lab: LabFactory,
) -> None:
    lost = {}
    for fib in ("zebra", "resilient"):
        lab = make_lab(lbs=3, fib=fib)
        lb = first_member(lab)
        node = lab.topology.nodes[lb - 1]

        def withdraw(lab: Lab = lab, lb: int = lb, node_ip: str = node.ip) -> None:
            lab.set_health(lb, "fail")  # its announcer withdraws: out of the group
            lab.router.wait_fib_without(frozenset({node_ip}), 30, what=f"lb{lb} out of the router's FIB")

        result = hold_during(lab, ADDRESS, CONNECTIONS, 3, withdraw, leaving=f"lb{lb}")
        assert result["held"] == CONNECTIONS and set(result["by_lb"]) == {"lb1", "lb2", "lb3"}, result
        assert result["held_after_seconds"] >= 2.9, result  # held on well after the FIB changed
        # its flows now reach LBs that never saw them
        assert result["lost_on_leaving"] == result["by_lb"][f"lb{lb}"]["held"], result
        lost[fib] = (result["lost_on_surviving"], result["held_on_surviving"])
        lab.down()
    # hash-threshold re-divides the hash space: some of the survivors' flows move and are reset
    assert lost["zebra"][0] > 0, lost
    assert lost["resilient"][0] == 0, lost


def test_killing_an_lb_loses_no_connection_of_the_survivors_with_the_resilient_fib(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(lbs=3, fib="resilient")
    result = hold_during(lab, ADDRESS, CONNECTIONS, 3, lambda: lab.scale(2, kill=True), leaving="lb3")
    assert result["held"] == CONNECTIONS and result["held_after_seconds"] >= 2.9, result
    assert result["lost_on_surviving"] == 0 and result["lost_on_leaving"] == result["by_lb"]["lb3"]["held"], (
        result
    )


def test_adding_an_lb_loses_no_connection_with_the_resilient_fib(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, fib="resilient")
    [group] = buckets(lab)
    result = hold_during(lab, ADDRESS, CONNECTIONS, 3, lambda: lab.scale(4))
    assert result["held"] == CONNECTIONS and result["lost"] == 0, result
    assert result["held_after_seconds"] >= 2.9, result  # lb4 was in the FIB for all of that
    # lb4 joined the same group, in place; it got only buckets no held connection was using
    view = Kernel(lab.topology.router_ns).views()[group]
    assert [m.gateway for m in view.members] == ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"]


def test_draining_an_lb_whose_connections_end_within_the_drain_period_loses_none(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(lbs=3, fib="resilient", drain_seconds=4)
    ns = lab.topology.router_ns
    weights: list[dict[str, int]] = []
    watching = threading.Event()

    def sample() -> None:  # the group's weights while the drain runs: make-before-break shows
        gateways = {}
        while not watching.is_set():
            entries = ip_json("nexthop", "show", netns=ns)
            gateways.update({n["id"]: n["gateway"] for n in entries if "gateway" in n})
            for n in entries:
                if "group" in n:
                    weights.append({gateways.get(m["id"], "?"): m.get("weight", 1) for m in n["group"]})
            watching.wait(0.05)  # a sampling pace, not a wait for a condition

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # the client ends every connection 2 s into the drain: before its 4 s are over
        result = hold_during(lab, ADDRESS, CONNECTIONS, 3, lambda: lab.scale(2), close_after=2, leaving="lb3")
    finally:
        watching.set()
        sampler.join(5)
    assert result["held"] == CONNECTIONS and result["by_lb"]["lb3"]["held"] > 0, result
    assert result["lost"] == 0 and result["held_seconds"] >= 2, result
    assert result["disruption_seconds"] >= 4  # the drain: 4 s marked, then the withdrawal
    # lb3 was kept in the group at the smallest weight before it left it
    assert {"10.0.0.11": 256, "10.0.0.12": 256, "10.0.0.13": 1} in weights, weights[-5:]
    assert weights[-1] == {"10.0.0.11": 256, "10.0.0.12": 256}


def test_restarting_the_manager_or_the_router_gobgpd_moves_no_bucket(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, fib="resilient")
    before = kernel_fib(lab)
    assert before[2] and all(len(b) == 256 for b in before[2].values())

    def restart_manager() -> None:
        mark = len(manager_log(lab))
        lab.restart_manager("router")

        def passed() -> None:
            assert any(e["event"] == "rr.fib.pass.done" for e in passes_after(lab, mark)), "no pass yet"

        eventually(passed, 30, what="the new manager's first FIB pass", context=lab.logs_tail)
        assert not [e for e in passes_after(lab, mark) if e["event"] == "rr.fib.op.applied"]

    result = hold_during(lab, ADDRESS, CONNECTIONS, 2, restart_manager)
    assert result["lost"] == 0 and result["held_after_seconds"] >= 1.9, result
    assert kernel_fib(lab) == before

    def restart_router() -> None:
        mark = len(manager_log(lab))
        lab.restart("router")

        def learned() -> None:
            events = [e["event"] for e in passes_after(lab, mark)]
            assert "rr.fib.hold.started" in events and "rr.fib.hold.ended" in events, events

        eventually(learned, 60, what="the FIB writer's hold over the restart", context=lab.logs_tail)
        lab.wait_settled(30)
        assert not [e for e in passes_after(lab, mark) if e["event"] == "rr.fib.op.applied"]

    result = hold_during(lab, ADDRESS, CONNECTIONS, 2, restart_router)
    assert result["lost"] == 0 and result["held_after_seconds"] >= 1.9, result
    assert kernel_fib(lab) == before


def test_lab_hold_reports_per_lb_as_json(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=2, fib="resilient")
    out = lab_cli(lab, "hold", "--connections", "40", "--seconds", "1", "--json")
    report = json.loads(out.stdout)
    assert report["fib"] == "resilient" and report["during"] == "none" and report["held"] == 40
    assert sum(c["held"] for c in report["by_lb"].values()) == 40 and report["lost"] == 0


def test_fib_and_vips_show_each_next_hop_s_buckets_and_the_one_draining(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, fib="resilient", drain_seconds=30)

    def cli(*args: str) -> Any:
        out = subprocess.run(
            [sys.executable, "-m", "lbroute.cli.main", *args, "--lab", lab.prefix, "--json"],
            capture_output=True, text=True, check=True,
            env={"LBROUTE_STATE_ROOT": str(lab.root), "PATH": "/usr/sbin:/usr/bin:/bin"},
        )  # fmt: skip
        return json.loads(out.stdout)

    [route] = cli("fib", "--vip", VIP)
    group = route["group"]
    assert group["type"] == "resilient" and group["buckets"] == 256 and group["id"] == route["nhid"]
    assert [(h["gateway"], h["weight"], h["draining"]) for h in group["next_hops"]] == [
        ("10.0.0.11", 256, False),
        ("10.0.0.12", 256, False),
        ("10.0.0.13", 256, False),
    ]
    assert sum(h["buckets"] for h in group["next_hops"]) == 256
    # lb3 drains for 30 s, marked GRACEFUL_SHUTDOWN: asked through its drain socket, as a preStop hook does
    drain = subprocess.Popen(
        daemons.drain_argv(configs.pod_dir(lab.dir, Node(3)), 60),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def marked() -> Any:
            # the RR's paths carry the mark first; the router's lbroute-rr reweighs its group next
            [row] = cli("vips", "--vip", VIP)
            assert row["draining"] == ["10.0.0.13"], row
            hops = {h["gateway"]: h for h in row["fib_group"]["next_hops"]}
            assert hops["10.0.0.13"]["weight"] == 1, row["fib_group"]
            return row

        row = eventually(marked, 20, what="lb3 draining in lbroute vips", context=lab.logs_tail)
    finally:
        drain.kill()  # the client only waits for the answers; the drain itself goes on
        drain.wait()
    hops = {h["gateway"]: h for h in row["fib_group"]["next_hops"]}
    assert hops["10.0.0.13"]["weight"] == 1 and hops["10.0.0.13"]["draining"]
    assert hops["10.0.0.13"]["buckets"] == 0  # no traffic: every one of its buckets was idle
    assert row["status"] == "OK" and row["fib_next_hops"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    table = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", "vips", "--lab", lab.prefix],
        capture_output=True, text=True, check=True,
        env={"LBROUTE_STATE_ROOT": str(lab.root), "PATH": "/usr/sbin:/usr/bin:/bin"},
    ).stdout.splitlines()  # fmt: skip
    assert table[0].split()[-2:] == ["BUCKETS", "DRAINING"] and table[1].split()[-2:] == [
        "128/128/0",
        "10.0.0.13",
    ]
    # the drain goes on in the background; taking the lab down ends it
