"""The RR sends LB speakers nothing: the global export assignment, desired and planned.

gobgpd 4.8 judges each path it sends by the global export assignment, a neighbor-set
condition naming the peer it is sent to (measured in
tests/integration/test_rr_export_to_speakers.py); the fake judges the same way.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from lbroute.core import bgp
from rr.config import RrConfig
from rr.desired import desired_config, export_policy_prefix, speaker_set_name
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.rr import GROUP, KUBE_GROUP, KUBE_RR, NODES, POLICY_SWAP, RR, SECRETS, desired

VIP = ("10.1.1.1/32", "10.0.0.11")
ROUTER = "10.0.0.1"
KUBE_PODS = ("172.18.1.2", "172.18.1.3", "172.18.2.2")
# a dynamic group beside an explicit one, ranges apart
BOTH = {
    **KUBE_RR,
    "speaker_groups": [GROUP, {**KUBE_GROUP, "name": "kube"}],
}


def _export(d: bgp.DaemonConfig) -> bgp.PolicySpec:
    [name] = d.export_policies
    return next(p for p in d.policies if p.name == name)


def _kube(pods: tuple[str, ...]) -> bgp.DaemonConfig:
    return desired_config(RrConfig.model_validate(BOTH), secrets=SECRETS, speakers={"kube": pods})


def test_a_dynamic_group_is_sent_nothing_by_its_range() -> None:
    d = desired(RR)
    policy = _export(d)
    assert policy.name.startswith(export_policy_prefix()) and policy.name not in d.import_policies
    assert [(st.action, st.neighbor_set) for st in policy.statements] == [
        (bgp.RouteAction.REJECT, speaker_set_name("lb"))
    ]
    assert all(st.name.startswith(policy.name + "-") for st in policy.statements)
    [members] = [s.neighbors for s in d.defined_sets if s.name == speaker_set_name("lb")]
    assert members == ("172.16.0.0/16",)


def test_explicit_peers_are_sent_nothing_by_their_addresses_and_no_pods_means_no_export_policy() -> None:
    d = desired_config(RrConfig.model_validate(KUBE_RR), secrets=SECRETS, speakers={"lb": ("172.16.1.2",)})
    [statement] = _export(d).statements
    [members] = [s.neighbors for s in d.defined_sets if s.name == statement.neighbor_set]
    assert members == ("172.16.1.2/32",)
    # no pod: no neighbor set, and no export policy (an empty neighbor set matches every peer,
    # the router too, in gobgpd 4.8)
    empty = desired_config(RrConfig.model_validate(KUBE_RR), secrets=SECRETS, speakers={})
    assert empty.export_policies == () and empty.policies == ()


def test_the_router_role_has_no_export_policy() -> None:
    router = desired(
        {
            "role": "router",
            "gobgpd": "unix:///run/y.sock",
            "asn": 65021,
            "router_id": "10.0.0.1",
            "neighbors": [{"address": "10.0.0.2", "add_path_receive": True}],
        }
    )
    assert router.export_policies == ()


def test_applied_to_the_fake_every_speaker_is_sent_nothing_and_the_router_everything() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, _kube(KUBE_PODS[:2])).reconcile_once()
    for speaker in ("172.16.0.9", "172.16.200.1", *KUBE_PODS[:2]):
        assert not daemon.exports(speaker, *VIP), speaker
    assert daemon.exports(ROUTER, *VIP)
    # a pod outside the kube group's set (not yet a peer) is not a speaker the policy knows
    assert daemon.exports(KUBE_PODS[2], *VIP)
    # without the export assignment the speakers would be sent everything: the check can fail
    daemon.apply(bgp.SetExportPolicies(()))
    assert daemon.exports("172.16.0.9", *VIP)


def test_an_rr_upgraded_to_the_export_policy_resends_so_speakers_drop_what_they_had() -> None:
    daemon = FakeGobgpd()
    before = desired(RR)
    old = bgp.DaemonConfig(
        **{
            **{f: getattr(before, f) for f in before.__dataclass_fields__},
            "policies": tuple(p for p in before.policies if p.name in before.import_policies),
            "export_policies": (),
        }
    )
    Reconciler(daemon, old).reconcile_once()
    todo = Reconciler(daemon, before).reconcile_once()
    assert [type(op).__name__ for op in todo.operations] == ["AddPolicy", "SetExportPolicies", "Resend"]
    assert daemon.resent == [()] and daemon.rejudged == []  # the RIB itself is not judged again
    assert bgp.plan(before, daemon.observe()).operations == ()


def test_a_groups_first_pod_changes_the_export_policy_make_before_break_later_pods_change_only_sets() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, _kube(())).reconcile_once()
    first = _export(daemon.config.owned())
    todo = Reconciler(daemon, _kube(KUBE_PODS[:1])).reconcile_once()
    kinds = [type(op).__name__ for op in todo.operations]
    # the new export policy beside the old, swapped in, the old deleted, then sent again
    assert kinds.index("SetExportPolicies") < kinds.index("DeletePolicy") < kinds.index("AddPeer")
    assert kinds[-1] == "Resend"
    assert _export(daemon.config) != first
    more = Reconciler(daemon, _kube(KUBE_PODS)).reconcile_once()
    # the group's set is written again, so the export and guard policies are new (gobgpd 4.8
    # binds a set to a policy when the policy is added), before the pods' peers; nothing is
    # sent again, nothing judged again (the new peers have sent nothing yet)
    assert [type(op).__name__ for op in more.operations] == [
        "SetDefinedSet",
        *POLICY_SWAP,
        "AddPeer",
        "AddPeer",
    ]


def test_foreign_export_policies_stay_in_front_of_ours() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, desired(RR)).reconcile_once()
    foreign = bgp.PolicySpec("ops-export", (bgp.StatementSpec("ops-export-1", bgp.RouteAction.NONE),))
    daemon.apply(bgp.AddPolicy(foreign))
    daemon.apply(bgp.SetExportPolicies(("ops-export", *daemon.config.export_policies)))
    assert bgp.plan(desired(RR), daemon.observe()).operations == ()
    second = {**GROUP, "name": "lb2", "dynamic_prefixes": ["172.17.0.0/16"]}
    two_groups = {**RR, "speaker_groups": [GROUP, second]}
    Reconciler(daemon, desired(two_groups)).reconcile_once()
    assert daemon.config.export_policies == ("ops-export", *desired(two_groups).export_policies)
    assert foreign in daemon.config.policies


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.sets(st.sampled_from(KUBE_PODS)), min_size=1, max_size=5))
def test_whatever_pods_come_and_go_no_speaker_is_ever_sent_a_route_and_the_router_always_is(
    steps: list[set[str]],
) -> None:
    daemon = FakeGobgpd()
    for pods in steps:
        want = _kube(tuple(sorted(pods)))
        Reconciler(daemon, want).reconcile_once()
        assert bgp.plan(want, daemon.observe()).operations == ()
        assert daemon.exports(ROUTER, *VIP)
        assert not daemon.exports("172.16.3.4", *VIP)  # the dynamic group's range
        for pod in pods:
            assert not daemon.exports(pod, *VIP), (pod, pods)
        # every neighbor set the export policy names exists and is not empty
        sets = {s.name: s for s in daemon.config.defined_sets}
        for name in daemon.config.export_policies:
            policy = next(p for p in daemon.config.policies if p.name == name)
            assert all(sets[st.neighbor_set].neighbors for st in policy.statements)


def test_a_pod_that_joins_a_node_with_pods_is_guarded() -> None:
    """gobgpd 4.8 binds sets to a policy when it is added (measured for import too:
    tests/integration/test_rr_guard_binding.py), so the node's set rewritten for the pod
    comes with a new guard policy, swapped in before the pod's peer is added."""
    cfg = RrConfig.model_validate({**KUBE_RR, "nodes": NODES})
    daemon = FakeGobgpd()
    Reconciler(
        daemon, desired_config(cfg, secrets=SECRETS, speakers={"lb": ("172.16.1.2",)})
    ).reconcile_once()
    both = desired_config(cfg, secrets=SECRETS, speakers={"lb": ("172.16.1.2", "172.16.1.3")})
    Reconciler(daemon, both).reconcile_once()
    daemon.establish("172.16.1.3")
    daemon.receive("172.16.1.3", ("0.0.0.0/0", "10.0.0.99"))  # a default route, a foreign next-hop
    [session] = [s for s in daemon.list_sessions("rr") if s.neighbor == "172.16.1.3"]
    assert (session.received, session.accepted) == (1, 0)


NODE_PODS = ("172.16.1.2", "172.16.1.3", "172.16.1.4", "172.16.2.2", "172.16.2.3")
NODE_OF = {"172.16.1": "10.0.0.11", "172.16.2": "10.0.0.12"}


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.sets(st.sampled_from(NODE_PODS)), min_size=1, max_size=6))
def test_whatever_pods_come_and_go_on_nodes_each_is_guarded_by_its_own_node(steps: list[set[str]]) -> None:
    """The import side of gobgpd's set binding: each pod's routes are judged by a guard policy
    that was added after the pod was written into its sets, whatever came before."""
    cfg = RrConfig.model_validate({**KUBE_RR, "nodes": NODES})
    daemon = FakeGobgpd()
    for pods in steps:
        want = desired_config(cfg, secrets=SECRETS, speakers={"lb": tuple(sorted(pods))})
        Reconciler(daemon, want).reconcile_once()
        assert bgp.plan(want, daemon.observe()).operations == ()
        for pod in NODE_PODS:
            own = NODE_OF[pod.rpartition(".")[0]]
            other = "10.0.0.12" if own == "10.0.0.11" else "10.0.0.11"
            if pod in pods:
                assert daemon.imports(pod, "10.1.1.1/32", own), (pod, pods)
                assert not daemon.imports(pod, "10.1.1.1/32", other), (pod, pods)
                assert not daemon.imports(pod, "0.0.0.0/0", own), (pod, pods)
        assert daemon.imports(ROUTER, "0.0.0.0/0", "10.0.0.1")  # the router's routes: default accept


def test_a_guard_policy_of_the_single_digest_form_is_replaced_and_every_peer_judged_again() -> None:
    """An RR upgraded from the guard policy named after its statements alone: that policy may
    judge by sets as they were when it was added, so everything received is judged again."""
    cfg = RrConfig.model_validate({**KUBE_RR, "nodes": NODES})
    want = desired_config(cfg, secrets=SECRETS, speakers={"lb": ("172.16.1.2", "172.16.1.3")})
    [guard] = [p for p in want.policies if p.name in want.import_policies]
    older = guard.name.rpartition("-")[0]  # lbroute-guard-lb-<statements digest>
    renamed = bgp.PolicySpec(
        older, tuple(dataclasses.replace(s, name=s.name.replace(guard.name, older)) for s in guard.statements)
    )
    have = dataclasses.replace(
        want,
        policies=tuple(renamed if p is guard else p for p in want.policies),
        import_policies=(older,),
    )
    ops = bgp.plan(want, have).operations
    assert [type(op).__name__ for op in ops] == ["AddPolicy", "SetImportPolicies", "DeletePolicy", "Rejudge"]
    assert ops[-1] == bgp.Rejudge()
    # the same rules over other members (the current form) judge again only who moved: nobody
    rebound = desired_config(cfg, secrets=SECRETS, speakers={"lb": ("172.16.1.2",)})
    ops = bgp.plan(rebound, want).operations
    assert not [op for op in ops if isinstance(op, bgp.Rejudge)], ops
    assert bgp.SetImportPolicies(rebound.import_policies) in ops
