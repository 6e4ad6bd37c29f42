"""The reconciler's plan, against a fake gobgpd that refuses what the real one refuses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lbroute.core import bgp
from lbroute.gobgp.errors import GobgpRejected
from rr.config import RrConfig
from rr.desired import NORMALIZED, desired_config
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.rr import GROUP, KUBE_RR, ROUTER, RR, SECRETS, SLOW_GROUP, desired, guards


def test_fresh_daemon_gets_everything_in_dependency_order() -> None:
    ops = bgp.plan(desired(RR), bgp.DaemonConfig(global_=None)).operations
    kinds = [type(op).__name__ for op in ops]
    # the router right after BGP starts (no guard rail names it, and a restarted RR must not
    # turn its connection away); the guard rails before any speaker can connect
    assert kinds == [
        "StartBgp",
        "AddPeer",
        "SetDefinedSet",
        "SetDefinedSet",
        "AddPolicy",
        "AddPolicy",
        "SetImportPolicies",
        "SetExportPolicies",  # nothing is sent to a speaker, from its first moment on
        "AddPeerGroup",
        "AddDynamicNeighbor",
    ]
    group = ops[8].spec  # type: ignore[union-attr]
    # speakers are non-clients and the router is the client: every LB path goes up, none sideways
    assert not group.session.route_reflector_client and group.session.passive
    assert group.session.timers == bgp.Timers(3, 1)
    assert group.session.afi_safis[0].max_prefixes == 1000
    peer = ops[1].spec  # type: ignore[union-attr]
    assert peer.session.afi_safis[0].add_path_send_max == 255
    assert peer.session.route_reflector_client and peer.session.cluster_id == "10.0.0.2"


def test_router_starts_multipath_and_zebra() -> None:
    ops = bgp.plan(desired(ROUTER), bgp.DaemonConfig(global_=None)).operations
    start = ops[0]
    assert isinstance(start, bgp.StartBgp) and start.spec.use_multiple_paths
    assert isinstance(ops[1], bgp.EnableZebra)
    peer = ops[2]
    assert isinstance(peer, bgp.AddPeer) and peer.spec.session.afi_safis[0].add_path_receive


@pytest.mark.parametrize("raw", [RR, ROUTER], ids=["rr", "router"])
def test_reapplying_writes_nothing(raw: dict[str, object]) -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired(raw))
    first = reconciler.reconcile_once()
    writes = sum(daemon.writes.values())
    assert len(first.operations) == writes > 0
    second = reconciler.reconcile_once()
    assert second.operations == ()
    assert sum(daemon.writes.values()) == writes


def test_apply_then_revert_leaves_state_identical() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    before = daemon.config
    changed = {
        **RR,
        "speaker_groups": [{**GROUP, "dynamic_prefixes": ["172.16.0.0/16", "172.17.0.0/16"]}],
    }
    Reconciler(daemon, desired(changed)).reconcile_once()
    assert len(daemon.config.dynamic_neighbors) == 2
    Reconciler(daemon, desired(RR)).reconcile_once()
    assert daemon.config.owned() == before.owned()


def test_foreign_objects_are_left_alone() -> None:
    foreign_peer = bgp.PeerSpec(
        "192.0.2.9",
        bgp.SessionSpec(65000, "someone else's", (bgp.AfiSafi(bgp.Family.IPV4_UNICAST),), bgp.Timers(90, 30)),
    )
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired(RR))
    reconciler.reconcile_once()
    daemon.config = replace(daemon.config, peers=(*daemon.config.peers, foreign_peer))
    assert reconciler.reconcile_once().operations == ()
    assert foreign_peer in daemon.config.peers


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"neighbors": []}, ["DeletePeer"]),
        ({"neighbors": [{"address": "10.0.0.1", "add_path_send_max": 8}]}, ["UpdatePeer"]),
        (
            {"speaker_groups": []},
            [
                "DeleteDynamicNeighbor",
                "SetImportPolicies",
                "SetExportPolicies",
                "DeletePolicy",
                "DeletePolicy",
                "DeleteDefinedSet",
                "DeleteDefinedSet",
                "DeletePeerGroup",
                "Rejudge",  # no Resend: the speakers are gone, and the router lost nothing
            ],
        ),
        ({"speaker_groups": [SLOW_GROUP]}, ["UpdatePeerGroup"]),
        # a guard-rail change is a new policy (named after its statements): added beside the
        # old one, swapped in with the whole assignment, then the old one deleted
        (
            {"speaker_groups": [{**GROUP, "node_networks": ["10.0.1.0/24"]}]},
            ["AddPolicy", "SetImportPolicies", "DeletePolicy", "Rejudge"],
        ),
        # a new pool is a set replaced in place and, since gobgpd 4.8 binds a policy to its
        # sets when the policy is added, a new policy over it (named after its sets' members
        # too), swapped in. Each guard change ends in having gobgpd judge again what the
        # speakers had sent
        (
            {"speaker_groups": [{**GROUP, "vip_pools": ["10.1.0.0/16", "10.2.0.0/16"]}]},
            ["SetDefinedSet", "AddPolicy", "SetImportPolicies", "DeletePolicy", "Rejudge"],
        ),
        (
            {"speaker_groups": [{**GROUP, "max_prefixes": 5}]},
            ["UpdatePeerGroup"],
        ),
    ],
    ids=[
        "drop-neighbor",
        "send-max",
        "drop-group",
        "group-timers",
        "node-net",
        "pool",
        "max-prefix",
    ],
)
def test_each_change_is_the_smallest_plan(change: dict[str, object], expected: list[str]) -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    todo = Reconciler(daemon, desired({**RR, **change})).reconcile_once()
    assert [type(op).__name__ for op in todo.operations] == expected
    assert bgp.plan(desired({**RR, **change}), daemon.config).operations == ()


RUNNING = bgp.GlobalSpec(65021, "10.0.0.2", 179, ("10.0.0.2",), use_multiple_paths=False)


@pytest.mark.parametrize(
    ("change", "field", "said"),
    [
        ({"asn": 65022}, "asn", "asn 65021 -> 65022"),
        ({"router_id": "10.0.0.3"}, "router_id", "router_id 10.0.0.2 -> 10.0.0.3"),
        ({"listen_port": 1179}, "listen_port", "listen_port 179 -> 1179"),
        (
            {"listen_addresses": ("10.0.0.2", "fd00::2")},
            "listen_addresses",
            "listen_addresses [10.0.0.2] -> [10.0.0.2, fd00::2]",
        ),
        ({"use_multiple_paths": True}, "use_multiple_paths", "use_multiple_paths false -> true"),
    ],
)
def test_other_global_settings_are_refused_whole_never_stopped_and_started(
    change: dict[str, Any], field: str, said: str
) -> None:
    """gobgpd 4.8 cannot start BGP again once stopped (every call then answers "server
    stopped"), so a running daemon with other global settings gets no operation at all."""
    running = desired(RR)
    assert running.global_ == RUNNING
    wanted = replace(running, global_=replace(RUNNING, **change))
    todo = bgp.plan(wanted, running)
    assert todo.operations == () and not todo
    assert todo.refused == bgp.GlobalDiffers(observed=RUNNING, desired=wanted.global_)  # type: ignore[arg-type]
    assert todo.refused.fields == (field,)
    assert todo.refused.describe() == (
        f"gobgpd runs BGP with other global settings ({said}); restart gobgpd to apply them"
    )
    # the same desired configuration on a gobgpd that has not started BGP: all of it, no stop
    fresh = bgp.plan(wanted, bgp.DaemonConfig(global_=None))
    assert fresh.refused is None and isinstance(fresh.operations[0], bgp.StartBgp)
    assert not any(isinstance(op, bgp.StopBgp) for op in fresh.operations)


def test_a_refusal_names_every_setting_that_differs_and_cuts_long_values() -> None:
    many = tuple(f"10.0.{i}.2" for i in range(40))
    other = bgp.GlobalSpec(65099, "10.0.0.9", 179, many, use_multiple_paths=True)
    refused = bgp.plan(replace(desired(RR), global_=other), desired(RR)).refused
    assert refused is not None
    assert refused.fields == ("asn", "router_id", "listen_addresses", "use_multiple_paths")
    shown = refused.describe()
    assert "asn 65021 -> 65099, router_id 10.0.0.2 -> 10.0.0.9, listen_addresses [10.0.0.2] -> [" in shown
    assert "10.0.39.2" not in shown and "...," in shown  # the long list is cut at 60 characters


def test_the_fake_like_gobgpd_48_is_stopped_for_good_by_stop_bgp() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    daemon.apply(bgp.StopBgp("a test"))
    for call in (
        lambda: daemon.apply(bgp.StartBgp(RUNNING)),
        daemon.observe,
        lambda: daemon.list_sessions("rr"),
        lambda: daemon.apply(bgp.AddPeer(desired(RR).peers[0])),
    ):
        with pytest.raises(GobgpRejected, match=r"^UNKNOWN: server stopped$"):
            call()
    # only a new process answers again, with nothing configured
    daemon.restart()
    assert daemon.observe() == bgp.DaemonConfig(global_=None)
    assert Reconciler(daemon, desired(RR)).reconcile_once().operations[0] == bgp.StartBgp(RUNNING)


def test_the_fake_refuses_neighbor_entries_without_a_length_and_mixed_prefix_sets() -> None:
    daemon = FakeGobgpd()
    daemon.apply(bgp.StartBgp(RUNNING))
    bare = bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, "lbroute-n", neighbors=("192.0.2.100",))
    with pytest.raises(GobgpRejected, match=r"invalid address or prefix: 192\.0\.2\.100"):
        daemon.apply(bgp.SetDefinedSet(bare))
    mixed = bgp.DefinedSetSpec(
        bgp.SetKind.PREFIX,
        "lbroute-p",
        prefixes=(bgp.PrefixMatch("10.1.0.0/16", 32, 32), bgp.PrefixMatch("2001:db8::/48", 128, 128)),
    )
    with pytest.raises(GobgpRejected, match="multiple families"):
        daemon.apply(bgp.SetDefinedSet(mixed))
    assert daemon.config.defined_sets == ()
    # what rr.desired writes instead: /32 entries, one prefix set per IP version
    daemon.apply(bgp.SetDefinedSet(replace(bare, neighbors=("192.0.2.100/32",))))
    assert len(daemon.config.defined_sets) == 1


def test_plan_describes_every_operation() -> None:
    ops = bgp.plan(desired(ROUTER), bgp.DaemonConfig(global_=None))
    assert ops.describe() == [
        "start bgp as 65021 router-id 10.0.0.1",
        "enable zebra unix:/run/zserv.api version 6",
        "add peer 10.0.0.2",
    ]


def test_guard_rails_match_pools_lengths_speakers_and_node_networks() -> None:
    group = {
        **GROUP,
        "vip_pools": ["10.1.0.0/16", "2001:db8:1::/48"],
        "allowed_prefix_lengths": [32, 128, 24],
        "node_networks": ["10.0.0.0/24", "2001:db8::/64"],
        "families": ["ipv4-unicast", "ipv6-unicast"],
    }
    d = desired({**RR, "speaker_groups": [group]})
    sets = {s.name: s for s in d.defined_sets}
    # one prefix set per family: gobgpd refuses a set that mixes them
    assert sets["lbroute-vips-lb"].prefixes == (
        bgp.PrefixMatch("10.1.0.0/16", 24, 24),
        bgp.PrefixMatch("10.1.0.0/16", 32, 32),
    )
    assert sets["lbroute-vips6-lb"].prefixes == (bgp.PrefixMatch("2001:db8:1::/48", 128, 128),)
    assert sets["lbroute-speakers-lb"].neighbors == ("172.16.0.0/16",)
    [policy] = guards(d)
    assert policy.name.startswith("lbroute-guard-lb-")
    accept, accept6, reject = policy.statements
    assert (accept.action, accept.neighbor_set, accept.prefix_set, accept.next_hop_in) == (
        bgp.RouteAction.ACCEPT,
        "lbroute-speakers-lb",
        "lbroute-vips-lb",
        ("10.0.0.0/24",),
    )
    assert (accept6.prefix_set, accept6.next_hop_in) == ("lbroute-vips6-lb", ("2001:db8::/64",))
    # iBGP speakers send an empty AS path; what they set for best-path selection is overwritten
    assert (accept.as_path_length, accept.set_attributes) == (0, NORMALIZED)
    # whatever the first statement did not accept from these speakers is rejected
    assert (reject.action, reject.neighbor_set, reject.prefix_set, reject.next_hop_in) == (
        bgp.RouteAction.REJECT,
        "lbroute-speakers-lb",
        "",
        (),
    )
    assert d.import_policies == (policy.name,)
    assert {a.max_prefixes for g in d.peer_groups for a in g.session.afi_safis} == {1000}


NODES = [
    {"name": "n1", "addresses": ["10.0.0.11", "2001:db8::11"], "pod_cidrs": ["172.16.1.0/24"]},
    {"name": "n2", "addresses": ["10.0.0.12"], "pod_cidrs": ["172.16.2.0/24", "172.17.0.0/16"]},
]


def test_with_nodes_each_nodes_speakers_may_name_only_that_node_as_next_hop() -> None:
    group = {
        **GROUP,
        "vip_pools": ["10.1.0.0/16", "2001:db8:1::/48"],
        "node_networks": ["10.0.0.0/24", "2001:db8::/64"],
    }
    d = desired({**RR, "speaker_groups": [group], "nodes": NODES})
    sets = {s.name: s.neighbors for s in d.defined_sets if s.kind is bgp.SetKind.NEIGHBOR}
    # the part of the group's range (172.16.0.0/16) inside each node's pod CIDRs; 172.17/16 is not
    assert sets == {
        "lbroute-speakers-lb": ("172.16.0.0/16",),
        "lbroute-speakers-lb-on-n1": ("172.16.1.0/24",),
        "lbroute-speakers-lb-on-n2": ("172.16.2.0/24",),
    }
    [policy] = guards(d)
    short = [
        (
            st.name.removeprefix(policy.name + "-"),
            st.neighbor_set.removeprefix("lbroute-speakers-lb"),
            st.next_hop_in,
        )
        for st in policy.statements
    ]
    # n2 has no IPv6 address: its speakers' IPv6 routes meet the reject statement
    assert short == [
        ("n1-accept", "-on-n1", ("10.0.0.11/32",)),
        ("n2-accept", "-on-n2", ("10.0.0.12/32",)),
        ("n1-accept6", "-on-n1", ("2001:db8::11/128",)),
        ("reject", "", ()),
    ]


def test_a_groups_vips_are_all_its_speakers_may_announce_and_ebgp_speakers_send_their_as() -> None:
    group = {**GROUP, "vips": ["10.1.1.1/32", "10.1.1.2/32"], "peer_asn": 65099}
    d = desired({**RR, "speaker_groups": [group], "nodes": NODES})
    [vips] = [s for s in d.defined_sets if s.kind is bgp.SetKind.PREFIX]
    assert vips.prefixes == (bgp.PrefixMatch("10.1.1.1/32", 32, 32), bgp.PrefixMatch("10.1.1.2/32", 32, 32))
    assert {st.as_path_length for st in guards(d)[0].statements if st.action is bgp.RouteAction.ACCEPT} == {1}


def test_kubernetes_speakers_are_placed_on_nodes_by_address_and_a_node_without_pods_gets_no_statement() -> (
    None
):
    cfg = RrConfig.model_validate({**KUBE_RR, "nodes": NODES})
    d = desired_config(cfg, speakers={"lb": ("172.16.1.2", "172.16.1.3", "172.18.0.9")}, secrets=SECRETS)
    sets = {s.name: s.neighbors for s in d.defined_sets if s.kind is bgp.SetKind.NEIGHBOR}
    # 172.18.0.9 is on no node: in the group's set (so rejected), in no node's
    assert sets == {
        "lbroute-speakers-lb": ("172.16.1.2/32", "172.16.1.3/32", "172.18.0.9/32"),
        "lbroute-speakers-lb-on-n1": ("172.16.1.2/32", "172.16.1.3/32"),
    }
    [policy] = guards(d)
    assert [st.name.removeprefix(policy.name + "-") for st in policy.statements] == ["n1-accept", "reject"]
    # a pod on n2 arrives: new statements, so a new policy name (make before break)
    more = desired_config(cfg, speakers={"lb": ("172.16.1.2", "172.16.2.2")}, secrets=SECRETS)
    assert guards(more)[0].name != policy.name


def test_foreign_import_policies_stay_in_the_assignment() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    foreign = bgp.PolicySpec("ops-team", (bgp.StatementSpec("ops-team-1", bgp.RouteAction.NONE),))
    daemon.config = replace(
        daemon.config,
        policies=(*daemon.config.policies, foreign),
        import_policies=("ops-team", *daemon.config.import_policies),
    )
    assert Reconciler(daemon, desired(RR)).reconcile_once().operations == ()
    changed = {**RR, "speaker_groups": [{**GROUP, "node_networks": ["10.0.9.0/24"]}]}
    Reconciler(daemon, desired(changed)).reconcile_once()
    assert daemon.config.import_policies == ("ops-team", guards(desired(changed))[0].name)
    assert foreign in daemon.config.policies


def _with_gr(raw: dict[str, object], restart_time: int = 45) -> dict[str, object]:
    neighbors = [{**n, "graceful_restart": {"restart_time": restart_time}} for n in raw["neighbors"]]  # type: ignore[attr-defined]
    return {**raw, "neighbors": neighbors}


def test_a_started_rr_tells_its_graceful_restart_router_it_restarted() -> None:
    ops = bgp.plan(desired(_with_gr(RR)), bgp.DaemonConfig(global_=None)).operations
    (peer,) = [op for op in ops if isinstance(op, bgp.AddPeer)]
    assert peer.restarting
    assert peer.spec.session.graceful_restart == bgp.GracefulRestart(45, helper_only=False)
    assert bgp.describe(peer) == "add peer 10.0.0.1 (restarting)"


def test_a_router_only_helps_and_a_running_daemon_never_claims_a_restart() -> None:
    ops = bgp.plan(desired(_with_gr(ROUTER)), bgp.DaemonConfig(global_=None)).operations
    (peer,) = [op for op in ops if isinstance(op, bgp.AddPeer)]
    assert not peer.restarting and peer.spec.session.graceful_restart == bgp.GracefulRestart(
        45, helper_only=True
    )
    # BGP already runs: a peer added now is a new neighbor, not a restart of ours
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    again = bgp.plan(desired(_with_gr(RR)), daemon.observe()).operations
    assert [type(op).__name__ for op in again] == ["UpdatePeer"]
    daemon.apply(bgp.DeletePeer("10.0.0.1"))
    readd = bgp.plan(desired(_with_gr(RR)), daemon.observe()).operations
    assert [(type(op).__name__, getattr(op, "restarting", None)) for op in readd] == [("AddPeer", False)]


def test_explicit_speaker_peers_wait_for_their_guard_rails_the_router_does_not() -> None:
    raw = {
        **RR,
        "speaker_groups": [
            {**GROUP, "dynamic_prefixes": [], "kubernetes": {"namespace": "lb", "label_selector": "a=b"}}
        ],
    }
    cfg = desired_config(RrConfig.model_validate(raw), speakers={"lb": ("172.16.1.2",)})
    ops = bgp.plan(cfg, bgp.DaemonConfig(global_=None)).operations
    order = [op.spec.address if isinstance(op, bgp.AddPeer) else type(op).__name__ for op in ops]
    assert order == [
        "StartBgp",
        "10.0.0.1",
        "SetDefinedSet",
        "SetDefinedSet",
        "AddPolicy",
        "AddPolicy",
        "SetImportPolicies",
        "SetExportPolicies",
        "172.16.1.2",
    ]


def test_the_fake_refuses_to_delete_an_assigned_policy_and_the_plan_never_asks_it_to() -> None:
    # gobgpd 4.8 (like 3.36) deletes an import-assigned policy and answers OK, leaving the assignment
    # naming it (test_gobgpd_round_trip); the fake refuses, so a plan that did it would fail here
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    [name] = desired(RR).import_policies
    [export] = desired(RR).export_policies
    for assigned in (name, export):  # gobgpd 4.8 itself refuses the export one
        with pytest.raises(GobgpRejected, match="is in use") as info:
            daemon.apply(bgp.DeletePolicy(assigned))
        assert (info.value.status, info.value.target) == ("UNKNOWN", FakeGobgpd.target)
    assert [p.name for p in daemon.config.policies] == sorted([name, export])
    assert (daemon.config.import_policies, daemon.config.export_policies) == ((name,), (export,))
    # dropping the group takes the policies out of the assignments before deleting them
    Reconciler(daemon, desired({**RR, "speaker_groups": []})).reconcile_once()
    assert daemon.config.policies == () and daemon.config.import_policies == ()
    assert daemon.config.export_policies == ()


ROGUE = (
    ("0.0.0.0/0", "10.0.0.11"),  # a default route
    ("192.0.2.10/32", "10.0.0.11"),  # outside the VIP pool
    ("10.1.77.0/24", "10.0.0.11"),  # inside the pool, but a /24 where /32 is expected
    ("10.1.77.7/32", "172.16.1.2"),  # a fine VIP with the pod's IP as next-hop, not the node's
)


def test_sessions_count_what_the_guard_rails_reject_and_leave_the_router_alone() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    daemon.establish("172.16.1.2")  # admitted by the group's dynamic range
    daemon.establish("172.16.2.2")
    daemon.establish("10.0.0.1")  # the router, an explicit peer
    daemon.receive("172.16.1.2", ("10.1.1.1/32", "10.0.0.11"), *ROGUE)
    daemon.receive("172.16.2.2", ("10.1.1.1/32", "10.0.0.12"))
    daemon.receive("10.0.0.1", ("192.0.2.0/24", "10.0.0.1"))  # no speaker: falls through to accept
    sessions = {s.neighbor: s for s in daemon.list_sessions("rr")}
    rogue, good, router = sessions["172.16.1.2"], sessions["172.16.2.2"], sessions["10.0.0.1"]
    assert (rogue.received, rogue.accepted, rogue.rejected) == (5, 1, 4)
    assert (good.received, good.accepted, good.rejected) == (1, 1, 0)
    assert (router.received, router.accepted, router.rejected) == (1, 1, 0)
    assert (rogue.group, router.group) == ("lb", "lbroute:upstream")
    # without the guard rails the same paths are all accepted: the counts come from the policy
    open_daemon = FakeGobgpd()
    Reconciler(open_daemon, desired(RR)).reconcile_once()
    open_daemon.apply(bgp.SetImportPolicies(()))
    open_daemon.establish("172.16.1.2")
    open_daemon.receive("172.16.1.2", ("10.1.1.1/32", "10.0.0.11"), *ROGUE)
    [session] = open_daemon.list_sessions("rr")
    assert (session.accepted, session.rejected) == (5, 0)


def test_an_md5_key_is_in_no_repr_so_in_no_log_line_or_error() -> None:
    d = desired_config(RrConfig.model_validate(KUBE_RR), speakers={"lb": ("172.16.1.2",)}, secrets=SECRETS)
    [peer] = [p for p in d.peers if p.address == "172.16.1.2"]
    assert peer.session.auth_password == "s3cret"
    ops = bgp.plan(d, bgp.DaemonConfig(global_=None)).operations
    assert "s3cret" not in repr(d) + repr(ops) + " ".join(bgp.describe(op) for op in ops)


def test_a_sets_entries_are_in_one_order_however_they_were_read() -> None:
    as_desired = bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, "n", neighbors=("172.16.1.2/32", "172.16.1.10/32"))
    as_gobgpd_lists = bgp.DefinedSetSpec(
        bgp.SetKind.NEIGHBOR, "n", neighbors=("172.16.1.10/32", "172.16.1.2/32")
    )
    assert as_desired == as_gobgpd_lists
    assert as_desired.neighbors == ("172.16.1.2/32", "172.16.1.10/32")
    mixed = bgp.DefinedSetSpec(
        bgp.SetKind.NEIGHBOR, "m", neighbors=("fd00::2/128", "10.0.0.0/8", "10.0.0.1/32")
    )
    assert mixed.neighbors == ("10.0.0.0/8", "10.0.0.1/32", "fd00::2/128")
