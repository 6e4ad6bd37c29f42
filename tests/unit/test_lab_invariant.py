"""The fault suite's invariant, without root: what the serving LBs' nodes make the FIB, and how
a FIB that differs is named (stale, missing, foreign)."""

from __future__ import annotations

from lbroute.lab.invariant import FibDiff, fib_diff, serving_fib
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Service, Topology, parse_service

WEB, API = "10.1.1.1/32", "10.1.2.1/32"
N1, N2, N3 = "10.0.0.11", "10.0.0.12", "10.0.0.13"
TOPO = Topology("t", 3, (Service("web", WEB), parse_service(f"api={API}@1,2")))


def test_only_serving_lbs_count_and_a_vip_nobody_serves_is_absent() -> None:
    assert serving_fib(TOPO, Scenario(), frozenset({1, 2, 3})) == {
        WEB: frozenset({N1, N2, N3}),
        API: frozenset({N1, N2}),
    }
    assert serving_fib(TOPO, Scenario(), frozenset({3})) == {WEB: frozenset({N3})}
    assert serving_fib(TOPO, Scenario(), frozenset()) == {}


def test_an_lb_shut_out_by_the_scenario_is_not_serving_even_if_running() -> None:
    assert serving_fib(TOPO, Scenario(wrong_md5=(3,)), frozenset({1, 3})) == {
        WEB: frozenset({N1}),
        API: frozenset({N1}),
    }


def test_a_fib_that_matches_has_no_difference() -> None:
    fib = {WEB: frozenset({N1, N2})}
    diff = fib_diff(fib, dict(fib))
    assert not diff
    assert diff.counts() == {"stale": 0, "missing": 0, "foreign": 0}
    assert str(diff) == "none"


def test_a_lab_node_too_many_is_stale_another_address_is_foreign_one_too_few_is_missing() -> None:
    expected = {WEB: frozenset({N1, N2}), API: frozenset({N1})}
    # N3 is a lab node's (not serving), 10.0.0.200 and the router's 10.0.0.1 are no node's
    actual = {WEB: frozenset({N1, N3, "10.0.0.200"}), "10.1.9.9/32": frozenset({"10.0.0.1"})}
    diff = fib_diff(expected, actual)
    assert diff == FibDiff(
        stale={WEB: [N3]},
        missing={WEB: [N2], API: [N1]},
        foreign={WEB: ["10.0.0.200"], "10.1.9.9/32": ["10.0.0.1"]},
    )
    assert diff.counts() == {"stale": 1, "missing": 2, "foreign": 2}
    assert "stale 10.1.1.1/32: 10.0.0.13" in str(diff)
    assert "foreign 10.1.9.9/32: 10.0.0.1" in str(diff)


def test_a_node_that_left_the_lab_is_stale_not_foreign() -> None:
    # lb5 was scaled away: its node address is still a lab node's
    diff = fib_diff({WEB: frozenset({N1})}, {WEB: frozenset({N1, "10.0.0.15", "fd00::15"})})
    assert diff.stale == {WEB: ["10.0.0.15", "fd00::15"]} and not diff.foreign and not diff.missing
