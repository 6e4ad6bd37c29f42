"""IPv6 VIPs end to end: exabgp announces a /128 with the node's IPv6 address over its IPv4
session to the RR, the RR reflects it (ipv6-unicast, add-path) to the router, whose gobgpd
installs it through zebra as one ECMP route; ``lbroute vips``, ``fib`` and ``diff`` read it
back, and traffic from the router reaches every LB over IPv6."""

from __future__ import annotations

import json

from lbroute.core.bgp import Family
from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Service, parse_service
from lbroute.polling import eventually
from tests.support.cli import cli, cli_json, lab_cli, table
from tests.support.fib import wait_fib
from tests.support.lab import LabFactory

WEB, WEB6 = "10.1.1.1/32", "2001:db8:1::1/128"
NODE = {1: "10.0.0.11", 2: "10.0.0.12", 3: "10.0.0.13"}
NODE6 = {1: "fd00::11", 2: "fd00::12", 3: "fd00::13"}
POD = {1: "172.16.1.2", 2: "172.16.2.2", 3: "172.16.3.2"}


def vips_by_prefix(lab: Lab) -> dict[str, dict[str, object]]:
    return {row["prefix"]: row for row in cli_json(lab, "vips")}


def test_a_128_vip_from_three_lbs_is_a_three_way_ecmp_route_that_the_cli_shows(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, services=(Service("web6", WEB6),))

    # the router's kernel: one route, three next-hops, put there by zebra
    [route] = read_fib(lab.topology.router_ns, prefix=WEB6)
    assert route.next_hops == frozenset(NODE6.values())
    assert route.protocol == "bgp"
    # both ends of the BGP path: a path per speaker at the RR, all of them at the router
    with GobgpClient(str(lab.socket("rr"))) as rr, GobgpClient(str(lab.socket("router"))) as router:
        rr_paths = rr.list_paths(Family.IPV6_UNICAST, prefixes=(WEB6,))
        router_paths = router.list_paths(Family.IPV6_UNICAST, prefixes=(WEB6,))
        assert rr.list_paths(Family.IPV4_UNICAST) == []  # the lab announces no IPv4 VIP here
    assert sorted((p.source, p.next_hop) for p in rr_paths) == [(POD[i], NODE6[i]) for i in (1, 2, 3)]
    assert sorted(p.next_hop for p in router_paths) == sorted(NODE6.values())
    assert {p.source for p in router_paths} == {"10.0.0.2"}

    # vips: table and JSON
    [row] = cli_json(lab, "vips")
    assert row["prefix"] == WEB6 and row["status"] == "OK", row
    assert row["speakers"] == [POD[1], POD[2], POD[3]]
    assert row["rr_paths"] == [3] and row["router_paths"] == 3
    assert row["rr_next_hops"] == row["router_next_hops"] == row["fib_next_hops"] == list(NODE6.values())
    assert row["problems"] == []
    rows = table(cli(lab, "vips").stdout)
    assert rows[1] == [WEB6, "OK", ",".join(POD.values()), "3", "3", ",".join(NODE6.values())]

    # fib: table and JSON
    fib = {r["prefix"]: r for r in cli_json(lab, "fib")}
    assert {k: fib[WEB6][k] for k in ("prefix", "protocol", "next_hops")} == {
        "prefix": WEB6,
        "protocol": "bgp",
        "next_hops": list(NODE6.values()),
    }
    assert fib[WEB6]["group"]["type"] == "hash-threshold"  # zebra's next-hop group
    assert table(cli(lab, "fib", "--vip", WEB6).stdout) == [
        ["PREFIX", "PROTOCOL", "NEXT-HOPS", "GROUP"],
        [WEB6, "bgp", ",".join(NODE6.values()), "hash-threshold", str(fib[WEB6]["nhid"])],
    ]

    # diff: equal, then a next-hop written into the kernel by hand is named (both sides)
    assert "all 1 VIP(s)" in cli(lab, "diff").stdout
    assert cli_json(lab, "diff") == {"equal": True, "vips": 1, "differences": []}
    router_ns = lab.topology.router_ns
    ip("-6", "route", "replace", WEB6, "nexthop", "via", NODE6[1], "nexthop", "via", "fd00::99",
       netns=router_ns)  # fmt: skip
    result = cli(lab, "diff", check=False)
    assert result.returncode == 1, result.stdout
    assert f"{WEB6} DRIFT: the FIB forwards on fd00::99; the router's RIB has no path via it" in result.stdout
    report = json.loads(cli(lab, "diff", "--json", check=False).stdout)
    assert report["equal"] is False and {d["prefix"] for d in report["differences"]} == {WEB6}


def test_requests_to_an_ipv6_vip_reach_every_lb_and_scale_3_to_1_follows(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3, services=(Service("web6", WEB6),))
    answers = json.loads(lab_cli(lab, "probe", "--vip", "2001:db8:1::1", "--count", "90", "--json").stdout)
    assert answers["failed"] == 0 and sum(answers["answers"].values()) == 90
    assert set(answers["answers"]) == {"lb1", "lb2", "lb3"}  # the router hashes IPv6 flows on L4 too

    lab.scale(1)
    wait_fib(lab, {NODE6[1]}, prefix=WEB6)
    [row] = cli_json(lab, "vips")
    assert row["status"] == "OK" and row["fib_next_hops"] == [NODE6[1]] and row["speakers"] == [POD[1]]
    assert cli(lab, "diff").returncode == 0
    answers = json.loads(lab_cli(lab, "probe", "--vip", "2001:db8:1::1", "--count", "10", "--json").stdout)
    assert answers["failed"] == 0 and answers["answers"] == {"lb1": 10}


def test_a_mixed_lab_carries_both_families_over_one_session_per_lb(
    make_lab: LabFactory, router_kind: str
) -> None:
    services = (Service("web", WEB), parse_service(f"web6={WEB6}@1,2"))
    lab = make_lab(lbs=3, services=services, router=router_kind)
    assert lab.router_fib() == {
        WEB: frozenset(NODE.values()),
        WEB6: frozenset({NODE6[1], NODE6[2]}),
    }
    vips = vips_by_prefix(lab)
    assert vips[WEB]["fib_next_hops"] == list(NODE.values()) and vips[WEB]["status"] == "OK"
    assert vips[WEB6]["fib_next_hops"] == [NODE6[1], NODE6[2]] and vips[WEB6]["status"] == "OK"
    # one IPv4 session per LB carries both: lb1 and lb2 sent two prefixes, lb3 one
    peers = {p["neighbor"]: p for p in cli_json(lab, "peers") if p["at"] == "rr"}
    assert [peers[POD[i]]["received"] for i in (1, 2, 3)] == [2, 2, 1]
    assert cli_json(lab, "diff") == {"equal": True, "vips": 2, "differences": []}

    # lb1's health check fails: its announcer withdraws both VIPs, each family's route loses it
    lab.set_health(1, "fail")
    lab.router.wait_fib({WEB: frozenset({NODE[2], NODE[3]}), WEB6: frozenset({NODE6[2]})}, 15)
    lab.set_health(1, "ok")
    lab.wait_converged(15)

    # scaling down drains lb3 (IPv4 only) and lb2 (both): each family follows
    lab.scale(1)
    assert lab.router_fib() == {WEB: frozenset({NODE[1]}), WEB6: frozenset({NODE6[1]})}

    def both_ok() -> None:
        rows = vips_by_prefix(lab)
        assert [rows[v]["status"] for v in (WEB, WEB6)] == ["OK", "OK"], rows

    eventually(both_ok, 10, what="vips OK after scale 1", context=lab.logs_tail)


def test_gobgpd_counts_max_prefixes_per_family(make_lab: LabFactory) -> None:
    # lb1 sends 5 IPv4 prefixes (web and 4 rogue routes) and 1 IPv6: 6 in all, over a limit of
    # 5 only if the families were added up. gobgpd limits each family on its own, and so does
    # the lab's expectation: lab.up waited for both routes with lb1 in them.
    services = (Service("web", WEB), Service("web6", WEB6))
    lab = make_lab(lbs=2, services=services, rogue_lb=1, max_prefixes=5)
    assert lab.router_fib() == {WEB: frozenset({NODE[1], NODE[2]}), WEB6: frozenset({NODE6[1], NODE6[2]})}
    [lb1] = [p for p in cli_json(lab, "peers") if p["neighbor"] == POD[1]]
    assert lb1["state"] == "ESTABLISHED" and lb1["received"] == 6 and lb1["accepted"] == 2, lb1
