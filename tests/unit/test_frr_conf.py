"""frr.conf as the renderer writes it for the lab's router, and every problem it refuses at once."""

from __future__ import annotations

import pytest

from lbroute.frr.frr_conf import FrrConfError, FrrRouter, RrNeighbor, render
from lbroute.lab.frr_router import frr_router
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Topology


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("!")]


def test_the_lab_router_peers_with_each_rr_as_the_rrs_expect() -> None:
    topo = Topology("lbr", 3, rrs=2)
    conf = lines(render(frr_router(topo, Scenario(graceful_restart=0).for_topology(topo))))
    assert conf[:4] == [
        "frr defaults traditional",
        "hostname lbr-router",
        "router bgp 65021",
        "bgp router-id 10.0.0.1",
    ]
    for rr in ("10.0.0.2", "10.0.0.3"):
        assert f"neighbor {rr} remote-as internal" in conf  # iBGP, the RRs' own AS
        assert f"neighbor {rr} update-source 10.0.0.1" in conf
        assert f"neighbor {rr} timers 3 9" in conf  # keepalive 3, hold 9: the RRs' timers
        assert f"neighbor {rr} timers connect 1" in conf
        assert f"neighbor {rr} graceful-restart-disable" in conf  # two RRs: the lab has it off
        assert f"neighbor {rr} activate" in conf
        assert not any(line.startswith(f"neighbor {rr} password") for line in conf)
    assert "maximum-paths ibgp 64" in conf
    assert conf[-1] == "exit"


def test_graceful_restart_makes_the_router_a_helper_for_each_rr() -> None:
    topo = Topology("lbr", 2)
    conf = lines(render(frr_router(topo, Scenario().for_topology(topo))))  # one RR: 30 s by default
    assert "neighbor 10.0.0.2 graceful-restart-helper" in conf
    assert "neighbor 10.0.0.2 graceful-restart-disable" not in conf


def test_an_md5_key_is_written_for_its_rr_only() -> None:
    router = FrrRouter(
        "r1",
        65021,
        "10.0.0.1",
        (RrNeighbor("10.0.0.2", md5_password="s3cret"), RrNeighbor("10.0.0.3")),
        "10.0.0.1",
    )
    conf = lines(render(router))
    assert "neighbor 10.0.0.2 password s3cret" in conf
    assert not any("10.0.0.3 password" in line for line in conf)


def test_ipv6_gets_its_own_address_family_with_multipath() -> None:
    router = FrrRouter(
        "r1", 65021, "10.0.0.1", (RrNeighbor("fd00::2"),), "fd00::1", families=("ipv6-unicast",)
    )
    conf = lines(render(router))
    block = conf[conf.index("address-family ipv6 unicast") :]
    assert block[:3] == ["address-family ipv6 unicast", "maximum-paths ibgp 64", "neighbor fd00::2 activate"]
    assert "address-family ipv4 unicast" not in conf


def test_every_problem_is_listed_at_once_and_nothing_is_rendered() -> None:
    router = FrrRouter(
        "r1",
        0,
        "not-an-ip",
        (RrNeighbor("10.0.0.300", md5_password="two words"), RrNeighbor("10.0.0.3", md5_password="x" * 81)),
        "10.0.0.1",
        hold_time=9,
        keepalive=4,
        maximum_paths=65,
        families=("ipv4-multicast",),
    )
    with pytest.raises(FrrConfError) as err:
        render(router)
    problems = str(err.value).splitlines()
    assert problems == [
        "asn 0: from 1 to 4294967295",
        "router_id 'not-an-ip': not an IP address",
        "rr '10.0.0.300': not an IP address",
        "rr 10.0.0.300: an MD5 key for FRR is printable ASCII without spaces",
        "rr 10.0.0.3: an MD5 key is at most 80 characters (the kernel's limit)",
        "timers 9/4: hold >= 3 s and keepalive <= hold / 3",
        "maximum_paths 65: from 1 to 64",
        "family 'ipv4-multicast': use ipv4-unicast or ipv6-unicast",
    ]
