"""The operator view's verdicts and the FIB parser, on inputs shaped like the real ones."""

from __future__ import annotations

import pytest

from lbroute.core.rib import FibRoute, Path
from lbroute.core.view import DEGRADED, DRIFT, MISSING, OK, vip_rows
from lbroute.kernel.fib import parse_routes

A, B, C = "10.0.0.11", "10.0.0.12", "10.0.0.13"


def paths(prefix: str, *hops: str) -> list[Path]:
    return [Path(prefix, hop, source=f"172.16.{i}.2", path_id=i) for i, hop in enumerate(hops, 1)]


@pytest.mark.parametrize(
    ("announced", "installed", "status"),
    [
        ((A, B, C), {A, B, C}, OK),
        ((A, B, C), {A, B}, DEGRADED),
        ((A, B), {A, B, C}, DRIFT),
        ((A,), set(), MISSING),
    ],
)
def test_status(announced: tuple[str, ...], installed: set[str], status: str) -> None:
    fib = [FibRoute("10.1.1.1/32", frozenset(installed))] if installed else []
    [row] = vip_rows([paths("10.1.1.1/32", *announced)], fib)
    assert row.status == status


def test_fib_only_route_shows_when_asked_for() -> None:
    fib = [FibRoute("10.1.9.9/32", frozenset({A}))]
    assert vip_rows([[]], fib) == []
    [row] = vip_rows([[]], fib, only=["10.1.9.9/32"])
    assert row.status == DRIFT


def test_parse_multipath_route_with_nexthop_object() -> None:
    # `ip -j route` for a route zebra installed through a nexthop group
    entries = [
        {"dst": "10.0.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "10.0.0.1"},
        {
            "dst": "10.1.1.1",
            "nhid": 10,
            "protocol": "bgp",
            "metric": 20,
            "flags": [],
            "nexthops": [
                {"gateway": A, "dev": "eth0", "weight": 1, "flags": []},
                {"gateway": B, "dev": "eth0", "weight": 1, "flags": []},
            ],
        },
        {"dst": "default", "gateway": "10.0.0.254", "dev": "eth0", "flags": []},
    ]
    routes = parse_routes(entries)
    assert routes[1] == FibRoute("10.1.1.1/32", frozenset({A, B}), "bgp", nhid=10)
    assert routes[0].next_hops == frozenset()
    assert routes[2].prefix == "0.0.0.0/0" and routes[2].next_hops == frozenset({"10.0.0.254"})


# `ip -j -6 route show table main` in a namespace with routes added by hand (kernel 6.18,
# iproute2 6.1): a multipath route is one entry with "nexthops", as in IPv4
IPV6_ROUTES = [
    {"dst": "2001:db8::1", "metric": 1024, "flags": [], "pref": "medium", "nexthops": [
        {"gateway": "fd00::11", "dev": "v0", "weight": 1, "flags": []},
        {"gateway": "fd00::12", "dev": "v0", "weight": 1, "flags": []},
        {"gateway": "fd00::13", "dev": "v0", "weight": 1, "flags": []}]},
    {"dst": "2001:db8::2", "gateway": "fd00::11", "dev": "v0", "protocol": "bgp", "metric": 1024,
     "flags": [], "pref": "medium"},
    {"dst": "2001:db8::3", "nhid": 3, "protocol": "bgp", "metric": 1024, "flags": [], "pref": "medium",
     "nexthops": [{"gateway": "fd00::11", "dev": "v0", "weight": 1, "flags": []},
                  {"gateway": "fd00::12", "dev": "v0", "weight": 1, "flags": []}]},
    {"dst": "2001:db8::6", "gateway": "fd00::11", "dev": "v0", "metric": 10, "flags": [], "pref": "medium"},
    {"dst": "2001:db8::6", "gateway": "fd00::12", "dev": "v0", "metric": 20, "flags": [], "pref": "medium"},
    {"type": "blackhole", "dst": "2001:db8::9", "dev": "lo", "metric": 1024, "flags": [], "pref": "medium"},
    {"dst": "fd00::/64", "dev": "v0", "protocol": "kernel", "metric": 256, "flags": [], "pref": "medium"},
    {"dst": "fe80::/64", "dev": "v1", "protocol": "kernel", "metric": 256, "flags": [], "pref": "medium"},
    {"dst": "fe80::/64", "dev": "v0", "protocol": "kernel", "metric": 256, "flags": [], "pref": "medium"},
    {"dst": "default", "gateway": "fd00::99", "dev": "v0", "metric": 1024, "flags": [], "pref": "medium"},
]  # fmt: skip


def test_parse_ipv6_routes() -> None:
    routes = {r.prefix: r for r in parse_routes(IPV6_ROUTES, "inet6")}
    assert routes["2001:db8::1/128"].next_hops == frozenset({"fd00::11", "fd00::12", "fd00::13"})
    assert routes["2001:db8::2/128"] == FibRoute("2001:db8::2/128", frozenset({"fd00::11"}), "bgp")
    assert routes["2001:db8::3/128"] == FibRoute(
        "2001:db8::3/128", frozenset({"fd00::11", "fd00::12"}), "bgp", nhid=3
    )
    # two routes for one prefix: the kernel forwards on the lower metric
    assert routes["2001:db8::6/128"].next_hops == frozenset({"fd00::11"})
    assert routes["2001:db8::9/128"].next_hops == frozenset()
    assert routes["fe80::/64"].next_hops == frozenset() and routes["fd00::/64"].protocol == "kernel"
    assert routes["::/0"].next_hops == frozenset({"fd00::99"})
    assert len(routes) == len(parse_routes(IPV6_ROUTES, "inet6")) == 8


def test_parse_ipv6_multipath_listed_one_next_hop_per_entry() -> None:
    # older kernels dump each next-hop of an IPv6 multipath route as an entry of its own
    entries = [
        {"dst": "2001:db8::1", "gateway": f"fd00::1{i}", "dev": "eth0", "protocol": "bgp", "metric": 20}
        for i in (1, 2, 3)
    ]
    [route] = parse_routes(entries, "inet6")
    assert route == FibRoute("2001:db8::1/128", frozenset({"fd00::11", "fd00::12", "fd00::13"}), "bgp")


def test_parse_ipv4_routes_via_ipv6_gateways() -> None:
    # `ip -j -4 route` for 10.2.2.2 via inet6 fd00::11 and a multipath route over IPv6 gateways
    entries = [
        {"dst": "10.2.2.2", "via": {"family": "inet6", "host": "fd00::11"}, "dev": "v0", "flags": []},
        {"dst": "10.2.2.3", "flags": [], "nexthops": [
            {"via": {"family": "inet6", "host": "fd00::11"}, "dev": "v0", "weight": 1, "flags": []},
            {"via": {"family": "inet6", "host": "fd00::12"}, "dev": "v0", "weight": 1, "flags": []}]},
    ]  # fmt: skip
    routes = parse_routes(entries)
    assert [r.next_hops for r in routes] == [frozenset({"fd00::11"}), frozenset({"fd00::11", "fd00::12"})]


def test_ipv6_vips_are_judged_like_ipv4_ones() -> None:
    vip = "2001:db8::1/128"
    announced = [Path(vip, f"fd00::1{i}", source=f"fd01::{i}", path_id=i) for i in (1, 2, 3)]
    fib = [r for r in parse_routes(IPV6_ROUTES, "inet6") if r.prefix == vip]
    [row] = vip_rows([announced], fib)
    assert row.status == OK and row.fib_next_hops == frozenset({"fd00::11", "fd00::12", "fd00::13"})
