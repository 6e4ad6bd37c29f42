"""An import guard policy judges by the sets it was added with: two real gobgpd 4.8.

What this measures (docs/decisions/guard-rails.md, where a changed policy is a new name):
gobgpd 4.8 binds a policy's conditions to the defined-set objects in its table when the
policy is added, for the global *import* assignment as for the export one. A Kubernetes pod
written into its node's neighbor set and the group's speakers set in place (``AddDefinedSet``
with replace), after the guard policy exists, is in neither set as that policy sees them:
its routes meet the assignment's default, accept, whatever their next-hop, and a soft reset
in (``Rejudge``) does not change that. With ``rr.desired`` naming the guard policy after its
sets' members too, the same pod comes with a new guard policy, swapped in before its peer is
added, and the route with a foreign next-hop is rejected.

The lab: namespaces ``<prefix>-rr`` and ``-spk``, one veth. The RR's speaker group is a
Kubernetes one (explicit MD5 peers, each pod's /32 in the sets) with ``nodes``; the speaker
is a gobgpd at a pod address on node1, standing in for exabgp.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.core import bgp
from lbroute.core.rib import Path as BgpPath
from lbroute.polling import eventually
from rr.config import RrConfig
from rr.desired import desired_config, guard_policy_prefix
from rr.reconcile import Reconciler
from tests.support.gobgpds import Gobgpds, Link, gobgpds
from tests.support.rr import KUBE_GROUP, NODES, SECRETS

RR_POD_SIDE, SPEAKER = "172.16.1.1", "172.16.1.2"
OTHER_POD = "172.16.1.9"  # already on node1 when the speaker joins (it never connects)
GOOD = "10.1.1.1/32"  # via node1's own address: what the guard rails accept
BAD = "10.1.1.2/32"  # via another address in the node networks: what they must reject
NODE1, FOREIGN_HOP = "10.0.0.11", "10.0.0.99"
RR_CONFIG = {
    "role": "route-reflector",
    "gobgpd": "unix:///unused",
    "asn": 65021,
    "router_id": "10.0.0.2",
    "listen_addresses": [RR_POD_SIDE],
    "speaker_groups": [KUBE_GROUP],
    "nodes": NODES,
}
PASSWORD = SECRETS[KUBE_GROUP["md5_password_file"]]
IPV4 = (bgp.AfiSafi(bgp.Family.IPV4_UNICAST),)
SPEAKER_CONFIG = bgp.DaemonConfig(
    global_=bgp.GlobalSpec(65021, SPEAKER, listen_port=-1),
    peers=(
        bgp.PeerSpec(
            RR_POD_SIDE,
            bgp.SessionSpec(65021, "lbroute:rr", IPV4, bgp.Timers(9, 3), auth_password=PASSWORD),
        ),
    ),
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Gobgpds]:
    with gobgpds(tmp_path, "rr", Link("speaker", RR_POD_SIDE, SPEAKER)) as daemons:
        yield daemons


def _desired(*pods: str) -> bgp.DaemonConfig:
    cfg = RrConfig.model_validate(RR_CONFIG)
    return desired_config(cfg, secrets=SECRETS, speakers={"lb": pods})


def _guard(config: bgp.DaemonConfig) -> str:
    [name] = [n for n in config.import_policies if n.startswith(guard_policy_prefix("lb"))]
    return name


def test_a_pod_written_into_the_sets_in_place_is_unguarded_and_a_new_policy_guards_it(pair: Gobgpds) -> None:
    Reconciler(pair["rr"], _desired(OTHER_POD)).reconcile(give_up_after=10)
    old_guard = _guard(pair["rr"].observe())
    for op in bgp.plan(SPEAKER_CONFIG, pair["speaker"].observe()).operations:
        pair["speaker"].apply(op)
    pair["speaker"].add_paths([BgpPath(GOOD, NODE1), BgpPath(BAD, FOREIGN_HOP)])

    def received() -> None:
        assert {p.prefix for p in pair["rr"].list_paths(adj_in_of=SPEAKER)} == {GOOD, BAD}

    def in_rib(expected: set[str]) -> None:
        assert {p.prefix for p in pair["rr"].list_paths()} == expected

    # --- what lbroute did before: the pod's sets written in place, its peer added, the guard
    # policy left as it was (added when node1 had only OTHER_POD)
    both = _desired(OTHER_POD, SPEAKER)
    in_place = [
        op for op in bgp.plan(both, pair["rr"].observe()).operations if isinstance(op, bgp.SetDefinedSet)
    ]
    assert {op.spec.name for op in in_place} >= {"lbroute-speakers-lb", "lbroute-speakers-lb-on-node1"}
    for op in in_place:
        pair["rr"].apply(op)
    [peer] = [p for p in both.peers if p.address == SPEAKER]
    pair["rr"].apply(bgp.AddPeer(peer))
    # the sets read back with the speaker in them ...
    sets = {d.name: d.neighbors for d in pair["rr"].observe().defined_sets}
    assert (
        f"{SPEAKER}/32" in sets["lbroute-speakers-lb-on-node1"]
        and f"{SPEAKER}/32" in sets["lbroute-speakers-lb"]
    )
    eventually(received, 30, what="the RR received both paths", context=pair.context)
    # ... yet the policy judges by the members it was added with: the speaker is in neither its
    # accept set nor its reject set, so both paths meet the default accept, the foreign
    # next-hop too
    eventually(lambda: in_rib({GOOD, BAD}), 10, what="both paths accepted", context=pair.context)
    pair["rr"].apply(bgp.Rejudge((SPEAKER,)))  # a soft reset in judges by the same bound sets
    received()
    in_rib({GOOD, BAD})
    assert {p.prefix for p in pair["rr"].list_paths(adj_in_of=SPEAKER, rejected_only=True)} == set()

    # --- now: the pod leaves, and joins again through the plan
    Reconciler(pair["rr"], _desired(OTHER_POD)).reconcile(give_up_after=10)
    eventually(lambda: in_rib(set()), 30, what="the speaker's paths gone with its peer")
    todo = bgp.plan(both, pair["rr"].observe()).operations
    kinds = [type(op).__name__ for op in todo]
    # a new guard policy, over the sets as now written, swapped in before the peer exists
    assert kinds.index("SetDefinedSet") < kinds.index("AddPolicy") < kinds.index("SetImportPolicies")
    assert kinds.index("SetImportPolicies") < kinds.index("DeletePolicy") < kinds.index("AddPeer")
    for op in todo:
        pair["rr"].apply(op)
    assert _guard(pair["rr"].observe()) != old_guard
    assert bgp.plan(both, pair["rr"].observe()).operations == ()
    eventually(received, 30, what="the RR received both paths again", context=pair.context)
    eventually(lambda: in_rib({GOOD}), 10, what="the foreign next-hop rejected", context=pair.context)
    assert {p.prefix for p in pair["rr"].list_paths(adj_in_of=SPEAKER, rejected_only=True)} == {BAD}
