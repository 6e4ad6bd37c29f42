"""The resilient-FIB planner and its kernel adapter against the real kernel, in a namespace of
their own: what the planner writes is what ``ip`` reads back, and planning again finds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lbroute.core import nexthop_groups as ng
from lbroute.core.nexthop_groups import Hop
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import IpCommandError, ip
from lbroute.kernel.nexthops import Kernel
from tests.support.netns import namespace

SETTINGS = ng.GroupSettings(ng.Resilient(64, 60, 0), 200, first_id=2_000_000_000, last_id=2_000_000_999)
A, B, C = "10.0.0.11", "10.0.0.12", "10.0.0.13"
VIP, VIP6 = "10.1.1.1/32", "2001:db8::1/128"


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    with namespace("nh") as name:
        ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1", netns=name)
        for dev in ("eth0", "eth1"):
            ip("link", "set", dev, "up", netns=name)
        ip("addr", "add", "10.0.0.1/24", "dev", "eth0", netns=name)
        ip("-6", "addr", "add", "fd00::1/64", "dev", "eth0", "nodad", netns=name)
        yield Kernel(name)


def converge(kernel: Kernel, desired: dict[str, frozenset[Hop]]) -> ng.FibPlan:
    done = ng.plan(desired, kernel.observe(), SETTINGS)
    kernel.apply(done.operations, SETTINGS)
    again = ng.plan(desired, kernel.observe(), SETTINGS)
    assert again.operations == (), again.describe()
    return done


def test_what_the_planner_writes_the_kernel_holds_and_reapplying_writes_nothing(kernel: Kernel) -> None:
    assert kernel.netns is not None
    # zebra's kind of objects beside ours: never touched
    ip("nexthop", "add", "id", "7", "via", A, "dev", "eth0", "proto", "zebra", netns=kernel.netns)
    ip("route", "add", "10.1.9.9/32", "nhid", "7", "proto", "bgp", "metric", "20", netns=kernel.netns)
    hops = frozenset({Hop(A), Hop(B), Hop(C)})
    done = converge(kernel, {VIP: hops, "10.1.2.1/32": hops, VIP6: frozenset({Hop("fd00::11")})})
    assert len([op for op in done.operations if isinstance(op, ng.AddGroup)]) == 2  # one per next-hop set
    [route] = read_fib(kernel.netns, prefix=VIP)
    assert route.next_hops == {A, B, C} and route.protocol == "200" and route.nhid is not None
    views = kernel.views()
    group = views[route.nhid]
    assert group.kind == "resilient" and group.resilient == SETTINGS.resilient
    assert [(m.gateway, m.weight) for m in group.members] == [(A, 256), (B, 256), (C, 256)]
    assert sum(m.buckets or 0 for m in group.members) == 64
    assert all(20 <= (m.buckets or 0) <= 22 for m in group.members)
    [route6] = read_fib(kernel.netns, prefix=VIP6)
    assert route6.next_hops == {"fd00::11"}

    # C drains: its share rounds to no bucket, and every one of its buckets was idle
    converge(kernel, {VIP: frozenset({Hop(A), Hop(B), Hop(C, draining=True)})})
    group = kernel.views()[route.nhid]
    assert [(m.gateway, m.weight, m.draining) for m in group.members] == [
        (A, 256, False),
        (B, 256, False),
        (C, 1, True),
    ]
    assert [m.buckets for m in group.members] == [32, 32, 0]
    assert read_fib(kernel.netns, prefix=VIP)[0].nhid == route.nhid  # the same group, in place

    converge(kernel, {})
    fib = kernel.observe()
    assert [n.id for n in fib.nexthops] == [7] and fib.groups == ()
    assert [r.prefix for r in fib.routes if r.nhid is not None] == ["10.1.9.9/32"]


def test_a_refused_batch_stops_at_the_refusal_and_planning_again_repairs(kernel: Kernel) -> None:
    hops = frozenset({Hop(A), Hop(B)})
    done = ng.plan({VIP: hops}, kernel.observe(), SETTINGS)
    # someone takes the group's ID in between: the kernel refuses our group, and our route
    broken = ng.FibPlan(done.operations)
    group = next(op for op in done.operations if isinstance(op, ng.AddGroup))
    assert kernel.netns is not None
    ip("nexthop", "add", "id", str(group.id), "via", C, "dev", "eth0", "proto", "static", netns=kernel.netns)
    with pytest.raises(IpCommandError):
        kernel.apply(broken.operations, SETTINGS)
    assert not read_fib(kernel.netns, prefix=VIP)
    converge(kernel, {VIP: hops})
    assert read_fib(kernel.netns, prefix=VIP)[0].next_hops == {A, B}
