"""Everything the RR manager writes reads back equal from a real gobgpd: an empty plan after apply.

One gobgpd 4.8 on a unix socket, in a namespace of its own, no BGP listener
(``listen_port: -1``) and only passive peers, so it opens no connection anywhere: this
checks the adapter's translation both ways for every object type and field (global
settings, peer groups, dynamic neighbors, explicit MD5 peers, IPv4 and IPv6 families,
add-path both ways, max-prefix, every timer, an eBGP group, a cluster ID of its own,
graceful restart in both roles, BFD on a peer group, explicit peers and neighbors (every field;
a peer reads back with gobgpd's defaults filled in, a group as written), prefix and neighbor
sets, policies with next-hop networks,
the global import and export assignments), the sessions the adapter lists, the paths it originates and
reads, the watch it opens (each enum a request carries set: 4.8 refuses them at 0), and
what gobgpd refuses: StopBgp is final, so lbroute-rr refuses other global settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lbroute.core import bgp
from lbroute.core.events import SessionReport, SnapshotDone
from lbroute.core.rib import Path as BgpPath
from lbroute.gobgp.apipb import gobgp_pb2 as api
from lbroute.gobgp.client import GLOBAL_RIB, GobgpClient
from lbroute.gobgp.errors import GobgpRejected
from lbroute.lab import daemons, network
from lbroute.lab.processes import spawn, stop
from lbroute.polling import until
from rr.config import RrConfig
from rr.desired import NORMALIZED, desired_config
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.lab import unique_prefix
from tests.support.programs import run
from tests.support.rr import POLICY_SWAP

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
    "listen_addresses": ["10.0.0.2", "fd00::2"],
    "cluster_id": "10.0.0.9",
    "speaker_groups": [
        {
            "name": "pods",
            "dynamic_prefixes": ["172.16.0.0/16"],
            "peer_asn": 65099,
            # multihop (port 4784), every timer other than its default
            "bfd": {"transmit_interval_ms": 250, "receive_interval_ms": 350, "detect_multiplier": 4},
            **GROUP,
        },
        {
            "name": "explicit",
            "kubernetes": {"namespace": "lb", "label_selector": "app=lb"},
            "md5_password_file": "/key",
            "bfd": {"transmit_interval_ms": 150, "receive_interval_ms": 200, "multihop": False},
            **GROUP,
        },
    ],
    "neighbors": [
        {"address": "10.0.0.1", "add_path_send_max": 255, "passive": True},
        {
            "address": "10.0.0.3",
            "bfd": {"detect_multiplier": 7},
            "passive": True,
            "graceful_restart": {"restart_time": 45},
            "timers": {"hold_time": 30, "keepalive": 10, "connect_retry": 7, "idle_hold_after_reset": 9},
        },
    ],
}


@pytest.fixture
def gobgpd(tmp_path: Path) -> Iterator[Path]:
    """A gobgpd in a namespace of its own, reached over its unix socket: gobgpd 4.8 opens a BFD
    listener (UDP *:3784) in whatever namespace it runs in, and that must never be the root one."""
    socket = tmp_path / "gobgp.sock"
    netns = f"{unique_prefix()}-api"
    created: list[str] = []
    try:
        network.add_namespace(netns, created.append)
        record = spawn("gobgpd", daemons.gobgpd_argv(socket), netns=netns, log=tmp_path / "gobgpd.log")
        try:
            until(lambda: socket.exists(), 10, what="gobgpd socket")
            yield socket
        finally:
            stop(record)
    finally:
        for ns in created:
            network.delete_namespace(ns)


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
        assert observed.global_ == bgp.GlobalSpec(65021, "10.0.0.2", -1, ("10.0.0.2", "fd00::2"))
        # gobgpd 4.8 lists a next-hop network's address only; written as its two ends, it reads
        # back whole (lbroute/gobgp/policy_next_hops.py)
        listed = {
            st.name.removeprefix(r.policy.name + "-"): list(st.conditions.next_hop_in_list)
            for r in client._stub.ListPolicy(api.ListPolicyRequest())
            for st in r.policy.statements
            if r.policy.name.startswith("lbroute-guard-pods-")
        }
        assert listed["accept"] == ["10.0.0.0", "10.0.0.255"]
        assert listed["accept6"] == ["2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"]
        guards = [p for p in observed.policies if p.name in observed.import_policies]
        accept = guards[0].statements[0]
        assert accept.name.startswith("lbroute-guard-explicit-") and accept.next_hop_in == ("10.0.0.0/24",)
        # the normalized attributes and the AS-path condition read back as written: eBGP
        # speakers (pods, AS 65099) send one AS, iBGP ones none
        accepts = [
            st for p in observed.policies for st in p.statements if st.action is bgp.RouteAction.ACCEPT
        ]
        assert {st.set_attributes for st in accepts} == {NORMALIZED}
        assert sorted({(st.neighbor_set, st.as_path_length) for st in accepts}) == [
            ("lbroute-speakers-explicit", 0),
            ("lbroute-speakers-pods", 1),
        ]
        # the export assignment: one policy, a reject per group on its speakers' set, default accept
        [export] = observed.export_policies
        assert observed.export_policies == desired.export_policies
        assert [
            (st.action, st.neighbor_set) for p in observed.policies if p.name == export for st in p.statements
        ] == [
            (bgp.RouteAction.REJECT, "lbroute-speakers-pods"),
            (bgp.RouteAction.REJECT, "lbroute-speakers-explicit"),
        ]
        request = api.ListPolicyAssignmentRequest(name=GLOBAL_RIB, direction=api.POLICY_DIRECTION_EXPORT)
        [listed_export] = [r.assignment for r in client._stub.ListPolicyAssignment(request)]
        assert listed_export.default_action == api.ROUTE_ACTION_ACCEPT
        upstream = next(p for p in observed.peers if p.address == "10.0.0.1")
        assert upstream.session.cluster_id == "10.0.0.9" and upstream.session.route_reflector_client
        # BFD as written: the group (port 4784: multihop to the pods' bfdd), the explicit speaker
        # peers and a neighbor (3784); no BFD reads back as none from a peer's defaults too
        bfd = {p.address: p.session.bfd for p in observed.peers}
        assert bfd == {
            "10.0.0.1": None,
            "10.0.0.3": bgp.Bfd(300_000, 300_000, 7, 3784),
            "172.16.5.2": bgp.Bfd(150_000, 200_000, 3, 3784),
            "fd00:5::2": bgp.Bfd(150_000, 200_000, 3, 3784),
        }
        assert observed.peer_groups[0].session.bfd == bgp.Bfd(250_000, 350_000, 4, 4784)
        raw_bfd = {p.conf.neighbor_address: p.bfd for p in client.list_peers_raw()}
        assert (raw_bfd["10.0.0.1"].enabled, raw_bfd["10.0.0.1"].desired_minimum_tx_interval) == (
            False,
            1_000_000,
        )
        # the sessions as `lbroute peers` and the metrics see them: none up, nothing counted
        sessions = {s.neighbor: s for s in client.list_sessions("rr", advertised=False)}
        assert set(sessions) == {"10.0.0.1", "10.0.0.3", "172.16.5.2", "fd00:5::2"}
        assert {s.state for s in sessions.values()} <= {"IDLE", "ACTIVE", "CONNECT"}
        # a BFD peer that hears nothing stays DOWN; one without BFD has no BFD state
        assert (sessions["10.0.0.3"].bfd, sessions["10.0.0.1"].bfd) == ("DOWN", "")
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
        # a pod leaves: one peer deleted, one set replaced, and the export and guard policies that
        # name the set made again beside the old (gobgpd binds a set to a policy when it is
        # added); no resend, nothing judged again (the peers that stay are in the same sets)
        fewer = desired_config(cfg, secrets={"/key": "k3y"}, speakers={"explicit": ("172.16.5.2",)})
        todo = Reconciler(client, fewer).reconcile_once()
        assert [type(op).__name__ for op in todo.operations] == [
            "DeletePeer",
            "SetDefinedSet",
            *POLICY_SWAP,
        ]
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
        # new BFD timers for a group: one update, then nothing (a group reads back as written)
        slower = RrConfig.model_validate(
            {
                **CONFIG,
                "gobgpd": f"unix://{gobgpd}",
                "speaker_groups": [
                    {**CONFIG["speaker_groups"][0], "node_networks": ["10.0.9.0/24"], "bfd": {}}
                ],  # type: ignore[index]
            }
        )
        todo = Reconciler(client, desired_config(slower)).reconcile_once()
        assert [bgp.describe(op) for op in todo.operations] == ["update peer-group pods"]
        assert bgp.plan(desired_config(slower), client.observe()).operations == ()
        # a node network that only grows (same first address) is a change too
        grown = RrConfig.model_validate(
            {
                **CONFIG,
                "gobgpd": f"unix://{gobgpd}",
                "speaker_groups": [
                    {**CONFIG["speaker_groups"][0], "node_networks": ["10.0.8.0/23"], "bfd": {}}
                ],  # type: ignore[index]
            }
        )
        todo = Reconciler(client, desired_config(grown)).reconcile_once()
        # make before break: the new policy beside the old, the assignment swapped, the old gone
        assert [type(op).__name__ for op in todo.operations] == [
            "AddPolicy",
            "SetImportPolicies",
            "DeletePolicy",
            "Rejudge",  # what the speakers sent, judged by the new policy (soft reset in, every peer)
        ]
        assert bgp.plan(desired_config(grown), client.observe()).operations == ()


def test_per_node_guard_rails_and_a_groups_vips_read_back_as_written(gobgpd: Path) -> None:
    nodes = [
        {
            "name": "n5",
            "addresses": ["10.0.0.15", "2001:db8::15"],
            "pod_cidrs": ["172.16.5.0/24", "fd00:5::/64"],
        },
        {"name": "n6", "addresses": ["10.0.0.16"], "pod_cidrs": ["172.16.6.0/24"]},
    ]
    groups = [{**g, "vips": ["10.1.1.1/32", "2001:db8:1::1/128"]} for g in CONFIG["speaker_groups"]]  # type: ignore[attr-defined]
    cfg = RrConfig.model_validate(
        {**CONFIG, "gobgpd": f"unix://{gobgpd}", "nodes": nodes, "speaker_groups": groups}
    )
    assert cfg.problems() == []
    desired = desired_config(cfg, secrets={"/key": "k3y"}, speakers={"explicit": ("172.16.5.2", "fd00:5::2")})
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        Reconciler(client, desired).reconcile(give_up_after=10)
        observed = client.observe()
        assert bgp.plan(desired, observed).operations == ()
        assert observed.owned() == desired.owned()
        hops = {
            st.name.removeprefix(p.name + "-"): st.next_hop_in
            for p in observed.policies
            if p.name.startswith("lbroute-guard-pods-")
            for st in p.statements
        }
        assert hops == {
            "n5-accept": ("10.0.0.15/32",),
            "n6-accept": ("10.0.0.16/32",),
            "n5-accept6": ("2001:db8::15/128",),
            "reject": (),
        }
        vips = {d.name: d.prefixes for d in observed.defined_sets if d.kind is bgp.SetKind.PREFIX}
        assert vips["lbroute-vips-pods"] == (bgp.PrefixMatch("10.1.1.1/32", 32, 32),)
        # a second pod on another node: its set appears, the policy is replaced, nothing else
        more = desired_config(
            cfg, secrets={"/key": "k3y"}, speakers={"explicit": ("172.16.5.2", "fd00:5::2", "172.16.6.2")}
        )
        todo = Reconciler(client, more).reconcile_once()
        assert [type(op).__name__ for op in todo.operations] == [
            "SetDefinedSet",
            "SetDefinedSet",
            *POLICY_SWAP,
            "AddPeer",
            "Rejudge",
        ]
        assert bgp.plan(more, client.observe()).operations == ()
        # a speaker held down (damped after max-prefix shutdowns): the same peer, admin down
        held = desired_config(
            cfg,
            secrets={"/key": "k3y"},
            speakers={"explicit": ("172.16.5.2", "fd00:5::2", "172.16.6.2")},
            held=frozenset({"172.16.6.2"}),
        )
        todo = Reconciler(client, held).reconcile_once()
        assert [bgp.describe(op) for op in todo.operations] == ["update peer 172.16.6.2"]
        assert {p.address: p.admin_down for p in client.observe().peers if p.address.startswith("172.")} == {
            "172.16.5.2": False,
            "172.16.6.2": True,
        }
        assert bgp.plan(held, client.observe()).operations == ()
        # a tenth pod on a node: gobgpd reads its sets back in string order (.10 before .2),
        # and the same set must still be the same set, or every resync would rewrite it
        tenth = desired_config(
            cfg, secrets={"/key": "k3y"}, speakers={"explicit": ("172.16.5.2", "172.16.5.10", "fd00:5::2")}
        )
        Reconciler(client, tenth).reconcile_once()
        assert bgp.plan(tenth, client.observe()).operations == ()
        # one peer judged again, as a pod the API moves between nodes is; gobgpd refuses an
        # address it has no neighbor for, and so does the fake
        client.apply(bgp.Rejudge(("172.16.5.2",)))
        for daemon in (client, FakeGobgpd(bgp.DaemonConfig(global_=observed.global_))):
            with pytest.raises(GobgpRejected, match=r"neighbor that has 172\.16\.9\.9 doesn't exist"):
                daemon.apply(bgp.Rejudge(("172.16.9.9",)))


def test_the_router_role_reads_back_as_written_with_graceful_restart_helper(gobgpd: Path) -> None:
    cfg = RrConfig.model_validate(
        {
            "role": "router",
            "gobgpd": f"unix://{gobgpd}",
            "asn": 65021,
            "router_id": "10.0.0.1",
            "listen_port": -1,
            "neighbors": [
                {"address": a, "add_path_receive": True, "passive": True, "graceful_restart": {}, "bfd": {}}
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
        # BFD towards two RRs (a router with one is refused it): the defaults, single hop
        assert [p.session.bfd for p in observed.peers] == [bgp.Bfd(300_000, 300_000, 3, 3784)] * 2
        assert bgp.plan(desired, observed).operations == ()


def test_what_gobgpd_refuses_and_the_policy_deletion_it_does_not(gobgpd: Path) -> None:
    """Why the fake gobgpd refuses to delete an assigned policy: gobgpd 4.8 (as 3.36) refuses it
    only for an export assignment, and deletes an import-assigned one, leaving the assignment
    naming it."""
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
        for direction, name in (
            (api.POLICY_DIRECTION_IMPORT, "lbroute-probe-import"),
            (api.POLICY_DIRECTION_EXPORT, "lbroute-probe-export"),
        ):
            client.apply(
                bgp.AddPolicy(bgp.PolicySpec(name, (bgp.StatementSpec(f"{name}-1", bgp.RouteAction.REJECT),)))
            )
            assignment = api.PolicyAssignment(
                name=GLOBAL_RIB,
                direction=direction,
                policies=[api.Policy(name=name)],
                default_action=api.ROUTE_ACTION_ACCEPT,
            )
            client._stub.SetPolicyAssignment(api.SetPolicyAssignmentRequest(assignment=assignment))
        with pytest.raises(GobgpRejected, match="is in use"):
            client.apply(bgp.DeletePolicy("lbroute-probe-export"))
        client.apply(bgp.DeletePolicy("lbroute-probe-import"))  # answers OK
        observed = client.observe()
        assert [p.name for p in observed.policies] == ["lbroute-probe-export"]
        assert observed.import_policies == ("lbroute-probe-import",)  # naming a policy that is gone


def test_paths_it_originates_and_the_watch_it_opens_read_back_in_the_cores_words(gobgpd: Path) -> None:
    cfg = RrConfig.model_validate({**CONFIG, "gobgpd": f"unix://{gobgpd}"})
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        Reconciler(client, desired_config(cfg)).reconcile(give_up_after=10)
        # AddPathStream with its table type, an NLRI and two attributes; ListPath reads them back
        paths = [BgpPath("10.1.9.9/32", f"10.0.0.{n}", "", path_id=n) for n in (11, 12)]
        client.add_paths(paths)
        held = client.list_paths()
        assert [(p.prefix, p.next_hop, p.source, p.path_id) for p in held] == [
            ("10.1.9.9/32", "10.0.0.11", "", 11),
            ("10.1.9.9/32", "10.0.0.12", "", 12),
        ]
        assert client.list_paths(prefixes=("10.1.9.9/32",)) == held
        assert client.list_paths(adj_in_of="10.0.0.1") == []  # an adj-RIB-in of a peer that is down
        assert client.keeps_stale_paths("10.0.0.3") is False
        # the watch's snapshot: every configured session, in the core's words, then its end
        watch = client.watch()
        guard = threading.Timer(10, watch.cancel)  # a snapshot that never ends fails, not hangs
        guard.start()
        reports = []
        try:
            for report in watch:
                reports.append(report)
                if isinstance(report, SnapshotDone):
                    break
        finally:
            guard.cancel()
            watch.cancel()
        assert isinstance(reports[-1], SnapshotDone)
        sessions = [r for r in reports if isinstance(r, SessionReport)]
        assert {r.neighbor for r in sessions} == {"10.0.0.1", "10.0.0.3"}
        assert all(r.initial and r.state in {"IDLE", "ACTIVE", "CONNECT"} for r in sessions)


def test_stop_bgp_is_final_so_lbroute_rr_refuses_other_global_settings(gobgpd: Path, tmp_path: Path) -> None:
    raw = {**CONFIG, "gobgpd": f"unix://{gobgpd}", "speaker_groups": [CONFIG["speaker_groups"][0]]}  # type: ignore[index]
    with GobgpClient(str(gobgpd)) as client:
        client.wait_ready(10)
        Reconciler(client, desired_config(RrConfig.model_validate(raw))).reconcile(give_up_after=10)
        before = client.observe()
        # the operator moves the router-id: plan and apply say what differs, and change nothing
        config = tmp_path / "rr.yaml"
        config.write_text(yaml.safe_dump({**raw, "router_id": "10.0.0.7"}))
        for command in ("plan", "apply"):
            done = run("rr.main", command, "--config", str(config), "--wait", "5")
            assert done.returncode == 2, done.stderr
            assert done.stderr.strip().splitlines()[-1] == (
                f"lbroute-rr: unix://{gobgpd}: gobgpd runs BGP with other global settings "
                "(router_id 10.0.0.2 -> 10.0.0.7); restart gobgpd to apply them; nothing changed"
            )
        assert client.observe() == before
        # why: once BGP is stopped, gobgpd 4.8 answers nothing but "server stopped"
        client.apply(bgp.StopBgp("a test"))
        for call in (lambda: client.apply(bgp.StartBgp(before.global_)), client.observe):  # type: ignore[arg-type]
            with pytest.raises(GobgpRejected, match="server stopped") as info:
                call()
            assert info.value.status == "UNKNOWN"
