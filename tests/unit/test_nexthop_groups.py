"""The resilient-FIB planner against a fake kernel that behaves (tests/fakes/kernel_fib.py):
apply, then the plan is empty; groups are replaced in place and shared; only ours is touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbroute.core import nexthop_groups as ng
from lbroute.core.nexthop_groups import Hop, desired_hops
from lbroute.core.rib import GRACEFUL_SHUTDOWN, Path
from tests.fakes.kernel_fib import FakeKernel

A, B, C, D = "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"
WEB, API, DNS = "10.1.1.1/32", "10.1.2.1/32", "10.1.3.1/32"
PROTO = 200
SETTINGS = ng.GroupSettings(ng.Resilient(16, 60, 0), PROTO, first_id=1000, last_id=1999)
W = ng.NORMAL_WEIGHT


def kernel() -> FakeKernel:
    k = FakeKernel()
    k.connect("10.0.0.0/24", "eth0")
    return k


def hops(*gateways: str, draining: tuple[str, ...] = ()) -> frozenset[Hop]:
    return frozenset(Hop(g, g in draining) for g in gateways)


def converge(k: FakeKernel, desired: dict[str, frozenset[Hop]], s: ng.GroupSettings = SETTINGS) -> ng.FibPlan:
    """Plan, apply, and check that planning again finds nothing to do."""
    done = ng.plan(desired, k.observe(), s)
    k.apply(done.operations, s)
    again = ng.plan(desired, k.observe(), s)
    assert again.operations == (), again.describe()
    return done


def route_group(k: FakeKernel, prefix: str) -> int:
    nhid = k.routes[(prefix, ng.ROUTE_METRIC)].nhid
    assert nhid is not None
    return nhid


def forwards(k: FakeKernel, prefix: str) -> dict[str, int]:
    """gateway -> weight of the group our route for ``prefix`` points at."""
    group = k.groups[route_group(k, prefix)]
    return {k.nexthops[m.id].gateway: m.weight for m in group.members}


def test_a_vip_gets_a_resilient_group_of_its_next_hops_and_reapplying_writes_nothing() -> None:
    k = kernel()
    done = converge(k, {WEB: hops(A, B, C)})
    assert done.describe() == [
        "add nexthop 1000 via 10.0.0.11 dev eth0",
        "add nexthop 1001 via 10.0.0.12 dev eth0",
        "add nexthop 1002 via 10.0.0.13 dev eth0",
        f"add group 1003 1000,{W}/1001,{W}/1002,{W}",
        "add route 10.1.1.1/32 nhid 1003",
    ]
    assert k.groups[1003].resilient == SETTINGS.resilient
    assert forwards(k, WEB) == {A: W, B: W, C: W}


def test_a_next_hop_that_goes_takes_only_its_own_buckets_with_it() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B, C)})
    before = list(k.buckets[1003])
    done = converge(k, {WEB: hops(A, B)})
    assert done.describe() == [f"replace group 1003 1000,{W}/1001,{W}", "delete nexthop 1002"]
    after = k.buckets[1003]
    # every bucket of A and B stays where it was; C's are shared out between them
    assert all(a == b for a, b in zip(before, after, strict=True) if a != 1002)
    assert k.moved == before.count(1002)


def test_vips_with_the_same_next_hops_share_one_group_and_follow_it_together() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B, C), API: hops(A, B, C)})
    assert route_group(k, WEB) == route_group(k, API)
    assert len(k.groups) == 1
    done = converge(k, {WEB: hops(A, B, C, D), API: hops(A, B, C, D)})
    assert [d for d in done.describe() if "group" in d or "route" in d] == [
        f"replace group 1003 1000,{W}/1001,{W}/1002,{W}/1004,{W}"
    ]


def test_a_vip_whose_next_hops_diverge_moves_out_and_the_others_group_is_not_touched() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B, C), API: hops(A, B, C)})
    shared = route_group(k, WEB)
    before = (k.groups[shared], list(k.buckets[shared]))
    done = converge(k, {WEB: hops(A, B, C), API: hops(A, B)})
    assert done.describe() == [f"add group 1004 1000,{W}/1001,{W}", "replace route 10.1.2.1/32 nhid 1004"]
    assert (k.groups[shared], k.buckets[shared]) == before
    # and when two of three want the new set, the group follows the two
    k = kernel()
    converge(k, {WEB: hops(A, B, C), API: hops(A, B, C), DNS: hops(A, B, C)})
    shared = route_group(k, DNS)
    converge(k, {WEB: hops(A, B, C), API: hops(A, B), DNS: hops(A, B)})
    assert route_group(k, API) == route_group(k, DNS) == shared
    assert route_group(k, WEB) != shared


def test_a_new_vip_joins_a_group_that_has_its_next_hops_and_groups_are_never_merged() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B), API: hops(A, B, C)})
    done = converge(k, {WEB: hops(A, B), API: hops(A, B, C), DNS: hops(A, B)})
    assert done.describe() == ["add route 10.1.3.1/32 nhid 1002"]
    assert route_group(k, DNS) == route_group(k, WEB)
    # API comes to want WEB's set: it keeps its own group, changed in place (merging would
    # give one of them a new bucket table)
    done = converge(k, {WEB: hops(A, B), API: hops(A, B), DNS: hops(A, B)})
    assert done.describe() == [f"replace group 1004 1000,{W}/1001,{W}", "delete nexthop 1003"]


def test_a_draining_next_hop_stays_at_the_smallest_weight_and_goes_when_withdrawn() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B, C)})
    done = converge(k, {WEB: hops(A, B, C, draining=(C,))})
    assert done.describe() == [f"replace group 1003 1000,{W}/1001,{W}/1002"]  # weight 1, as ip writes it
    assert forwards(k, WEB) == {A: W, B: W, C: ng.DRAINING_WEIGHT}
    assert 1002 not in k.buckets[1003]  # its share rounds to no bucket: all of them may go
    converge(k, {WEB: hops(A, B)})
    assert forwards(k, WEB) == {A: W, B: W}


def test_desired_hops_from_the_rib_draining_only_when_every_path_via_the_hop_is() -> None:
    gshut = (GRACEFUL_SHUTDOWN,)
    paths = [
        Path(WEB, A, "10.0.0.2", path_id=1),
        Path(WEB, B, "10.0.0.2", path_id=2, communities=gshut),
        Path(WEB, B, "10.0.0.3", path_id=2, communities=gshut),  # the same LB via a second RR
        Path(API, A, "10.0.0.2", path_id=1, communities=gshut),
        Path(API, A, "10.0.0.2", path_id=3),  # a second pod on node A, not draining
        Path(DNS, "", "10.0.0.2"),
    ]
    assert desired_hops(paths) == {WEB: hops(A, B, draining=(B,)), API: hops(A), DNS: frozenset()}


def test_a_vip_without_next_hops_loses_its_route_and_unused_objects_go() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B), API: hops(C)})
    done = converge(k, {WEB: hops(A, B), API: frozenset()})
    assert done.describe() == ["delete route 10.1.2.1/32", "delete group 1004", "delete nexthop 1003"]
    converge(k, {})
    assert k.routes.keys() == {("10.0.0.0/24", 0)} and not k.groups and not k.nexthops


def test_only_ours_is_touched_and_ids_of_others_are_never_taken() -> None:
    k = kernel()
    # zebra's objects, and someone else's next-hop inside our range
    k.nexthops[7] = ng.NextHopObject(7, A, "eth0", 11)
    k.nexthops[1000] = ng.NextHopObject(1000, B, "eth0", 4)
    k.groups[17] = ng.GroupObject(17, (ng.Member(7),), 11)
    k.routes[(DNS, ng.ROUTE_METRIC)] = ng.KernelRoute(DNS, 186, ng.ROUTE_METRIC, nhid=17)
    k.routes[("10.1.9.9/32", 0)] = ng.KernelRoute("10.1.9.9/32", 4, 0, nhid=7)
    foreign = (dict(k.nexthops), dict(k.groups), {p: r for p, r in k.routes.items() if r.protocol != PROTO})
    done = converge(k, {WEB: hops(A, B), DNS: hops(A, B), "10.1.9.9/32": hops(A)})
    assert done.problems == (
        "10.1.3.1/32: a route of another protocol with metric 20 is in the way; left alone",
    )
    assert {i for i in k.nexthops if i >= 1000} == {1000, 1001, 1002}
    assert k.nexthops[1000].protocol == 4  # not ours: our next-hops took 1001 and 1002
    assert route_group(k, "10.1.9.9/32") != 7  # another metric: not in the way, ours beside it
    converge(k, {})
    assert (
        {i: n for i, n in k.nexthops.items()},
        k.groups,
        {p: r for p, r in k.routes.items() if r.protocol != PROTO},
    ) == foreign


def test_a_gateway_no_connected_route_reaches_is_left_out_and_said() -> None:
    k = kernel()
    done = converge(k, {WEB: hops(A, "192.0.2.7")})
    assert done.problems == ("next-hop 192.0.2.7: no connected route reaches it; left out of every group",)
    assert forwards(k, WEB) == {A: W}
    # the most specific connected route names the device
    k.connect("10.0.0.0/28", "eth1")
    done = converge(k, {WEB: hops(A)})
    assert done.describe() == ["replace nexthop 1000 via 10.0.0.11 dev eth1"]


def test_timers_change_in_place_and_a_new_bucket_count_needs_new_groups() -> None:
    k = kernel()
    converge(k, {WEB: hops(A, B), API: hops(A, B)})
    timers = ng.GroupSettings(ng.Resilient(16, 30, 300), PROTO, 1000, 1999)
    done = converge(k, {WEB: hops(A, B), API: hops(A, B)}, timers)
    assert done.describe() == [f"replace group 1002 1000,{W}/1001,{W}"]
    wider = ng.GroupSettings(ng.Resilient(32, 30, 300), PROTO, 1000, 1999)
    done = converge(k, {WEB: hops(A, B), API: hops(A, B)}, wider)
    assert done.describe() == [
        f"add group 1003 1000,{W}/1001,{W}",
        "replace route 10.1.1.1/32 nhid 1003",
        "replace route 10.1.2.1/32 nhid 1003",
        "delete group 1002",
    ]


def test_ids_run_out_and_say_so_and_what_exists_stays() -> None:
    k = kernel()
    tiny = ng.GroupSettings(ng.Resilient(16, 60, 0), PROTO, 1000, 1003)
    done = converge(k, {WEB: hops(A, B), API: hops(C)}, tiny)  # 1000-1002 for WEB, one left
    assert done.problems == ("10.1.2.1/32: no free ID in 1000-1003 for a group; left as it is",)
    assert forwards(k, WEB) == {A: W, B: W} and (API, ng.ROUTE_METRIC) not in k.routes
    done = converge(k, {WEB: hops(A, B, C)}, tiny)
    assert forwards(k, WEB) == {A: W, B: W, C: W} and done.problems == ()
    done = converge(k, {WEB: hops(A, B, C, D)}, tiny)
    assert done.problems == (
        "group 1002: no free ID in 1000-1003 for 10.0.0.14; it forwards on the others for now",
    )
    assert forwards(k, WEB) == {A: W, B: W, C: W}
    # on what exists for now; the IDs that frees make the rest in the next pass
    done = ng.plan({WEB: hops(A, D)}, k.observe(), tiny)
    k.apply(done.operations, tiny)
    assert forwards(k, WEB) == {A: W}
    converge(k, {WEB: hops(A, D)}, tiny)
    assert forwards(k, WEB) == {A: W, D: W}


# --- properties over random runs -------------------------------------------------------------

GATEWAYS = [A, B, C, D]
PREFIXES = [WEB, API, DNS, "10.1.4.1/32"]
hop_sets = st.frozensets(st.builds(Hop, st.sampled_from(GATEWAYS), st.booleans()), max_size=4).map(
    lambda hs: frozenset({h.gateway: h for h in hs}.values())  # one Hop per gateway
)
desired_states = st.dictionaries(st.sampled_from(PREFIXES), hop_sets, max_size=4)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(desired_states, min_size=1, max_size=8))
def test_every_run_converges_in_one_plan_and_keeps_groups_in_place(
    runs: list[dict[str, frozenset[Hop]]],
) -> None:
    k = kernel()
    k.nexthops[5] = ng.NextHopObject(5, A, "eth0", 11)  # zebra's: never touched
    for desired in runs:
        before = k.observe()
        on_group = {r.prefix: r.nhid for r in before.routes if r.protocol == PROTO}
        done = ng.plan(desired, before, SETTINGS)
        old_groups = {g.id: g for g in before.groups}
        for op in done.operations:
            if isinstance(op, ng.ReplaceGroup):  # never a replace that changes nothing
                old = old_groups[op.id]
                assert (old.members, old.resilient) != (op.members, op.resilient)
        k.apply(done.operations, SETTINGS)
        assert ng.plan(desired, k.observe(), SETTINGS).operations == ()
        assert k.nexthops[5] == ng.NextHopObject(5, A, "eth0", 11)
        for prefix in PREFIXES:
            want = {h.gateway: ng.DRAINING_WEIGHT if h.draining else W for h in desired.get(prefix, ())}
            if not want:
                assert (prefix, ng.ROUTE_METRIC) not in k.routes
                continue
            assert forwards(k, prefix) == want
            # a VIP stays on its group unless the group's VIPs came to want different sets
            was = on_group.get(prefix)
            sharing = [p for p, g in on_group.items() if g == was]
            if was in k.groups and all(desired.get(p) == desired[prefix] for p in sharing):
                assert route_group(k, prefix) == was


@pytest.mark.parametrize("op", [ng.DeleteGroup(1), ng.DeleteNextHop(1), ng.DeleteRoute(WEB)])
def test_the_fake_refuses_what_is_not_there(op: ng.Operation) -> None:
    from lbroute.kernel.ip import IpCommandError

    with pytest.raises(IpCommandError):
        kernel().apply((op,), SETTINGS)
