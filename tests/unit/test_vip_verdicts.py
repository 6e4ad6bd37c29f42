"""``vips`` and ``diff`` verdicts: RR paths, router paths and FIB next-hops, in every combination."""

from __future__ import annotations

import pytest

from lbroute.core.guard import KnownNode, NodeMap
from lbroute.core.rib import Attributes, FibRoute, Path, address_order, prefix_order
from lbroute.core.view import (
    DEGRADED,
    DRIFT,
    FOREIGN,
    MISSING,
    OK,
    STEERED,
    differences,
    judge,
    status_counts,
    vip_rows,
)

A, B, C, X = "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.99"
VIP = "10.1.1.1/32"
RR1, RR2 = "10.0.0.2", "10.0.0.3"
SPEAKER_ON = {A: "172.16.1.2", B: "172.16.2.2", C: "172.16.3.2"}  # the LB pod on each node


def speaker_paths(prefix: str, *hops: str) -> list[Path]:
    """What an RR holds: one path per LB speaker, whose next-hop is its node's IP."""
    return [Path(prefix, hop, source=SPEAKER_ON[hop]) for hop in hops]


def router_paths(prefix: str, *hops: str, rr: str = RR1) -> list[Path]:
    return [Path(prefix, hop, source=rr, path_id=i) for i, hop in enumerate(hops, 1)]


def s(*hops: str) -> frozenset[str]:
    return frozenset(hops)


@pytest.mark.parametrize(
    ("announced", "at_router", "installed", "status", "named"),
    [
        # everything agrees
        (s(A, B, C), s(A, B, C), s(A, B, C), OK, []),
        (s(A, B, C), None, s(A, B, C), OK, []),
        # one LB stopped announcing and every layer followed: fewer next-hops, still OK
        (s(A, C), s(A, C), s(A, C), OK, []),
        # the router lacks a path the RR holds (say add-path is off): the FIB is short of a speaker
        (s(A, B, C), s(A, C), s(A, C), DEGRADED, [B]),
        (s(A, B, C), None, s(A, B), DEGRADED, [C]),
        # the FIB misses a path the router's RIB holds: RIB and FIB disagree
        (s(A, B, C), s(A, B, C), s(A, B), DRIFT, [C]),
        # someone replaced the route by hand: an extra next-hop and a missing one
        (s(A, B, C), s(A, B, C), s(A, X), DRIFT, [X, B, C]),
        # the router still forwards on a path no speaker announces any more (stale)
        (s(A), s(A, B), s(A, B), DRIFT, [B]),
        (s(A), None, s(A, B), DRIFT, [B]),
        # a route BGP knows nothing about (found through the VIP pool)
        (s(), s(), s(A), DRIFT, [A]),
        (s(), s(), s(), DRIFT, []),
        # announced, but no route at all
        (s(A, B), s(A, B), None, MISSING, [A, B]),
        (s(A), None, None, MISSING, [A]),
        (s(), s(A), None, MISSING, [A]),
    ],
)
def test_judge(
    announced: frozenset[str],
    at_router: frozenset[str] | None,
    installed: frozenset[str] | None,
    status: str,
    named: list[str],
) -> None:
    got, problems = judge(announced, at_router, installed)
    assert got == status, problems
    assert bool(problems) == (status != OK)
    text = " ".join(problems)
    for hop in named:
        assert hop in text, f"{hop} not named in {problems}"


def test_rows_carry_speakers_and_counts_per_rr_and_router() -> None:
    rr1 = speaker_paths(VIP, A, B, C)
    rr2 = speaker_paths(VIP, A, B)  # the second RR lost lb3's session
    router = router_paths(VIP, A, B, C, rr=RR1) + router_paths(VIP, A, B, rr=RR2)
    fib = [FibRoute(VIP, s(A, B, C), "bgp")]
    [row] = vip_rows([rr1, rr2], fib, router)
    assert row.speakers == s("172.16.1.2", "172.16.2.2", "172.16.3.2")
    assert row.rr_paths == (3, 2)
    assert row.rr_next_hops == s(A, B, C)
    assert row.router_paths == 5
    assert row.router_paths_by_rr == ((RR1, 3), (RR2, 2))
    assert row.router_next_hops == s(A, B, C)
    assert row.fib_next_hops == s(A, B, C)
    assert row.status == OK and row.problems == ()


def test_two_pods_on_one_node_are_one_next_hop_and_not_degraded() -> None:
    # two speakers announce the same node IP: the FIB can forward on it only once
    rr = [Path(VIP, A, source="172.16.1.2"), Path(VIP, A, source="172.16.1.3")]
    [row] = vip_rows([rr], [FibRoute(VIP, s(A))], router_paths(VIP, A, A))
    assert len(row.speakers) == 2
    assert row.status == OK


def test_router_not_read_leaves_its_columns_empty() -> None:
    [row] = vip_rows([speaker_paths(VIP, A)], [FibRoute(VIP, s(A))])
    assert row.router_paths is None and row.router_next_hops is None
    assert row.router_paths_by_rr == ()


def test_fib_routes_count_as_vips_inside_the_pools_only() -> None:
    fib = [
        FibRoute("10.0.0.0/24", s(), "kernel"),
        FibRoute("10.1.9.9/32", s(A), "boot"),
        FibRoute("0.0.0.0/0", s("10.0.0.254")),
    ]
    assert vip_rows([[]], fib, []) == []
    [row] = vip_rows([[]], fib, [], vip_pools=["10.1.0.0/16"])
    assert row.prefix == "10.1.9.9/32"
    assert row.status == DRIFT
    assert row.rr_paths == (0,) and row.router_paths == 0
    assert "10.0.0.11" in row.problems[0]


def test_only_narrows_to_one_vip_even_a_fib_only_one() -> None:
    rr = speaker_paths(VIP, A) + speaker_paths("10.1.2.1/32", B)
    fib = [FibRoute(VIP, s(A)), FibRoute("10.1.9.9/32", s(B))]
    assert [r.prefix for r in vip_rows([rr], fib, only=[VIP])] == [VIP]
    [row] = vip_rows([rr], fib, only=["10.1.9.9/32"])
    assert row.status == DRIFT
    assert vip_rows([rr], fib, only=["10.1.7.7/32"]) == []


def test_rows_come_in_address_order() -> None:
    prefixes = ["10.1.1.10/32", "10.1.1.9/32", "10.1.0.0/16", "10.1.0.0/24", "2001:db8::1/128", "10.1.1.1/32"]
    rr = [Path(p, A) for p in prefixes]
    got = [r.prefix for r in vip_rows([rr], [])]
    assert got == [
        "10.1.0.0/16",
        "10.1.0.0/24",
        "10.1.1.1/32",
        "10.1.1.9/32",
        "10.1.1.10/32",
        "2001:db8::1/128",
    ]


def test_differences_are_the_rows_that_are_not_ok() -> None:
    rr = speaker_paths(VIP, A, B) + speaker_paths("10.1.2.1/32", A) + speaker_paths("10.1.3.1/32", C)
    fib = [FibRoute(VIP, s(A, B)), FibRoute("10.1.2.1/32", s(A, X))]
    rows = vip_rows([rr], fib)
    assert [(r.prefix, r.status) for r in differences(rows)] == [
        ("10.1.2.1/32", DRIFT),
        ("10.1.3.1/32", MISSING),
    ]
    assert status_counts(rows) == {OK: 1, DEGRADED: 0, STEERED: 0, DRIFT: 1, FOREIGN: 0, MISSING: 1}


def test_sort_keys() -> None:
    assert sorted(["10.0.0.9", "", "10.0.0.10", "::1"], key=address_order) == [
        "10.0.0.9",
        "10.0.0.10",
        "::1",
        "",
    ]
    assert prefix_order("10.1.1.1/32") == (4, 0x0A010101, 32)
    assert prefix_order("2001:db8::/32")[0] == 6


def test_paths_the_router_keeps_stale_while_its_rr_restarts_are_named() -> None:
    # the one RR restarted and holds nothing yet; the router forwards on what it kept
    held = [p._replace(stale=True) for p in router_paths(VIP, A, B)]
    [row] = vip_rows([[]], [FibRoute(VIP, s(A, B))], held)
    assert row.status == DRIFT
    assert all("the router keeps it stale: graceful restart" in p for p in row.problems), row.problems
    # back to normal: the RR holds them again and the router's copies are fresh
    [row] = vip_rows([speaker_paths(VIP, A, B)], [FibRoute(VIP, s(A, B))], router_paths(VIP, A, B))
    assert row.status == OK and not any("stale" in p for p in row.problems)


NODES = NodeMap(
    (KnownNode(frozenset({A}), ("172.16.1.0/24",)), KnownNode(frozenset({B}), ("172.16.2.0/24",)))
)
LP500 = Attributes(local_pref=500)
PLAIN = Attributes(local_pref=100)


def test_a_path_that_lost_selection_is_not_drift_and_one_chosen_for_its_attributes_is_steered() -> None:
    rr = [Path(VIP, A, "172.16.1.2"), Path(VIP, B, "172.16.2.2")]
    fib = [FibRoute(VIP, frozenset({A}))]
    # the router holds both, forwards on A alone: B lost selection (why unknown)
    router = [Path(VIP, A, "10.0.0.2", best=True), Path(VIP, B, "10.0.0.2")]
    [row] = vip_rows([rr], fib, router)
    assert (row.status, row.problems) == (
        DEGRADED,
        (
            "an RR holds a path via 10.0.0.12; the FIB does not forward on it",
            "the router's path via 10.0.0.12 lost best-path selection; the FIB does not forward on it",
        ),
    )
    # the same, but A's path wins on its LOCAL_PREF: the router chose it alone
    router = [
        Path(VIP, A, "10.0.0.2", best=True, attributes=LP500),
        Path(VIP, B, "10.0.0.2", attributes=PLAIN),
    ]
    [row] = vip_rows([rr], fib, router)
    assert row.status == STEERED
    assert row.problems[0] == (
        "the router forwards on 10.0.0.11 alone: their paths win best-path selection on "
        "LOCAL_PREF (500 over 100)"
    )
    # without the router's selection marks, a path the FIB misses is still DRIFT
    [row] = vip_rows([rr], fib, [Path(VIP, A, "10.0.0.2"), Path(VIP, B, "10.0.0.2")])
    assert row.status == DRIFT


def test_a_fib_next_hop_no_speaker_on_its_node_announces_or_on_no_node_is_foreign() -> None:
    # a pod on node A announces node B's address; B's own LB announces nothing
    rr = [Path(VIP, A, "172.16.1.2"), Path(VIP, B, "172.16.1.9")]
    fib = [FibRoute(VIP, frozenset({A, B}))]
    [row] = vip_rows([rr], fib, nodes=NODES)
    assert (row.status, row.problems) == (
        FOREIGN,
        (
            "the FIB forwards on 10.0.0.12; no speaker on that node announces it "
            "(only 172.16.1.9, on other nodes)",
        ),
    )
    # B's own speaker announces it too: fine
    [row] = vip_rows([[*rr, Path(VIP, B, "172.16.2.2")]], fib, nodes=NODES)
    assert row.status == OK
    # a next-hop of no known node
    [row] = vip_rows([[Path(VIP, X, "172.16.1.2")]], [FibRoute(VIP, frozenset({X}))], nodes=NODES)
    assert (row.status, row.problems) == (
        FOREIGN,
        ("the FIB forwards on 10.0.0.99, which is no known node's address",),
    )
    # without a node map, nothing is judged by nodes
    [row] = vip_rows([rr], fib)
    assert row.status == OK


def test_a_fib_that_disagrees_with_bgp_stays_drift_and_a_family_without_node_addresses_is_not_judged() -> (
    None
):
    rr = [Path(VIP, A, "172.16.1.2")]
    router = [Path(VIP, A, "10.0.0.2", best=True)]
    [row] = vip_rows([rr], [FibRoute(VIP, frozenset({A, X}))], router, nodes=NODES)
    assert row.status == DRIFT
    assert row.problems == (
        "the FIB forwards on 10.0.0.99; the router's RIB has no path via it",
        "the FIB forwards on 10.0.0.99, which is no known node's address",
    )
    vip6 = "2001:db8:1::1/128"
    [row] = vip_rows(
        [[Path(vip6, "fd00::11", "172.16.1.2")]], [FibRoute(vip6, frozenset({"fd00::11"}))], nodes=NODES
    )
    assert row.status == OK


def test_a_draining_next_hop_and_the_fib_group_are_on_the_row() -> None:
    from lbroute.core.nexthop_groups import GroupView, MemberView, Resilient
    from lbroute.core.rib import GRACEFUL_SHUTDOWN

    gshut = (GRACEFUL_SHUTDOWN,)
    rr = [
        Path(VIP, A, "172.16.1.2"),
        Path(VIP, B, "172.16.2.2", communities=gshut),
        Path(VIP, C, "172.16.3.2", communities=gshut),
        Path(VIP, C, "172.16.3.3"),  # a second pod on node C, not draining: C is not
    ]
    group = GroupView(
        7,
        200,
        Resilient(256, 60, 300),
        (
            MemberView(A, "eth0", 256, 128, False),
            MemberView(B, "eth0", 1, 0, True),
            MemberView(C, "eth0", 256, 128, False),
        ),
    )
    [row] = vip_rows([rr], [FibRoute(VIP, s(A, B, C), "200", nhid=7)], groups={7: group})
    assert row.draining == {B} and row.fib_group == group and row.status == OK
    [plain] = vip_rows([speaker_paths(VIP, A)], [FibRoute(VIP, s(A), nhid=9)], groups={})
    assert plain.draining == frozenset() and plain.fib_group is None


def test_each_speaker_is_placed_on_its_node_once_however_many_vips_it_announces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16k VIPs from the same few speakers: the node map answers "is this speaker on that node"
    once per (node, speaker), not once per VIP (6.2 s of `vips` over 64k paths, before)."""
    asked: list[tuple[frozenset[str], str]] = []
    real = KnownNode.holds_speaker

    def counted(node: KnownNode, address: str) -> bool:
        asked.append((node.addresses, address))
        return real(node, address)

    monkeypatch.setattr(KnownNode, "holds_speaker", counted)
    vips = [f"10.1.{k // 250}.{k % 250 + 1}/32" for k in range(1000)]
    rr = [p for v in vips for p in (Path(v, A, "172.16.1.2"), Path(v, B, "172.16.1.9"))]
    fib = [FibRoute(v, frozenset({A, B})) for v in vips]
    rows = vip_rows([rr], fib, nodes=NODES)
    assert {r.status for r in rows} == {FOREIGN} and len(rows) == 1000
    assert sorted(asked) == [(frozenset({A}), "172.16.1.2"), (frozenset({B}), "172.16.1.9")]
