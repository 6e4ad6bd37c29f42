"""Bad input to the data plane: EndpointSlices with garbage, outside the pod networks, on the
wrong port; each refused whole with one problem, the slice's last good version kept. And the
config: every problem at its place."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dataplane import endpoints
from dataplane.config import DataplaneConfig, RealserverConfig
from lbroute.config import ConfigError, load_config_text
from lbroute.core.dataplane import Endpoint

NETS = [ipaddress.ip_network("172.16.0.0/16")]


def slice_(
    *eps: dict[str, Any], name: str = "front-a", port: int | None = 80, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "web", "resourceVersion": "1"},
        "addressType": "IPv4",
        "endpoints": list(eps),
        **extra,
    }
    if port is not None:
        body["ports"] = [{"name": "http", "port": port, "protocol": "TCP"}]
    return body


def ep(address: Any, **conditions: Any) -> dict[str, Any]:
    return {"addresses": [address], "conditions": conditions}


def test_conditions_follow_the_api() -> None:
    got, problems = endpoints.backends(
        {
            "web/front-a": slice_(
                ep("172.16.1.10"),
                ep("172.16.1.11", ready=False),
                ep("172.16.1.12", ready=False, serving=True, terminating=True),
                ep("172.16.1.13", ready=True, serving=True, terminating=True),
            )
        },
        {},
        NETS,
        80,
    )
    assert problems == []
    assert endpoints.merged(got) == [
        Endpoint("172.16.1.10", True, True),
        Endpoint("172.16.1.11", False, False),
        Endpoint("172.16.1.12", False, True),
        Endpoint("172.16.1.13", False, True),
    ]


GOOD = slice_(ep("172.16.1.10"), ep("172.16.2.10"))


@pytest.mark.parametrize(
    ("bad", "kind", "what"),
    [
        (["not", "an", "object"], "garbage", "not an object"),
        (slice_(endpoints="nope"), "garbage", "endpoints is str"),
        (slice_({"addresses": "172.16.1.10"}), "garbage", "not a list of addresses"),
        (slice_(ep("not-an-ip")), "garbage", "'not-an-ip' is not an IPv4 address"),
        (slice_(ep("x" * 500)), "garbage", "..."),
        (slice_(ep("172.16.1.10", ready="yes")), "garbage", "conditions.ready is 'yes'"),
        (slice_(ep("10.0.0.1")), "outside", "10.0.0.1 is outside the pod networks"),
        (slice_(ep("172.16.1.10"), port=8080), "port", "port 8080 is not the service's target port 80"),
        (slice_(ep("172.16.1.10"), addressType="Bogus"), "garbage", "addressType 'Bogus'"),
    ],
)
def test_a_bad_slice_is_refused_and_its_last_good_version_stands(bad: Any, kind: str, what: str) -> None:
    good, _ = endpoints.backends({"web/front-a": GOOD}, {}, NETS, 80)
    got, problems = endpoints.backends(
        {"web/front-a": bad, "web/front-b": slice_(ep("172.16.3.10"))}, good, NETS, 80
    )
    assert [(p.slice, p.kind) for p in problems] == [("web/front-a", kind)]
    assert what in problems[0].what
    assert len(str(problems[0])) < 200
    assert [e.address for e in endpoints.merged(got)] == ["172.16.1.10", "172.16.2.10", "172.16.3.10"]


def test_a_bad_slice_with_no_good_version_contributes_nothing() -> None:
    got, problems = endpoints.backends({"web/front-a": slice_(ep("10.9.9.9"))}, {}, NETS, 80)
    assert got == {} and len(problems) == 1


def test_an_ipv6_slice_is_not_ours_and_no_problem() -> None:
    got, problems = endpoints.backends({"web/v6": slice_(ep("fd00::1"), addressType="IPv6")}, {}, NETS, 80)
    assert got == {} and problems == []


def test_a_slice_leaving_takes_its_backends() -> None:
    good, _ = endpoints.backends({"web/front-a": GOOD}, {}, NETS, 80)
    got, _ = endpoints.backends({}, good, NETS, 80)
    assert got == {}


BASE = """
pod_networks: [172.16.0.0/16]
services:
  - name: web
    vip: 10.1.1.1
    port: 80
    backends: [172.16.1.10]
"""


def test_a_good_config_loads() -> None:
    cfg = load_config_text(BASE, DataplaneConfig)
    assert cfg.driver == "nft-nat" and cfg.services[0].spec().target_port == 80


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            BASE.replace("backends: [172.16.1.10]", "backends: [10.0.0.5]"),
            ["services[0].backends[0]: 10.0.0.5 is outside pod_networks (172.16.0.0/16)"],
        ),
        (
            "driver: nft-dsr\n" + BASE,
            ["services[0].dscp: nft-dsr needs a DSCP value 1-31 per service"],
        ),
        (
            "driver: nft-dsr\n" + BASE.replace("port: 80", "port: 80\n    target_port: 8080\n    dscp: 3"),
            ["services[0].target_port: 8080: under direct server return the backend answers from the VIP's "
             "own port 80; drop target_port or use nft-nat"],
        ),
        (
            BASE + "maglev: {table_size: 4096}\n",
            ["maglev.table_size: table size 4096 is not a prime (e.g. 251, 1021, 4093, 16381, 65521)"],
        ),
        (
            BASE + "metrics: {address: 0.0.0.0}\n",
            ["metrics.address: this would listen on every address; name one, such as 127.0.0.1 or the "
             "pod's IP (got '0.0.0.0')"],
        ),
        (
            BASE.replace("    backends: [172.16.1.10]\n", ""),
            ["services[0]: give backends: [addresses] or kubernetes: {namespace, service}, one of them"],
        ),
        (
            BASE + "  - name: web\n    vip: 10.1.1.1\n    port: 80\n    backends: [172.16.1.11]\n",
            ["services[1].name: web is services[0]'s name too",
             "services[1]: 10.1.1.1:80 is services[0]'s VIP and port too"],
        ),
        (
            BASE.replace("vip: 10.1.1.1", "vip: 2001:db8::1"),
            ["services[0].vip: the data plane forwards IPv4 only; give an IPv4 address such as 10.1.1.1 "
             "(got '2001:db8::1')"],
        ),
    ],
)  # fmt: skip
def test_config_problems_are_listed_at_their_place(text: str, lines: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, DataplaneConfig)
    assert [str(p) for p in caught.value.problems] == lines


def test_the_realserver_needs_a_dscp_per_service_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE, RealserverConfig)
    assert [str(p) for p in caught.value.problems] == [
        "services[0].dscp: nft-dsr needs a DSCP value 1-31 per service"
    ]
