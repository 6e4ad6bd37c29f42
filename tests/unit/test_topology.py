"""The lab's names and addresses, and the service syntax of `lbroute lab up --service`."""

from __future__ import annotations

import re

import pytest

from lbroute.lab.topology import Service, Topology, TopologyError, check_prefix, parse_service


def test_names_and_addresses_follow_the_seed() -> None:
    topo = Topology("lbr", 3)
    assert [n.ip for n in topo.nodes] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert topo.node_ns(2) == "lbr-node2" and topo.lb_ns(2) == "lbr-lb2"
    assert topo.router_ns == "lbr-router" and topo.rr_ns() == "lbr-rr"
    assert topo.nodes[1].pod_ip == "172.16.2.2"


def test_every_host_is_dual_stack_with_the_same_digits() -> None:
    topo = Topology("lbr", 3, rrs=2)
    assert [n.ip6 for n in topo.nodes] == ["fd00::11", "fd00::12", "fd00::13"]
    assert (topo.rr_ip6(1), topo.rr_ip6(2)) == ("fd00::2", "fd00::3")
    assert Topology("lbr", 64).nodes[-1].ip6 == "fd00::74"  # as 10.0.0.74
    node = topo.nodes[1]
    assert (node.pod_ip6, node.pod_gateway6) == ("fd16:2::2", "fd16:2::1")
    assert node.next_hop_for("10.1.1.1/32") == "10.0.0.12"
    assert node.next_hop_for("2001:db8:1::1/128") == "fd00::12"


def test_an_ipv6_service_is_a_128_in_the_ipv6_pool() -> None:
    assert parse_service("web6=2001:db8:1:0::1/128@2") == Service("web6", "2001:db8:1::1/128", (2,))
    with pytest.raises(TopologyError, match="IPv4 /32s and IPv6 /128s"):
        parse_service("web6=2001:db8:1::/64")
    with pytest.raises(TopologyError, match=re.escape("pools 10.1.0.0/16 or 2001:db8:1::/48")):
        parse_service("web6=2001:db8:2::1/128")


def test_overlapping_services_expect_their_own_node_sets() -> None:
    topo = Topology("t", 3, (Service("web", "10.1.1.1/32"), parse_service("api=10.1.2.1/32@1,2")))
    assert topo.expected_next_hops() == {
        "10.1.1.1/32": frozenset({"10.0.0.11", "10.0.0.12", "10.0.0.13"}),
        "10.1.2.1/32": frozenset({"10.0.0.11", "10.0.0.12"}),
    }
    assert topo.with_lbs(1).expected_next_hops() == {
        "10.1.1.1/32": frozenset({"10.0.0.11"}),
        "10.1.2.1/32": frozenset({"10.0.0.11"}),
    }
    assert topo.with_lbs(0).expected_next_hops() == {}


@pytest.mark.parametrize(
    "text", ["web", "web=10.1.1.0/24", "web=192.0.2.1/32", "web=10.1.1.1/32@x", "web=banana"]
)
def test_bad_services_are_refused(text: str) -> None:
    with pytest.raises(TopologyError, match="service"):
        parse_service(text)


@pytest.mark.parametrize(("prefix", "lbs"), [("Bad", 1), ("toolongprefix", 1), ("ok", 65), ("ok", -1)])
def test_bad_topologies_are_refused(prefix: str, lbs: int) -> None:
    with pytest.raises(TopologyError):
        Topology(prefix, lbs)


@pytest.mark.parametrize("prefix", ["lbr", "t1a2b3", "a", "abcdefgh"])
def test_lab_names(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["", "..", ".", "/run", "a/b", "lbr\n", "lbr ", "Lbr", "1lb", "lb-r", "abcdefghi", "é"]
)
def test_names_that_could_be_paths_or_break_namespaces_are_refused(prefix: str) -> None:
    with pytest.raises(TopologyError, match="lab prefix"):
        check_prefix(prefix)


def test_a_huge_bad_name_is_echoed_cut() -> None:
    with pytest.raises(TopologyError) as err:
        check_prefix("x" * 1_000_000)
    assert len(str(err.value)) < 200 and "1000000 characters" in str(err.value)


def test_services_need_distinct_names_and_vips() -> None:
    with pytest.raises(TopologyError, match="each name once; given more than once: web"):
        Topology("t", 2, (Service("web", "10.1.1.1/32"), Service("web", "10.1.1.2/32")))
    with pytest.raises(TopologyError, match=r"each VIP once; given more than once: 10\.1\.1\.1/32"):
        Topology("t", 2, (Service("web", "10.1.1.1/32"), Service("api", "10.1.1.1/32")))
    with pytest.raises(TopologyError, match="at least one"):
        Topology("t", 2, ())


@pytest.mark.parametrize(
    ("text", "says"),
    [("=10.1.1.1/32", "name before '=' is empty"), ("web=10.1.1.1/32@0", "numbered 1 to 64"),
     ("web=10.1.1.1/32@65", "numbered 1 to 64"), ("web=2001:db8::1/128", "the lab's pools")],
)  # fmt: skip
def test_service_lb_numbers_and_names(text: str, says: str) -> None:
    with pytest.raises(TopologyError, match=says):
        parse_service(text)


def test_a_huge_service_is_echoed_cut() -> None:
    with pytest.raises(TopologyError) as err:
        parse_service("web=" + "9" * 1_000_000)
    assert len(str(err.value)) < 400
