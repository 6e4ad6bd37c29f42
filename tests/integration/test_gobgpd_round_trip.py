"""Everything the RR manager writes reads back equal from a real gobgpd: an empty plan after apply.

One gobgpd on a unix socket, no BGP listener (``listen_port: -1``) and only passive peers,
so it opens no connection anywhere: this checks the adapter's translation both ways for
every object type (peer groups, dynamic neighbors, explicit MD5 peers, IPv4 and IPv6
families, max-prefix, graceful restart in both roles, prefix and neighbor sets, policies,
the global import assignment).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.core import bgp
from lbroute.gobgp.client import GobgpClient
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
    "speaker_groups": [
        {"name": "pods", "dynamic_prefixes": ["172.16.0.0/16"], **GROUP},
        {
            "name": "explicit",
            "kubernetes": {"namespace": "lb", "label_selector": "app=lb"},
            "md5_password_file": "/key",
            **GROUP,
        },
    ],
    "neighbors": [
        {"address": "10.0.0.1", "add_path_send_max": 255, "passive": True},
        {"address": "10.0.0.3", "passive": True, "graceful_restart": {"restart_time": 45}},
    ],
}


@pytest.fixture
def gobgpd(tmp_path: Path) -> Iterator[Path]:
    socket = tmp_path / "gobgp.sock"
    record = spawn("gobgpd", daemons.gobgpd_argv(socket), netns=None, log=tmp_path / "gobgpd.log")
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
