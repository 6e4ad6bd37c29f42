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
    assert routes[1] == FibRoute("10.1.1.1/32", frozenset({A, B}), "bgp")
    assert routes[0].next_hops == frozenset()
    assert routes[2].prefix == "0.0.0.0/0" and routes[2].next_hops == frozenset({"10.0.0.254"})
