"""Everything the RR manager writes reads back equal from a real gobgpd: an empty plan after apply.

One gobgpd on a unix socket, no BGP listener (``listen_port: -1``) and only passive peers,
so it opens no connection anywhere: this checks the adapter's translation both ways for
every object type and field (peer groups, dynamic neighbors, explicit MD5 peers, IPv4 and
IPv6 families, add-path both ways, max-prefix, every timer, an eBGP group, a cluster ID of
its own, graceful restart in both roles, prefix and neighbor sets, policies, the global
import assignment), the sessions the adapter lists, and what gobgpd refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.core import bgp
from lbroute.gobgp.apipb import gobgp_pb2 as api
from lbroute.gobgp.client import GLOBAL_RIB, GobgpClient
from lbroute.gobgp.errors import GobgpRejected
from lbroute.lab import daemons
from lbroute.lab.processes import spawn, stop
from lbroute.polling import until
from rr.config import RrConfig
from rr.desired import desired_config
from rr.reconcile import Reconciler

GROUP = {
    "vip_pools": ["10.1.0.0/16", "2001:db8:1::/48"],
    "allowed_prefix_lengths": [32, 128],
    "node_networks": ["10.0.0.0/24", "2001:db8::/64"],
    "families": ["ipv4-unicast", "ipv6-unicast"],
    "max_prefixes": 500,
}
CONFIG = {
    "role": "route-reflector",
    "asn": 65021,
    "router_id": "10.0.0.2",
    "listen_port": -1,
    "cluster_id": "10.0.0.9",
    "speaker_groups": [
        {"name": "pods", "dynamic_prefixes": ["172.16.0.0/16"], "peer_asn": 65099, **GROUP},
        {
            "name": "explicit",
            "kubernetes": {"namespace": "lb", "label_selector": "app=lb"},
            "md5_password_file": "/key",
            **GROUP,
        },
    ],
    "neighbors": [
        {"address": "10.0.0.1", "add_path_send_max": 255, "passive": True},
        {
            "address": "10.0.0.3",
            "passive": True,
            "graceful_restart": {"restart_time": 45},
            "timers": {"hold_time": 30, "keepalive": 10, "connect_retry": 7, "idle_hold_after_reset": 9},
        },
    ],
}


@pytest.fixture
def gobgpd(tmp_path: Path) -> Iterator[Path]:
    socket = tmp_path / "gobgp.sock"
    # no metrics listener either: gobgpd serves /metrics on localhost:6060 unless told not to
    argv = [*daemons.gobgpd_argv(socket), "--metrics-path="]
    record = spawn("gobgpd", argv, netns=None, log=tmp_path / "gobgpd.log")
    try:
        until(lambda: socket.exists(), 10, what="gobgpd socket")
        yield socket
    finally:
        stop(record)


def test_every_object_reads_back_as_written(gobgpd: Path) -> None:
    cfg = RrConfig.model_validate({**CONFIG, "gobgpd": f"unix://{gobgpd}"})
    speakers = {"explicit": ("172.16.5.2", "fd00:5::2")}
    desired = desired_config(cfg, secrets={"/key": "k3y"}, speakers=speakers)
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        first = Reconciler(client, desired).reconcile(give_up_after=10)
        assert len(first.operations) > 10
        # BGP was started by this plan: the graceful-restart neighbor hears that we restarted
        added = [op for op in first.operations if isinstance(op, bgp.AddPeer)]
        assert [op.spec.address for op in added if op.restarting] == ["10.0.0.3"]
        raw = {p.conf.neighbor_address: p.graceful_restart for p in client.list_peers_raw()}
        assert raw["10.0.0.3"].local_restarting and not raw["10.0.0.1"].enabled
        observed = client.observe()
        assert bgp.plan(desired, observed).operations == ()
        assert observed.owned() == desired.owned()
        upstream = next(p for p in observed.peers if p.address == "10.0.0.1")
        assert upstream.session.cluster_id == "10.0.0.9" and upstream.session.route_reflector_client
        # the sessions as `lbroute peers` and the metrics see them: none up, nothing counted
        sessions = {s.neighbor: s for s in client.list_sessions("rr", advertised=False)}
        assert set(sessions) == {"10.0.0.1", "10.0.0.3", "172.16.5.2", "fd00:5::2"}
        assert {s.state for s in sessions.values()} <= {"IDLE", "ACTIVE", "CONNECT"}
        gr = sessions["10.0.0.3"]
        assert (gr.graceful_restart, gr.description, gr.group, gr.advertised) == (
            "on",
            "lbroute:upstream",
            "lbroute:upstream",
            None,
        )
        assert (
            sessions["172.16.5.2"].peer_asn,
            sessions["172.16.5.2"].received,
            sessions["172.16.5.2"].rejected,
        ) == (65021, 0, 0)
        assert [s.advertised for s in client.list_sessions("rr")] == [0, 0, 0, 0]
        # a pod leaves: one peer deleted, one set replaced, nothing else
        fewer = desired_config(cfg, secrets={"/key": "k3y"}, speakers={"explicit": ("172.16.5.2",)})
        todo = Reconciler(client, fewer).reconcile_once()
        assert [type(op).__name__ for op in todo.operations] == ["DeletePeer", "SetDefinedSet"]
        assert bgp.plan(fewer, client.observe()).operations == ()
        # and the guard-rail change path: policy out, deleted (statements too), added, back in
        moved = RrConfig.model_validate(
            {
                **CONFIG,
                "gobgpd": f"unix://{gobgpd}",
                "speaker_groups": [{**CONFIG["speaker_groups"][0], "node_networks": ["10.0.9.0/24"]}],  # type: ignore[index]
            }
        )
        Reconciler(client, desired_config(moved)).reconcile_once()
        assert bgp.plan(desired_config(moved), client.observe()).operations == ()


def test_the_router_role_reads_back_as_written_with_graceful_restart_helper(gobgpd: Path) -> None:
    cfg = RrConfig.model_validate(
        {
            "role": "router",
            "gobgpd": f"unix://{gobgpd}",
            "asn": 65021,
            "router_id": "10.0.0.1",
            "listen_port": -1,
            "neighbors": [
                {"address": a, "add_path_receive": True, "passive": True, "graceful_restart": {}}
                for a in ("10.0.0.2", "10.0.0.3")
            ],
        }
    )
    desired = desired_config(cfg)
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        first = Reconciler(client, desired).reconcile(give_up_after=10)
        # a router is a helper only: it never claims to be restarting
        assert [op for op in first.operations if isinstance(op, bgp.AddPeer) and op.restarting] == []
        observed = client.observe()
        helper = bgp.GracefulRestart(30, helper_only=True)
        assert [p.session.graceful_restart for p in observed.peers] == [helper, helper]
        assert bgp.plan(desired, observed).operations == ()


def test_what_gobgpd_refuses_and_the_policy_deletion_it_does_not(gobgpd: Path) -> None:
    """Why the fake gobgpd refuses to delete an assigned policy: gobgpd 3.36 refuses it only for an
    export assignment, and deletes an import-assigned one, leaving the assignment naming it."""
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        client.apply(bgp.StartBgp(bgp.GlobalSpec(65021, "10.0.0.2", listen_port=-1)))
        af = (bgp.AfiSafi(bgp.Family.IPV4_UNICAST),)
        peer = bgp.PeerSpec(
            "10.9.0.1", bgp.SessionSpec(65021, "lbroute:x", af, bgp.Timers(9, 3), passive=True)
        )
        client.apply(bgp.AddPeer(peer))
        with pytest.raises(GobgpRejected) as info:
            client.apply(bgp.AddPeer(peer))
        assert (info.value.status, info.value.target) == ("UNKNOWN", str(gobgpd))
        for direction in (api.IMPORT, api.EXPORT):
            name = f"lbroute-probe-{api.PolicyDirection.Name(direction).lower()}"
            client.apply(
                bgp.AddPolicy(bgp.PolicySpec(name, (bgp.StatementSpec(f"{name}-1", bgp.RouteAction.REJECT),)))
            )
            assignment = api.PolicyAssignment(
                name=GLOBAL_RIB,
                direction=direction,
                policies=[api.Policy(name=name)],
                default_action=api.ACCEPT,
            )
            client._stub.SetPolicyAssignment(api.SetPolicyAssignmentRequest(assignment=assignment))
        with pytest.raises(GobgpRejected, match="is in use"):
            client.apply(bgp.DeletePolicy("lbroute-probe-export"))
        client.apply(bgp.DeletePolicy("lbroute-probe-import"))  # answers OK
        observed = client.observe()
        assert [p.name for p in observed.policies] == ["lbroute-probe-export"]
        assert observed.import_policies == ("lbroute-probe-import",)  # naming a policy that is gone
