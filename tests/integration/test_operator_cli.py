"""``lbroute`` against the real lab: what the commands say must be what the test set up.

Every command runs as an operator would run it (a separate process, ``--lab PREFIX``), in
table and in JSON form. Changes are made by real means: an LB's exabgp stopped by its
recorded PID, a route written into the router's kernel with ``ip``.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbroute.kernel.ip import ip
from lbroute.lab import processes
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Service, parse_service
from lbroute.polling import eventually
from tests.support.cli import cli, cli_json, lab_env, table
from tests.support.lab import LabFactory

WEB, API = "10.1.1.1/32", "10.1.2.1/32"
NODE = {1: "10.0.0.11", 2: "10.0.0.12", 3: "10.0.0.13"}
POD = {1: "172.16.1.2", 2: "172.16.2.2", 3: "172.16.3.2"}
SERVICES = (Service("web", WEB), parse_service(f"api={API}@1,2"))
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def stop_lb(lab: Lab, i: int) -> None:
    """LB i stops announcing: its exabgp ends (by recorded PID) and sends the RR a Cease."""
    assert processes.stop(lab.state.processes[f"exabgp-lb{i}"])


def test_vips_peers_rib_and_fib_say_what_the_lab_set_up(make_lab: LabFactory, router_kind: str) -> None:
    # the frr router's RIB and sessions are read through vtysh, gobgpd's over gRPC: the same answers
    lab = make_lab(lbs=3, services=SERVICES, router=router_kind)

    vips = {row["prefix"]: row for row in cli_json(lab, "vips")}
    assert set(vips) == {WEB, API}
    web, api = vips[WEB], vips[API]
    assert web["status"] == api["status"] == "OK"
    assert web["speakers"] == [POD[1], POD[2], POD[3]]
    assert api["speakers"] == [POD[1], POD[2]]
    assert web["rr_paths"] == [3] and api["rr_paths"] == [2]
    assert web["router_paths"] == 3 and web["router_paths_from"] == {"10.0.0.2": 3}
    assert (
        web["rr_next_hops"] == web["router_next_hops"] == web["fib_next_hops"] == [NODE[1], NODE[2], NODE[3]]
    )
    assert api["fib_next_hops"] == [NODE[1], NODE[2]]
    assert web["problems"] == []

    rows = table(cli(lab, "vips").stdout)
    assert rows[0][:2] == ["VIP", "STATUS"]
    assert rows[1] == [WEB, "OK", f"{POD[1]},{POD[2]},{POD[3]}", "3", "3", f"{NODE[1]},{NODE[2]},{NODE[3]}"]
    assert rows[2] == [API, "OK", f"{POD[1]},{POD[2]}", "2", "2", f"{NODE[1]},{NODE[2]}"]

    peers = cli_json(lab, "peers")
    at_rr = {p["neighbor"]: p for p in peers if p["at"] == "rr"}
    at_router = {p["neighbor"]: p for p in peers if p["at"] == "router"}
    assert set(at_rr) == {POD[1], POD[2], POD[3], "10.0.0.1"}
    assert set(at_router) == {"10.0.0.2"}
    assert all(p["state"] == "ESTABLISHED" for p in peers)
    assert [at_rr[POD[i]]["received"] for i in (1, 2, 3)] == [2, 2, 1]  # lb3 serves web only
    assert all(at_rr[POD[i]]["hold_time"] == 3 and at_rr[POD[i]]["rejected"] == 0 for i in (1, 2, 3))
    # paths only, with graceful restart (on with one RR) too: gobgpd 3.36 counted its End-of-RIB as one more
    assert at_rr["10.0.0.1"]["advertised"] == 5
    assert at_router["10.0.0.2"]["received"] == at_router["10.0.0.2"]["accepted"] == 5
    assert at_router["10.0.0.2"]["hold_time"] == 9
    # graceful restart, the lab's default with one RR: the router helps, the RR asks; not speakers
    assert (
        at_router["10.0.0.2"]["graceful_restart"] == "helper"
        and at_rr["10.0.0.1"]["graceful_restart"] == "on"
    )
    assert all(at_rr[POD[i]]["graceful_restart"] is None for i in (1, 2, 3))
    assert all(p["stale"] == 0 for p in peers)
    peer_rows = table(cli(lab, "peers").stdout)
    assert peer_rows[0][:5] == ["AT", "NEIGHBOR", "ASN", "GROUP", "STATE"]
    assert peer_rows[-1][:5] == ["router", "10.0.0.2", "65021", "-", "ESTABLISHED"]

    paths = cli_json(lab, "rib")
    assert sorted(
        (p["at"], p["prefix"], p["next_hop"], p["source"]) for p in paths if p["at"] == "rr"
    ) == sorted(
        [("rr", WEB, NODE[i], POD[i]) for i in (1, 2, 3)] + [("rr", API, NODE[i], POD[i]) for i in (1, 2)]
    )
    at_router_paths = [p for p in paths if p["at"] == "router"]
    assert len(at_router_paths) == 5 and {p["source"] for p in at_router_paths} == {"10.0.0.2"}
    assert not any(p["stale"] for p in paths)  # nothing is held for an RR that went away
    only_web = cli_json(lab, "rib", "--vip", WEB, "--at", "router")
    assert sorted(p["next_hop"] for p in only_web) == [NODE[1], NODE[2], NODE[3]]
    # the router runs multipath: gobgpd 4.8 marks every path of the ECMP set best (3.36 marked
    # one, as FRR's bgpd does: the others are its multipaths)
    assert sum(p["best"] for p in only_web) == (1 if router_kind == "frr" else 3)
    rib_rows = table(cli(lab, "rib", "--vip", "10.1.2.1", "--at", "rr").stdout)
    assert [r[:4] for r in rib_rows[1:]] == [["rr", API, NODE[1], POD[1]], ["rr", API, NODE[2], POD[2]]]

    fib = {r["prefix"]: r for r in cli_json(lab, "fib")}
    web = fib[WEB]
    assert {k: web[k] for k in ("prefix", "protocol", "next_hops")} == {
        "prefix": WEB,
        "protocol": "bgp",
        "next_hops": [NODE[1], NODE[2], NODE[3]],
    }
    # zebra installs an ordinary group: no buckets, nothing draining
    assert web["group"]["id"] == web["nhid"] and web["group"]["type"] == "hash-threshold"
    assert [(h["gateway"], h["buckets"]) for h in web["group"]["next_hops"]] == [
        (NODE[i], None) for i in (1, 2, 3)
    ]
    assert fib[API]["next_hops"] == [NODE[1], NODE[2]]
    assert fib["10.0.0.0/24"]["next_hops"] == [] and fib["10.0.0.0/24"]["group"] is None
    fib_rows = table(cli(lab, "fib", "--vip", API).stdout)
    assert fib_rows == [
        ["PREFIX", "PROTOCOL", "NEXT-HOPS", "GROUP"],
        [API, "bgp", f"{NODE[1]},{NODE[2]}", "hash-threshold", str(fib[API]["nhid"])],
    ]

    result = cli(lab, "diff")
    assert "all 2 VIP(s)" in result.stdout
    assert cli_json(lab, "diff") == {"equal": True, "vips": 2, "differences": []}

    if router_kind == "frr":
        # an FRR router outside a lab: the same view from the targets named one by one
        by_hand = subprocess.run(
            [sys.executable, "-m", "lbroute.cli.main", "vips", "--json", "--rr", f"unix://{lab.socket('rr')}",
             "--router-vtysh", str(lab.router_dir), "--router-netns", lab.topology.router_ns,
             "--vip-pool", "10.1.0.0/16"],
            capture_output=True, text=True, timeout=60, env=lab_env(lab), check=True,
        )  # fmt: skip
        assert json.loads(by_hand.stdout) == cli_json(lab, "vips")


def test_an_lb_that_stops_announcing_leaves_one_fewer_next_hop(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, services=SERVICES)
    stop_lb(lab, 2)

    def web_follows() -> dict[str, Any]:
        rows = {row["prefix"]: row for row in cli_json(lab, "vips")}
        web = rows[WEB]
        assert web["fib_next_hops"] == [NODE[1], NODE[3]], web
        assert web["status"] == "OK", web
        return rows

    rows = eventually(web_follows, 15, what="vips without lb2", context=lab.logs_tail)
    assert rows[WEB]["speakers"] == [POD[1], POD[3]]
    assert rows[WEB]["rr_paths"] == [2] and rows[WEB]["router_paths"] == 2
    assert rows[API]["fib_next_hops"] == [NODE[1]] and rows[API]["status"] == "OK"
    assert cli(lab, "diff").returncode == 0
    assert POD[2] not in {p["neighbor"] for p in cli_json(lab, "peers")}


def test_diff_names_routes_written_into_the_router_kernel_by_hand(
    make_lab: LabFactory, router_kind: str
) -> None:
    lab = make_lab(lbs=2, router=router_kind)
    router_ns = lab.topology.router_ns
    assert cli(lab, "diff").returncode == 0

    # a VIP-pool route nobody announces
    ip("route", "add", "10.1.9.9/32", "via", NODE[1], netns=router_ns)
    result = cli(lab, "diff", check=False)
    assert result.returncode == 1, result.stdout
    assert re.search(rf"^10\.1\.9\.9/32 DRIFT: the FIB forwards on {NODE[1]}", result.stdout, re.M), (
        result.stdout
    )
    assert WEB not in result.stdout
    report = json.loads(cli(lab, "diff", "--json", check=False).stdout)
    assert report["equal"] is False and report["vips"] == 2
    assert [d["prefix"] for d in report["differences"]] == ["10.1.9.9/32"]
    ip("route", "del", "10.1.9.9/32", netns=router_ns)
    assert cli(lab, "diff").returncode == 0

    # the ECMP route rewritten: one next-hop BGP never named, one of BGP's dropped
    ip("route", "replace", WEB, "nexthop", "via", NODE[1], "nexthop", "via", "10.0.0.99", netns=router_ns)
    result = cli(lab, "diff", check=False)
    assert result.returncode == 1
    assert f"{WEB} DRIFT: the FIB forwards on 10.0.0.99; the router's RIB has no path via it" in result.stdout
    assert (
        f"{WEB} DRIFT: the router's RIB has a path via {NODE[2]}; the FIB does not forward on it"
        in result.stdout
    )
    [row] = cli_json(lab, "vips", "--vip", WEB)
    assert row["status"] == "DRIFT" and row["fib_next_hops"] == [NODE[1], "10.0.0.99"]


def test_fib_vips_and_diff_read_ipv6_routes_written_by_hand(make_lab: LabFactory) -> None:
    # an IPv6 ECMP route written by hand into the router's kernel, outside the lab's pools:
    # BGP knows nothing of it (tests/integration/test_ipv6.py has the routes BGP puts there)
    lab = make_lab(lbs=1)
    router_ns, vip6 = lab.topology.router_ns, "2001:db8:99::1/128"
    ip("-6", "route", "add", vip6, "nexthop", "via", "fd00::12", "nexthop", "via", "fd00::11",
       netns=router_ns)  # fmt: skip
    fib = {r["prefix"]: r for r in cli_json(lab, "fib")}
    assert fib[vip6] == {
        "prefix": vip6,
        "protocol": None,
        "next_hops": ["fd00::11", "fd00::12"],
        "nhid": None,
        "group": None,
    }
    assert fib[WEB]["next_hops"] == [NODE[1]]  # IPv4 first, as before
    assert list(fib).index(WEB) < list(fib).index(vip6)
    [only] = cli_json(lab, "fib", "--vip", vip6)
    assert only["next_hops"] == ["fd00::11", "fd00::12"]
    # inside a VIP pool it is a VIP: the FIB forwards where BGP says nothing
    result = cli(lab, "diff", "--vip-pool", "2001:db8:99::/64", check=False)
    assert result.returncode == 1, result.stdout
    assert f"{vip6} DRIFT: the FIB forwards on fd00::11" in result.stdout
    [row] = cli_json(lab, "vips", "--vip", vip6)
    assert row["status"] == "DRIFT" and row["fib_next_hops"] == ["fd00::11", "fd00::12"]
    assert cli(lab, "diff").returncode == 0  # outside every pool, the route is no VIP


@pytest.fixture
def watches() -> Iterator[list[subprocess.Popen[bytes]]]:
    """``lbroute watch`` processes a test started; any still running at the end are ended."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_watch_streams_session_and_path_changes(
    make_lab: LabFactory, tmp_path: Path, watches: list[subprocess.Popen[bytes]]
) -> None:
    lab = make_lab(lbs=3)
    # nothing changes: a bounded watch ends on its own, quietly
    quiet = cli(lab, "watch", "--timeout", "0.5")
    assert quiet.stdout == ""

    follow = _start_watch(lab, tmp_path / "follow", "--json")
    one = _start_watch(lab, tmp_path / "one", "--count", "1")
    watches += [follow[1], one[1]]
    for name, _ in (follow, one):
        eventually(lambda name=name: _assert_ready(tmp_path / f"{name}.err"), 15, what=f"watch {name} ready")
    stop_lb(lab, 2)

    def seen() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in (tmp_path / "follow.out").read_text().splitlines()]
        assert any(
            line["at"] == "rr" and line["event"] == "session" and line["neighbor"] == POD[2]
            and line["previous"] == "ESTABLISHED" and line["state"] != "ESTABLISHED"
            for line in lines
        ), lines  # fmt: skip
        assert any(
            line["at"] == "router" and line.get("prefix") == WEB and line["next_hops"] == [NODE[1], NODE[3]]
            for line in lines
        ), lines
        return lines

    lines = eventually(seen, 15, what="watch lines for lb2 going away", context=lab.logs_tail)
    assert all(re.fullmatch(TIMESTAMP, line["time"]) for line in lines)

    # --count 1 ends by itself after one line
    _, proc = one
    assert proc.wait(timeout=15) == 0
    [line] = (tmp_path / "one.out").read_text().splitlines()
    assert re.match(rf"{TIMESTAMP}  (rr|router) +(session|path) ", line), line

    # Ctrl-C ends a watch cleanly
    _, proc = follow
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    assert "Traceback" not in (tmp_path / "follow.err").read_text()


def _as_from_a_terminal() -> None:
    """SIGINT at its default in the watch, as a shell in a terminal starts it: a test run that
    was itself started in the background of a script (``cmd &``) ignores SIGINT, and an
    ignored signal stays ignored across exec, so Ctrl-C could not be tested at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_watch(lab: Lab, base: Path, *argv: str) -> tuple[str, subprocess.Popen[bytes]]:
    with open(f"{base}.out", "wb") as out, open(f"{base}.err", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lbroute.cli.main", "--log-level", "info", "watch", "--lab", lab.prefix,
             "--timeout", "60", *argv],
            stdout=out, stderr=err, env=lab_env(lab), preexec_fn=_as_from_a_terminal,
        )  # fmt: skip
    return base.name, proc


def _assert_ready(stderr: Path) -> None:
    assert "cli.watch.ready" in stderr.read_text(), stderr.read_text()
