"""Explicit LB peers from Kubernetes (pure part and informer-driven), and the reconciler's
recovery paths: re-apply after a daemon restart, wake-ups, re-arming a dropped peer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from lbroute.core import bgp
from lbroute.core.events import PrefixesTouched, SessionReport, SnapshotDone, TouchedPath, WatchReport
from lbroute.core.guard import Guard
from lbroute.core.rib import Path
from lbroute.core.session import Session
from lbroute.gobgp.errors import GobgpUnavailable
from lbroute.polling import eventually
from rr.config import RrConfig
from rr.daemon_watch import DaemonWatch
from rr.desired import desired_config
from rr.kube_speakers import KubeSpeakers, pod_addresses, pod_speakers
from rr.metrics import RrMetrics
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.fakes.kube_api import FakeKubeApi
from tests.support.rr import KUBE_GROUP, KUBE_RR, NODES, POLICY_SWAP, RR, SECRETS, guards


def pod(name: str, ip: str | None, **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": extra.pop("phase", "Running")}
    if ip:
        status["podIP"] = ip
    meta = {"name": name, "namespace": "lb", "labels": {"app": extra.pop("app", "lb")}, **extra}
    return {"metadata": meta, "status": status}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([pod("a", "172.16.1.2"), pod("b", "172.16.2.2")], ("172.16.1.2", "172.16.2.2")),
        ([pod("a", None)], ()),  # not scheduled yet
        ([pod("a", "172.16.1.2", deletionTimestamp="2026-01-01T00:00:00Z")], ()),  # terminating
        ([pod("a", "172.16.1.2", phase="Failed"), pod("b", "172.16.2.2", phase="Succeeded")], ()),
        ([pod("a", "not-an-ip")], ()),
        ([pod("a", "fd00::2")], ("fd00::2",)),
    ],
    ids=["running", "no-ip", "terminating", "finished", "garbage", "ipv6"],
)
def test_pod_addresses(pods: list[dict[str, Any]], expected: tuple[str, ...]) -> None:
    assert pod_addresses({f"lb/{p['metadata']['name']}": p for p in pods}) == expected


def kube_desired(*ips: str) -> bgp.DaemonConfig:
    return desired_config(RrConfig.model_validate(KUBE_RR), secrets=SECRETS, speakers={"lb": ips})


def test_each_pod_is_a_passive_md5_peer_guarded_by_a_neighbor_set_of_its_address() -> None:
    d = kube_desired("172.16.2.2", "172.16.1.2")
    speakers = [p for p in d.peers if p.address.startswith("172.16.")]
    assert [p.address for p in speakers] == ["172.16.1.2", "172.16.2.2"]
    for p in speakers:
        assert p.session.passive and not p.session.route_reflector_client  # the router is the client
        assert p.session.auth_password == "s3cret"
        assert p.session.timers.hold_time == 3 and p.session.timers.keepalive == 1
    [neighbors] = [s for s in d.defined_sets if s.kind is bgp.SetKind.NEIGHBOR]
    assert neighbors.neighbors == ("172.16.1.2/32", "172.16.2.2/32")
    assert d.peer_groups == () and d.dynamic_neighbors == ()


def test_no_pods_no_speakers_and_no_guard_to_hold() -> None:
    d = kube_desired()
    assert [p.address for p in d.peers] == ["10.0.0.1"]
    assert d.policies == () and d.defined_sets == () and d.import_policies == ()


def test_a_pod_going_away_deletes_its_peer_before_shrinking_the_guard_set() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, kube_desired("172.16.1.2", "172.16.2.2")).reconcile_once()
    todo = Reconciler(daemon, kube_desired("172.16.1.2")).reconcile_once()
    described = [bgp.describe(op) for op in todo.operations]
    assert described[:2] == ["delete peer 172.16.2.2", "set neighbor-set lbroute-speakers-lb (1 entries)"]
    # the export and guard policies are rewritten with their set (gobgpd binds a set to a policy
    # when the policy is added): new ones beside the old, swapped in, the old deleted; nothing
    # sent again, nothing judged again (the pod's peer is gone, the others stay where they were)
    assert [d.split(" [")[0].split(" lbroute")[0] for d in described[2:]] == [
        "add policy",
        "add policy",
        "set global import policies",
        "set global export policies",
        "delete policy",
        "delete policy",
    ]


def test_a_new_pod_is_guarded_before_its_peer_exists() -> None:
    daemon = FakeGobgpd()
    Reconciler(daemon, kube_desired("172.16.1.2")).reconcile_once()
    todo = Reconciler(daemon, kube_desired("172.16.1.2", "172.16.3.2")).reconcile_once()
    # the export and guard policies that see the set's new member (gobgpd binds sets when a
    # policy is added) swapped in before the pod's peer exists: its first UPDATE meets them
    assert [type(op).__name__ for op in todo.operations] == [
        "SetDefinedSet",
        *POLICY_SWAP,
        "AddPeer",
    ]


def test_informer_snapshots_become_the_reconcilers_desired_state() -> None:
    api = FakeKubeApi().start()
    cfg = RrConfig.model_validate(
        {
            **KUBE_RR,
            "speaker_groups": [
                {**KUBE_GROUP, "kubernetes": {**KUBE_GROUP["kubernetes"], "api_server": api.url}}
            ],
        }  # type: ignore[dict-item]
    )
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(cfg, secrets=SECRETS))
    speakers = KubeSpeakers(
        cfg.speaker_groups,
        lambda: reconciler.desire(desired_config(cfg, secrets=SECRETS, speakers=speakers.members())),
        watch_timeout=2,
    )
    stop = threading.Event()
    runner = threading.Thread(target=reconciler.run, args=(3600.0, stop), daemon=True)
    try:
        api.put("pods", pod("lb-a", "172.16.1.2"))
        api.put("pods", pod("db", "172.16.9.2", app="db"))
        speakers.start()
        runner.start()

        def peers_are(*ips: str) -> None:
            got = sorted(p.address for p in daemon.config.peers if p.address.startswith("172.16."))
            assert got == list(ips)

        # the periodic resync is an hour away: only wake-ups can explain these passes
        eventually(lambda: peers_are("172.16.1.2"), 10, what="first pod peered")
        api.put("pods", pod("lb-b", "172.16.2.2"))
        eventually(lambda: peers_are("172.16.1.2", "172.16.2.2"), 10, what="second pod peered")
        api.delete("pods", "lb-a", namespace="lb")
        eventually(lambda: peers_are("172.16.2.2"), 10, what="deleted pod unpeered")
    finally:
        stop.set()
        reconciler.wake()
        speakers.stop()
        runner.join(5)
        api.stop()
    assert not runner.is_alive()


def test_a_restarted_daemon_gets_everything_back_in_one_pass() -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)))
    first = reconciler.reconcile_once()
    daemon.config = bgp.DaemonConfig(global_=None)  # what a kill -9 and a fresh gobgpd look like
    daemon.statements = set()
    again = reconciler.reconcile_once()
    assert again.operations == first.operations
    assert reconciler.reconcile_once().operations == ()


def test_rearm_replaces_only_peers_we_want() -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)))
    reconciler.reconcile_once()
    daemon.writes.clear()
    assert reconciler.rearm("10.0.0.1")
    assert daemon.writes == {"DeletePeer": 1, "AddPeer": 1}
    assert not reconciler.rearm("192.0.2.1")  # not ours to touch
    assert reconciler.reconcile_once().operations == ()


def test_nothing_is_reconciled_before_every_group_was_listed() -> None:
    api = FakeKubeApi().start()
    group = {**KUBE_GROUP, "kubernetes": {**KUBE_GROUP["kubernetes"], "api_server": api.url}}  # type: ignore[dict-item]
    cfg = RrConfig.model_validate({**KUBE_RR, "speaker_groups": [group]})
    speakers = KubeSpeakers(cfg.speaker_groups, lambda: None, watch_timeout=2)
    try:
        api.go_down()
        speakers.start()
        assert not speakers.wait_listed(0.3)  # an unknown group is not an empty group
        api.come_back()
        assert speakers.wait_listed(10)
        assert speakers.members() == {"lb": ()}
    finally:
        speakers.stop()
        api.stop()


def test_rearm_leaves_a_peer_whose_paths_graceful_restart_keeps() -> None:
    gr = {**RR, "neighbors": [{"address": "10.0.0.1", "add_path_send_max": 255, "graceful_restart": {}}]}
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(gr)))
    reconciler.reconcile_once()
    daemon.drop_session("10.0.0.1")
    daemon.writes.clear()
    # deleting it would drop the stale paths that keep forwarding while its daemon restarts
    assert not reconciler.rearm("10.0.0.1")
    assert daemon.writes == {}
    assert daemon.keeps_stale_paths("10.0.0.1")


def test_without_graceful_restart_a_dropped_session_keeps_nothing_and_is_rearmed() -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)))
    reconciler.reconcile_once()
    daemon.drop_session("10.0.0.1")
    assert not daemon.keeps_stale_paths("10.0.0.1")
    assert reconciler.rearm("10.0.0.1")


def test_peer_metrics_count_stale_paths_and_forget_peers_that_left() -> None:
    held = Session(
        "router", "10.0.0.2", 65021, "ACTIVE", None, 5, 5, None, 0, description="lbroute:rr", stale=5
    )
    metrics = RrMetrics.create()
    metrics.record_sessions([held])
    text = generate_latest(metrics.registry).decode()
    assert 'lbroute_rr_prefixes{group="lbroute:rr",kind="stale",peer="10.0.0.2"} 5.0' in text
    assert 'lbroute_rr_session_up{group="lbroute:rr",peer="10.0.0.2"} 0.0' in text
    metrics.record_sessions([])
    assert "10.0.0.2" not in generate_latest(metrics.registry).decode()


def test_the_metrics_count_what_the_fake_daemons_guard_rails_reject() -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)))
    reconciler.reconcile_once()
    daemon.establish("172.16.1.2")
    daemon.receive("172.16.1.2", ("10.1.1.1/32", "10.0.0.11"), ("0.0.0.0/0", "10.0.0.11"))
    reconciler.refresh_peer_metrics()
    text = generate_latest(reconciler.metrics.registry).decode()
    for kind, count in (("received", 2), ("accepted", 1), ("rejected", 1), ("stale", 0)):
        assert f'lbroute_rr_prefixes{{group="lb",kind="{kind}",peer="172.16.1.2"}} {count}.0' in text
    assert 'lbroute_rr_session_up{group="lb",peer="172.16.1.2"} 1.0' in text


class RecordingReconciler:
    """The two calls DaemonWatch makes of a Reconciler, recorded."""

    def __init__(self, spacing: float = 0.0) -> None:
        self.rearmed: list[str] = []
        self.refreshed = 0
        self.woken = 0
        self.metrics = RrMetrics.create()
        self.spacing = spacing  # what the refreshes' cost asks between two of them

    def rearm(self, address: str) -> bool:
        self.rearmed.append(address)
        return True

    def refresh_peer_metrics(self) -> None:
        self.refreshed += 1

    def metrics_spacing(self) -> float:
        return self.spacing

    def wake(self) -> None:
        self.woken += 1


def test_a_neighbor_that_restarts_is_rearmed_each_time_a_failing_one_every_30_s() -> None:
    now = [0.0]
    reconciler = RecordingReconciler()
    watch = DaemonWatch(None, reconciler, threading.Event(), clock=lambda: now[0])  # type: ignore[arg-type]

    def session(address: str, lasted: float, pause: float = 1.0) -> None:
        watch._handle(SessionReport(address, "ESTABLISHED"))
        now[0] += lasted
        watch._handle(SessionReport(address, "IDLE"))
        now[0] += pause

    # the RR restarted three times in 30 s: each session had been up for a while
    for _ in range(3):
        session("10.0.0.2", lasted=8.0)
    assert reconciler.rearmed == ["10.0.0.2"] * 3
    # a speaker cut off over its max-prefix limit a moment after each OPEN
    for _ in range(10):
        session("172.16.1.2", lasted=0.2)
    assert reconciler.rearmed.count("172.16.1.2") == 1
    now[0] += 30
    session("172.16.1.2", lasted=0.2)
    assert reconciler.rearmed.count("172.16.1.2") == 2


class ScriptedDaemon:
    """A gobgpd whose event streams are given: each watch yields its reports, then the daemon dies."""

    target = "fake://gobgpd"

    def __init__(self, streams: list[list[WatchReport]], stop: threading.Event) -> None:
        self.streams = streams
        self.stop = stop
        self.watched: list[bool] = []

    def watch(self, *, adj_in: bool = True) -> Iterator[WatchReport]:
        self.watched.append(adj_in)
        yield from self.streams.pop(0)
        raise GobgpUnavailable(self.target, "UNAVAILABLE", "Socket closed")

    def wait_ready(self, timeout: float) -> None:
        """Answering again at once while there are streams to give; after the last, the manager stops."""
        if not self.streams:
            self.stop.set()
            raise GobgpUnavailable(self.target, "UNAVAILABLE", f"not answering after {timeout:g}s")


def test_the_watch_logs_each_report_and_wakes_the_reconciler_when_gobgpd_is_back() -> None:
    stop = threading.Event()
    first = [
        SessionReport("10.0.0.1", "ESTABLISHED", initial=True),
        SnapshotDone(),
        PrefixesTouched(
            (TouchedPath("10.1.1.1/32", "172.16.1.2", False), TouchedPath("10.1.2.1/32", "", True))
        ),
        SessionReport("172.16.1.2", "ACTIVE"),
    ]
    daemon = ScriptedDaemon([first, [SessionReport("10.0.0.1", "ESTABLISHED", initial=True)]], stop)
    reconciler = RecordingReconciler()
    later: list[tuple[float, Any]] = []
    with capture_logs() as logs:
        watch = DaemonWatch(
            daemon, reconciler, stop, clock=lambda: 0.0, later=lambda s, f: later.append((s, f))
        )  # type: ignore[arg-type]
        watch.run()
    said = [(e["event"], e.get("peer"), e.get("prefix")) for e in logs]
    assert said == [
        ("rr.peer.up", "10.0.0.1", None),
        ("rr.prefix.changed", "172.16.1.2", "10.1.1.1/32"),
        ("rr.prefix.withdrawn", "", "10.1.2.1/32"),
        ("rr.peer.down", "172.16.1.2", None),
        ("rr.daemon.lost", None, None),
        ("rr.daemon.answering", None, None),
        ("rr.peer.up", "10.0.0.1", None),
        ("rr.daemon.lost", None, None),
    ]
    assert [e["error"] for e in logs if e["event"] == "rr.daemon.lost"] == ["UNAVAILABLE: Socket closed"] * 2
    assert daemon.watched == [False, False]  # best paths only: no word of every adj-RIB-in update
    assert reconciler.woken == 1
    assert (
        generate_latest(reconciler.metrics.registry).decode().count("lbroute_rr_daemon_reconnects_total 1.0")
        == 1
    )
    # every session report refreshes the metrics; table events at most every 0.5 s: the one right
    # after a session's refresh (the clock stands still here) is put off to when the 0.5 s are over
    assert reconciler.refreshed == 3
    [(seconds, refresh)] = later
    assert seconds == 0.5
    stop.clear()
    refresh()
    assert reconciler.refreshed == 4


def sessions_coming_up(spacing: float) -> tuple[RecordingReconciler, list[tuple[float, Any]]]:
    """64 sessions up 10 ms apart, with refreshes that ask ``spacing`` between them."""
    now = [100.0]
    later: list[tuple[float, Any]] = []
    reconciler = RecordingReconciler(spacing)
    watch = DaemonWatch(
        None, reconciler, threading.Event(), clock=lambda: now[0], later=lambda s, f: later.append((s, f))
    )  # type: ignore[arg-type]
    for i in range(64):
        watch._handle(SessionReport(f"172.16.{i}.2", "ESTABLISHED"))
        now[0] += 0.01
    return reconciler, later


def test_the_metrics_refresh_costs_its_share_of_the_time_and_no_more() -> None:
    """A refresh streams the whole RIB: on a large one, 64 sessions coming up must not cost 64
    reads of it. Cheap refreshes (spacing 0, the old behaviour) follow each session at once."""
    cheap, later = sessions_coming_up(0.0)
    assert (cheap.refreshed, later) == (64, [])
    costly, later = sessions_coming_up(3.0)
    assert costly.refreshed == 1
    # the other 63: one trailing refresh, asked for by the second, when the spacing is over
    [(seconds, refresh)] = later
    assert seconds == pytest.approx(3.0 - 0.01)
    refresh()
    assert costly.refreshed == 2


def test_the_reconciler_spaces_refreshes_by_what_the_last_one_cost() -> None:
    now = [0.0]
    daemon = FakeGobgpd()
    listed = daemon.list_sessions

    def slow_list_sessions(at: str, *, advertised: bool = True) -> list[Session]:
        now[0] += 0.25  # a 64 000-path RIB streamed: a quarter second
        return listed(at, advertised=advertised)

    daemon.list_sessions = slow_list_sessions  # type: ignore[method-assign]
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)), clock=lambda: now[0])
    assert reconciler.metrics_spacing() == 0.0  # none yet: nothing to hold the first back
    reconciler.refresh_peer_metrics()
    assert reconciler.metrics_spacing() == pytest.approx(2.5)  # 10 x 0.25 s: a tenth of the time


def test_a_burst_of_best_path_changes_is_one_counted_line_a_few_are_a_line_each() -> None:
    watch = DaemonWatch(
        None, RecordingReconciler(), threading.Event(), clock=lambda: 0.0, later=lambda s, f: None
    )  # type: ignore[arg-type]
    few = tuple(TouchedPath(f"10.1.0.{k}/32", "172.16.1.2", k == 0) for k in range(8))
    burst = tuple(TouchedPath(f"10.1.1.{k}/32", f"172.16.{k % 4}.2", k < 3) for k in range(200))
    with capture_logs() as logs:
        watch._handle(PrefixesTouched(few))
        watch._handle(PrefixesTouched(burst))
    assert [e["event"] for e in logs] == ["rr.prefix.withdrawn"] + ["rr.prefix.changed"] * 7 + [
        "rr.prefixes.touched"
    ]
    counted = logs[-1]
    assert (counted["changed"], counted["withdrawn"], counted["peers"]) == (197, 3, 4)
    assert counted["first"] == [f"10.1.1.{k}/32" for k in range(8)]


def test_max_prefix_shutdowns_are_counted_each_and_logged_once_per_ten_seconds_per_peer() -> None:
    now = [0.0]
    reconciler = RecordingReconciler()
    watch = DaemonWatch(None, reconciler, threading.Event(), clock=lambda: now[0])  # type: ignore[arg-type]
    with capture_logs() as logs:
        for _ in range(25):  # one cut-off every 0.5 s for 12.5 s
            watch._handle(SessionReport("172.16.1.2", "IDLE", max_prefix_shutdown=True))
            now[0] += 0.5
        # the start-of-watch snapshot repeats a state, not a new shutdown
        watch._handle(SessionReport("172.16.1.2", "IDLE", initial=True, max_prefix_shutdown=True))
    counted = reconciler.metrics.registry.get_sample_value(
        "lbroute_rr_max_prefix_shutdowns_total", {"peer": "172.16.1.2"}
    )
    assert counted == 25
    lines = [(e["peer"], e["count"]) for e in logs if e["event"] == "rr.peer.max_prefix_shutdown"]
    # the first at once, then one per 10 s with the shutdowns since (at 10.0 s: 20 of them)
    assert lines == [("172.16.1.2", 1), ("172.16.1.2", 20)]


# --- placement by the pod's node (status.hostIP) ----------------------------------------------


def placed_pod(name: str, ip: Any, **status: Any) -> dict[str, Any]:
    p = pod(name, None)
    p["status"].update({"podIP": ip, **status})
    return p


def test_pod_speakers_name_each_pods_host_ips_and_refuse_what_is_no_address() -> None:
    pods = [
        placed_pod("a", "172.16.1.2", hostIP="10.0.0.12"),
        placed_pod("b", "172.16.2.2", hostIPs=[{"ip": "10.0.0.12"}, {"ip": "fd00::12"}], hostIP="10.0.0.12"),
        placed_pod("c", "172.16.3.2"),  # the API has not said yet
        placed_pod("d", "172.16.4.2", hostIP="not-an-ip", hostIPs=[{"ip": 7}, "x"]),
        # ipaddress would read an integer as 0.0.0.5: no pod address, however the API spells it
        placed_pod("e", 5, hostIP="10.0.0.13"),
    ]
    assert pod_speakers({f"lb/{p['metadata']['name']}": p for p in pods}) == {
        "172.16.1.2": ("10.0.0.12",),
        "172.16.2.2": ("10.0.0.12", "fd00::12"),
        "172.16.3.2": (),
        "172.16.4.2": (),
    }


KUBE_NODES_RR = {**KUBE_RR, "nodes": NODES}


def reason(raw: dict[str, Any], next_hop: str, hosts: dict[str, tuple[str, ...]] | None) -> str | None:
    """Why the guard rails refuse pod 172.16.1.2 (inside node1's pod CIDR) announcing 10.1.1.1
    via ``next_hop``, with ``hosts`` from the API (None: the API names no host)."""
    d = desired_config(
        RrConfig.model_validate(raw), secrets=SECRETS, speakers={"lb": ("172.16.1.2",)}, hosts=hosts
    )
    return Guard(d).reason(Path("10.1.1.1/32", next_hop, "172.16.1.2"))


@pytest.mark.parametrize("raw", [KUBE_NODES_RR, KUBE_RR], ids=["nodes", "no-nodes"])
def test_a_pod_may_name_only_the_node_its_host_ip_says_it_runs_on(raw: dict[str, Any]) -> None:
    on_node2 = {"172.16.1.2": ("10.0.0.12",)}
    assert reason(raw, "10.0.0.12", on_node2) is None
    assert reason(raw, "10.0.0.11", on_node2) == "next-hop"
    assert reason(raw, "10.0.0.99", on_node2) == "next-hop"


def test_without_a_host_ip_the_config_places_the_pod_as_before() -> None:
    # by its pod CIDR with nodes (node1), by the node networks without
    assert reason(KUBE_NODES_RR, "10.0.0.11", None) is None
    assert reason(KUBE_NODES_RR, "10.0.0.12", None) == "next-hop"
    assert reason(KUBE_RR, "10.0.0.99", None) is None
    assert reason(KUBE_RR, "10.0.0.11", {"172.16.1.2": ()}) is None


def test_a_host_ip_outside_the_node_networks_is_no_next_hop_and_its_pod_on_no_known_node() -> None:
    for next_hop in ("192.168.9.9", "10.0.0.12"):
        assert reason(KUBE_RR, next_hop, {"172.16.1.2": ("192.168.9.9",)}) == "unknown-speaker"


def test_placed_and_unplaced_pods_of_one_node_share_its_statement() -> None:
    cfg = RrConfig.model_validate(KUBE_NODES_RR)
    # 172.16.2.2 is inside node2's pod CIDR and the API says nothing; 172.16.1.2 the API puts on node2
    d = desired_config(
        cfg,
        secrets=SECRETS,
        speakers={"lb": ("172.16.1.2", "172.16.2.2")},
        hosts={"172.16.1.2": ("10.0.0.12",)},
    )
    on_node2 = [s for s in d.defined_sets if s.name.endswith("-on-node2")]
    assert [s.neighbors for s in on_node2] == [("172.16.1.2/32", "172.16.2.2/32")]
    assert not [s for s in d.defined_sets if s.name.endswith("-on-node1")]


def kube_plan(before: dict[str, tuple[str, ...]], after: dict[str, tuple[str, ...]]) -> list[bgp.Operation]:
    """The plan from the pods ``before`` (pod IP -> host IPs) to ``after``, against a fake gobgpd
    that holds ``before``; asserts the plan leaves nothing to do."""
    cfg = RrConfig.model_validate(KUBE_NODES_RR)

    def want(pods: dict[str, tuple[str, ...]]) -> bgp.DaemonConfig:
        return desired_config(cfg, secrets=SECRETS, speakers={"lb": tuple(pods)}, hosts=pods)

    daemon = FakeGobgpd()
    Reconciler(daemon, want(before)).reconcile_once()
    ops = list(Reconciler(daemon, want(after)).reconcile_once().operations)
    assert bgp.plan(want(after), daemon.config).operations == ()
    return ops


def test_a_pod_the_api_moves_to_another_node_is_judged_again_and_no_one_else() -> None:
    before = {"172.16.1.2": ("10.0.0.11",), "172.16.1.3": ("10.0.0.11",), "172.16.2.2": ("10.0.0.12",)}
    ops = kube_plan(before, {**before, "172.16.1.3": ("10.0.0.12",)})
    assert [op for op in ops if isinstance(op, bgp.Rejudge)] == [bgp.Rejudge(("172.16.1.3",))]
    # the sets rewritten and a guard policy over them (same statements, other members) swapped in
    kinds = [type(op).__name__ for op in ops]
    assert kinds == [
        "SetDefinedSet",
        "SetDefinedSet",
        "AddPolicy",
        "SetImportPolicies",
        "DeletePolicy",
        "Rejudge",
    ]


def test_pods_that_come_and_go_on_known_nodes_cost_no_rejudge() -> None:
    before = {"172.16.1.2": ("10.0.0.11",), "172.16.1.3": ("10.0.0.11",), "172.16.2.2": ("10.0.0.12",)}
    came = kube_plan(before, {**before, "172.16.1.4": ("10.0.0.11",)})  # nothing received from it yet
    went = kube_plan(before, {k: v for k, v in before.items() if k != "172.16.1.3"})
    assert not [op for op in came + went if isinstance(op, bgp.Rejudge)], (came, went)
    # a pod on a node that had none changes the policy itself: everyone is judged again
    new_node = kube_plan(before, {**before, "172.16.9.2": ("10.0.0.19",)})
    assert new_node[-1] == bgp.Rejudge(), new_node


def test_pods_that_report_one_node_differently_share_every_address_it_has() -> None:
    # without nodes, dual-stack: one pod reports only the node's IPv4 (status.hostIP), another both
    group = {
        **KUBE_GROUP,
        "node_networks": ["10.0.0.0/24", "fd00::/64"],
        "vip_pools": ["10.1.0.0/16", "2001:db8:1::/48"],
    }
    cfg = RrConfig.model_validate({**KUBE_RR, "speaker_groups": [group]})
    d = desired_config(
        cfg,
        secrets=SECRETS,
        speakers={"lb": ("172.16.1.2", "172.16.1.3")},
        hosts={"172.16.1.2": ("10.0.0.12",), "172.16.1.3": ("10.0.0.12", "fd00::12")},
    )
    on_host = [s for s in d.defined_sets if s.name.endswith("-on-host-10-0-0-12")]
    assert [s.neighbors for s in on_host] == [("172.16.1.2/32", "172.16.1.3/32")]
    accepts = {st.name.removeprefix(p.name + "-"): st.next_hop_in for p in guards(d) for st in p.statements}
    assert accepts == {
        "host-10-0-0-12-accept": ("10.0.0.12/32",),
        "host-10-0-0-12-accept6": ("fd00::12/128",),
        "reject": (),
    }
