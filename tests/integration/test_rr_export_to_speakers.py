"""The RR sends an LB speaker nothing while the router gets every path: three real gobgpd 4.8.

What this measures of gobgpd's export policy (docs/decisions/rr-export-nothing-to-speakers.md):

- a neighbor-set condition in the global *export* assignment matches the peer a path is sent
  to, not the peer it came from: the speaker's own VIP, whose source is in the rejected set,
  still reaches the router, while the speaker is sent nothing;
- what no statement rejects meets the assignment's default action, accept: the router keeps
  every path;
- a new export assignment judges only what is sent from then on: the speaker keeps what it
  was sent before until a soft reset out (``Resend``);
- an empty neighbor set matches every peer: the router too would be sent nothing.

The lab: namespaces ``<prefix>-rr``, ``-router`` and ``-spk``, a veth from the RR to each. The
router is a gobgpd in the router role, the speaker a gobgpd in the speaker group's dynamic
range (it stands for exabgp: it announces a VIP and counts what it is sent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.core import bgp
from lbroute.core.rib import Path as BgpPath
from lbroute.gobgp.client import GobgpClient
from lbroute.polling import eventually
from rr.config import RrConfig
from rr.desired import desired_config, speaker_set_name
from rr.reconcile import Reconciler
from tests.support.gobgpds import Gobgpds, Link, gobgpds

ROUTER, RR, RR_POD_SIDE, SPEAKER = "10.0.0.1", "10.0.0.2", "172.16.1.1", "172.16.1.2"
VIP = "10.1.1.1/32"
AT_RR = tuple(f"10.9.0.{n}/32" for n in range(1, 51))  # originated at the RR (the benchmark's 65k)
AT_ROUTER = "192.0.2.1/32"  # from the router, a route-reflector client: reflected to everyone
RR_CONFIG = {
    "role": "route-reflector",
    "asn": 65021,
    "router_id": RR,
    "listen_addresses": [RR, RR_POD_SIDE],
    "speaker_groups": [
        {
            "name": "lb",
            "dynamic_prefixes": ["172.16.1.0/24"],
            "vip_pools": ["10.1.0.0/16"],
            "node_networks": ["10.0.0.0/24"],
        }
    ],
    "neighbors": [{"address": ROUTER, "add_path_send_max": 255}],
}
ROUTER_CONFIG = {
    "role": "router",
    "asn": 65021,
    "router_id": ROUTER,
    "listen_addresses": [ROUTER],
    "neighbors": [{"address": RR, "add_path_receive": True}],
}
IPV4 = (bgp.AfiSafi(bgp.Family.IPV4_UNICAST),)
# an LB pod's speaker: one iBGP session to the RR, which it opens
SPEAKER_CONFIG = bgp.DaemonConfig(
    global_=bgp.GlobalSpec(65021, SPEAKER, listen_port=-1),
    peers=(bgp.PeerSpec(RR_POD_SIDE, bgp.SessionSpec(65021, "lbroute:rr", IPV4, bgp.Timers(9, 3))),),
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Gobgpds]:
    links = (Link("router", RR, ROUTER), Link("speaker", RR_POD_SIDE, SPEAKER))
    with gobgpds(tmp_path, "rr", *links) as daemons:
        yield daemons


def _received(client: GobgpClient, source: str) -> set[str]:
    return {p.prefix for p in client.list_paths(adj_in_of=source)}


def test_the_speaker_is_sent_nothing_and_the_router_everything(lab: Gobgpds) -> None:
    rr_cfg = RrConfig.model_validate({**RR_CONFIG, "gobgpd": "unix:///unused"})
    full = desired_config(rr_cfg)
    [export] = full.export_policies
    # first without the export policy: what the RR would do today
    without = dataclasses.replace(
        full, policies=tuple(p for p in full.policies if p.name != export), export_policies=()
    )
    Reconciler(lab["rr"], without).reconcile(give_up_after=10)
    router_cfg = RrConfig.model_validate({**ROUTER_CONFIG, "gobgpd": "unix:///unused"})
    Reconciler(lab["router"], desired_config(router_cfg)).reconcile(give_up_after=10)
    for op in bgp.plan(SPEAKER_CONFIG, lab["speaker"].observe()).operations:
        lab["speaker"].apply(op)
    lab["rr"].add_paths([BgpPath(p, RR) for p in AT_RR])
    lab["router"].add_paths([BgpPath(AT_ROUTER, ROUTER)])
    lab["speaker"].add_paths([BgpPath(VIP, "10.0.0.11")])
    everything = {*AT_RR, VIP}

    def router_has(expected: set[str]) -> None:
        assert _received(lab["router"], RR) == expected

    def speaker_has(expected: set[str]) -> None:
        assert _received(lab["speaker"], RR_POD_SIDE) == expected

    # without it the speaker is sent every path the RR holds but its own (the check can fail)
    eventually(lambda: speaker_has({*AT_RR, AT_ROUTER}), 30, what="speaker sent the RIB", context=lab.context)
    eventually(lambda: router_has(everything), 30, what="router sent every path", context=lab.context)

    # the export policy: added and assigned, but not yet sent again
    todo = bgp.plan(full, lab["rr"].observe()).operations
    assert [type(op).__name__ for op in todo] == ["AddPolicy", "SetExportPolicies", "Resend"]
    for op in todo[:-1]:
        lab["rr"].apply(op)
    # a path originated now meets the policy: the router gets it, the speaker does not ...
    lab["rr"].add_paths([BgpPath("10.9.1.1/32", RR)])
    eventually(lambda: router_has({*everything, "10.9.1.1/32"}), 30, what="router sent the new path")
    # ... and still holds what it was sent before: gobgpd judged only what it sent since
    speaker_has({*AT_RR, AT_ROUTER})
    lab["rr"].apply(todo[-1])  # soft reset out: what is now rejected is withdrawn
    eventually(lambda: speaker_has(set()), 30, what="speaker sent nothing", context=lab.context)
    assert bgp.plan(full, lab["rr"].observe()).operations == ()
    # the router kept every path, the speaker's own VIP too: its source is in the rejected
    # neighbor set, so the set names the peer a path is sent to, not the one it came from
    router_has({*everything, "10.9.1.1/32"})
    sessions = {s.neighbor: s for s in lab["rr"].list_sessions("rr")}
    assert (sessions[SPEAKER].advertised, sessions[ROUTER].advertised) == (0, len(everything) + 1)
    # the speaker's own routes still go up, and the RR's new ones still stay away from it
    lab["speaker"].add_paths([BgpPath("10.1.1.2/32", "10.0.0.11")])
    lab["rr"].add_paths([BgpPath("10.9.1.2/32", RR)])
    eventually(
        lambda: router_has({*everything, "10.9.1.1/32", "10.9.1.2/32", "10.1.1.2/32"}), 30, what="more"
    )
    speaker_has(set())

    # a set written again is a new object in gobgpd 4.8, which the policies added before do
    # not see: emptied, the set still rejects the speaker and nothing else (an empty set
    # would match every peer, see below); rr.desired names the export policy after its sets'
    # members for this, so a changed set comes with a new policy
    emptied = bgp.DefinedSetSpec(bgp.SetKind.NEIGHBOR, speaker_set_name("lb"))
    lab["rr"].apply(bgp.SetDefinedSet(emptied))
    assert emptied in lab["rr"].observe().defined_sets  # it reads back empty
    lab["rr"].apply(bgp.Resend())
    lab["rr"].add_paths([BgpPath("10.9.1.3/32", RR)])
    sent = {*everything, "10.9.1.1/32", "10.9.1.2/32", "10.1.1.2/32", "10.9.1.3/32"}
    eventually(lambda: router_has(sent), 30, what="router sent the path after the set was emptied")
    speaker_has(set())
    # a policy added now binds the empty set, and an empty neighbor set matches every peer:
    # the router would be sent nothing either, which is why desired never writes one
    policy = next(p for p in lab["rr"].observe().policies if p.name == export)
    again = bgp.PolicySpec(
        "lbroute-export-again",
        tuple(
            dataclasses.replace(st, name=st.name.replace(export, "lbroute-export-again"))
            for st in policy.statements
        ),
    )
    lab["rr"].apply(bgp.AddPolicy(again))
    lab["rr"].apply(bgp.SetExportPolicies((again.name,)))
    lab["rr"].apply(bgp.Resend())
    eventually(lambda: router_has(set()), 30, what="router sent nothing", context=lab.context)
