"""What the router's FIB must hold for a topology and a scenario, and what a scenario may ask."""

from __future__ import annotations

import re

import pytest

from lbroute.core.rib import FibRoute
from lbroute.lab.expectations import expected_fib, shut_out, vip_routes
from lbroute.lab.scenario import Scenario, ScenarioError
from lbroute.lab.topology import Service, Topology, parse_service

WEB, API = "10.1.1.1/32", "10.1.2.1/32"
N1, N2, N3 = "10.0.0.11", "10.0.0.12", "10.0.0.13"
TOPO = Topology("t", 3, (Service("web", WEB), parse_service(f"api={API}@1,2")))


def test_a_plain_lab_expects_every_lb_of_every_service() -> None:
    assert expected_fib(TOPO, Scenario()) == {WEB: frozenset({N1, N2, N3}), API: frozenset({N1, N2})}


def test_lbs_with_a_wrong_md5_key_get_no_session_and_no_next_hop() -> None:
    scenario = Scenario(kube_api="http://127.0.0.1:1", wrong_md5=(3,))
    assert expected_fib(TOPO, scenario) == {WEB: frozenset({N1, N2}), API: frozenset({N1, N2})}
    # a VIP left with no LB at all is no route
    both = Scenario(kube_api="http://127.0.0.1:1", wrong_md5=(1, 2))
    assert expected_fib(TOPO, both) == {WEB: frozenset({N3})}


def test_a_rogue_lb_is_shut_out_only_when_it_sends_more_than_max_prefixes() -> None:
    # lb1 serves web and api and adds 4 rogue routes: 6 prefixes
    assert shut_out(TOPO, Scenario(rogue_lb=1)) == frozenset()  # no limit given: the lab's 100
    assert shut_out(TOPO, Scenario(rogue_lb=1, max_prefixes=6)) == frozenset()
    assert shut_out(TOPO, Scenario(rogue_lb=1, max_prefixes=5)) == frozenset({1})
    assert expected_fib(TOPO, Scenario(rogue_lb=1, max_prefixes=5)) == {
        WEB: frozenset({N2, N3}),
        API: frozenset({N2}),
    }


WEB6 = "2001:db8:1::1/128"
MIXED = Topology("t", 3, (Service("web", WEB), parse_service(f"web6={WEB6}@1,2")))


def test_an_ipv6_vip_is_expected_via_the_nodes_ipv6_addresses() -> None:
    assert expected_fib(MIXED, Scenario()) == {
        WEB: frozenset({N1, N2, N3}),
        WEB6: frozenset({"fd00::11", "fd00::12"}),
    }
    assert MIXED.families == ("ipv4-unicast", "ipv6-unicast")
    assert TOPO.families == ("ipv4-unicast",)  # an IPv4-only lab's sessions stay IPv4-only
    # an LB with no session loses its next-hops in both families
    scenario = Scenario(kube_api="http://127.0.0.1:1", wrong_md5=(2,))
    assert expected_fib(MIXED, scenario) == {WEB: frozenset({N1, N3}), WEB6: frozenset({"fd00::11"})}


def test_max_prefixes_counts_each_family_on_its_own() -> None:
    # lb1 sends web and 4 rogue routes (all IPv4): 5, and web6: 1. gobgpd limits each family.
    assert shut_out(MIXED, Scenario(rogue_lb=1, max_prefixes=5)) == frozenset()
    assert shut_out(MIXED, Scenario(rogue_lb=1, max_prefixes=4)) == frozenset({1})
    assert expected_fib(MIXED, Scenario(rogue_lb=1, max_prefixes=4)) == {
        WEB: frozenset({N2, N3}),
        WEB6: frozenset({"fd00::12"}),
    }


def test_only_routes_in_the_vip_pool_count() -> None:
    routes = [
        FibRoute("0.0.0.0/0", frozenset({"10.0.0.254"})),
        FibRoute("10.0.0.0/24", frozenset()),
        FibRoute(WEB, frozenset({N1})),
        FibRoute("10.1.0.0/16", frozenset({N2})),
        FibRoute("2001:db8::1/128", frozenset({"fd00::11"})),  # outside the IPv6 pool
        FibRoute(WEB6, frozenset({"fd00::12"})),
        FibRoute("fd00::/64", frozenset()),
    ]
    assert vip_routes(routes) == {
        WEB: frozenset({N1}),
        "10.1.0.0/16": frozenset({N2}),
        WEB6: frozenset({"fd00::12"}),
    }


def test_graceful_restart_defaults_by_the_number_of_rrs() -> None:
    assert Scenario().for_topology(Topology("t", 1)).graceful_restart == 30
    assert Scenario().for_topology(Topology("t", 1, rrs=2)).graceful_restart == 0
    assert Scenario(graceful_restart=0).for_topology(Topology("t", 1)).graceful_restart == 0


@pytest.mark.parametrize(
    ("scenario", "says"),
    [
        (Scenario(wrong_md5=(1,)), "only with kube_api"),
        (Scenario(kube_api="http://x", wrong_md5=(4,)), "lb4 does not exist (LBs: 1..3)"),
        (Scenario(rogue_lb=9), "rogue_lb: lb9 does not exist"),
        (Scenario(max_prefixes=0), "max_prefixes 0"),
        (Scenario(speaker_timers=(3, 2)), "speaker_timers"),
        (Scenario(graceful_restart=5000), "graceful_restart 5000"),
        (Scenario(router="bird"), "router 'bird': use gobgp or frr"),
        (Scenario(fib="bird"), "fib 'bird': use zebra or resilient"),
        (Scenario(router="frr", fib="resilient"), "fib resilient: for router gobgp"),
        (Scenario(drain_seconds=601), "drain_seconds 601"),
    ],
)
def test_a_scenario_the_topology_cannot_carry_is_refused(scenario: Scenario, says: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(says)):
        scenario.for_topology(Topology("t", 3))


def test_the_scenario_survives_the_state_file_and_renders_its_group_overrides() -> None:
    scenario = Scenario(
        kube_api="http://127.0.0.1:8080", wrong_md5=(2, 3), rogue_lb=1, max_prefixes=7,
        speaker_timers=(30, 10), graceful_restart=0, router="frr",
    )  # fmt: skip
    assert Scenario.from_json(scenario.to_json()) == scenario
    resilient = Scenario(fib="resilient", drain_seconds=4.0)
    assert Scenario.from_json(resilient.to_json()) == resilient
    # a lab recorded before there were router kinds ran gobgpd
    assert Scenario.from_json({"graceful_restart": 30}).router == "gobgp"
    assert Scenario.from_json({}) == Scenario()
    assert scenario.group_overrides() == {"max_prefixes": 7, "timers": {"hold_time": 30, "keepalive": 10}}
    assert Scenario().group_overrides() == {}


def test_bfd_survives_the_state_file_and_reaches_the_router_only_with_two_rrs() -> None:
    scenario = Scenario(bfd=(300, 3))
    assert Scenario.from_json(scenario.to_json()) == scenario
    assert Scenario.from_json({}).bfd is None  # a lab recorded before BFD ran none
    assert scenario.router_bfd(Topology("t", 2, rrs=2)) == (300, 3)
    # one RR: graceful restart keeps forwarding through its restart, BFD would end that
    assert scenario.router_bfd(Topology("t", 2, rrs=1)) is None
    assert Scenario(bfd=(300, 3), router="frr").router_bfd(Topology("t", 2, rrs=2)) is None
    assert Scenario().router_bfd(Topology("t", 2, rrs=2)) is None
    with pytest.raises(ScenarioError, match=re.escape("bfd (5, 3): an interval of 10 to 60000 ms")):
        Scenario(bfd=(5, 3)).for_topology(Topology("t", 3))
