"""Damping a speaker that keeps going over max-prefix: the pure rule (a table over cumulative
shutdowns), the rr manager's watch holding it down and letting it go on a fake clock, and the
desired configuration a hold implies for dynamic and explicit speakers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from lbroute.core import bgp, damping
from lbroute.core.events import SessionReport
from rr.config import RrConfig
from rr.daemon_watch import DaemonWatch
from rr.desired import desired_config
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.rr import KUBE_RR, RR, SECRETS
from tests.unit.test_rr_speakers_and_recovery import RecordingReconciler

RULES = damping.Damping(first=30, most=120, forget_after=600)


@pytest.mark.parametrize(
    ("shutdowns", "expected"),
    [
        # (when, held until, this hold's length, shutdowns in the series)
        ([0], [(30, 30, 1)]),
        ([0, 10], [(30, 30, 1), (30, 30, 1)]),  # a shutdown while held: gobgpd's own echo
        ([0, 30, 90], [(30, 30, 1), (90, 60, 2), (210, 120, 3)]),  # doubles at each release
        ([0, 30, 90, 210], [(30, 30, 1), (90, 60, 2), (210, 120, 3), (330, 120, 4)]),  # at most 120
        ([0, 30 + 600], [(30, 30, 1), (660, 30, 1)]),  # quiet for forget_after: starts over
        ([0, 30 + 599], [(30, 30, 1), (689, 60, 2)]),
    ],
)
def test_each_shutdown_after_a_hold_doubles_the_next_up_to_most_and_quiet_forgets(
    shutdowns: list[float], expected: list[tuple[float, float, int]]
) -> None:
    state: damping.State = {}
    seen = []
    for now in shutdowns:
        state = damping.record(state, "172.16.1.2", now, RULES)
        d = state["172.16.1.2"]
        seen.append((d.until, d.period, d.shutdowns))
    assert seen == expected


def test_held_follows_the_clock() -> None:
    state = damping.record(damping.record({}, "a", 0, RULES), "b", 10, RULES)
    assert damping.held(state, 20) == {"a", "b"}
    assert damping.held(state, 35) == {"b"}
    assert damping.held(state, 40) == frozenset()


def watch_on(now: list[float]) -> tuple[DaemonWatch, list[tuple[float, Callable[[], None]]], list[int]]:
    later: list[tuple[float, Callable[[], None]]] = []
    calls = [0]
    watch = DaemonWatch(
        None,  # type: ignore[arg-type]
        RecordingReconciler(),  # type: ignore[arg-type]
        threading.Event(),
        clock=lambda: now[0],
        later=lambda s, f: later.append((s, f)),
    )

    def damped() -> None:
        calls[0] += 1

    watch.on_damp = damped
    return watch, later, calls


def cut_off(watch: DaemonWatch, address: str = "172.16.1.2") -> None:
    watch._handle(SessionReport(address, "ESTABLISHED"))
    watch._handle(SessionReport(address, "IDLE", max_prefix_shutdown=True))


def test_the_watch_holds_a_speaker_down_after_a_max_prefix_shutdown_and_lets_it_go_after() -> None:
    now = [100.0]
    watch, later, calls = watch_on(now)
    with capture_logs() as logs:
        cut_off(watch)
        now[0] += 0.04
        cut_off(watch)  # gobgpd's next cut-off before the hold took: no second hold
    assert watch.held() == {"172.16.1.2"} and calls == [1]
    damped = [(e["peer"], e["seconds"], e["count"]) for e in logs if e["event"] == "rr.peer.damped"]
    assert damped == [("172.16.1.2", 30.0, 1)]
    assert [s for s, _ in later if s == 30.0] == [30.0]
    metrics = watch.reconciler.metrics.registry
    assert metrics.get_sample_value("lbroute_rr_damped_seconds", {"peer": "172.16.1.2"}) == 30.0
    # no re-arm for a peer held down on purpose
    assert watch.reconciler.rearmed == []  # type: ignore[attr-defined]
    now[0] += 30
    release = next(f for s, f in later if s == 30.0)
    release()
    assert watch.held() == frozenset() and calls == [2]
    assert metrics.get_sample_value("lbroute_rr_damped_seconds", {"peer": "172.16.1.2"}) == 0.0
    # over the limit again: held for twice as long
    cut_off(watch)
    assert watch.held() == {"172.16.1.2"} and calls == [3] and later[-1][0] == 60.0


def test_a_release_timer_of_an_earlier_hold_does_not_end_a_later_one() -> None:
    now = [0.0]
    watch, later, calls = watch_on(now)
    cut_off(watch)
    now[0] = 30.0
    cut_off(watch)  # held again, for 60 s, at the very moment the first hold ended
    first_release = later[0][1]
    first_release()
    assert watch.held() == {"172.16.1.2"} and calls == [2]


def held_peers(d: bgp.DaemonConfig) -> dict[str, tuple[bool, str]]:
    return {p.address: (p.admin_down, p.session.description) for p in d.peers if p.address.startswith("172.")}


def test_a_held_dynamic_speaker_is_an_explicit_admin_down_peer_and_only_inside_its_range() -> None:
    cfg = RrConfig.model_validate(RR)
    assert held_peers(desired_config(cfg)) == {}
    d = desired_config(cfg, held=frozenset({"172.16.1.2", "192.168.1.1"}))
    assert held_peers(d) == {"172.16.1.2": (True, "lbroute:held:lb")}
    # the hold is a peer of its own; the range still admits everyone else
    assert [g.name for g in d.peer_groups] == ["lb"] and d.dynamic_neighbors


def test_a_held_explicit_speaker_is_its_own_peer_in_admin_state_down() -> None:
    cfg = RrConfig.model_validate(KUBE_RR)
    pods: dict[str, Any] = {"lb": ("172.16.1.2", "172.16.2.2")}
    d = desired_config(cfg, secrets=SECRETS, speakers=pods, held=frozenset({"172.16.2.2"}))
    assert {a: down for a, (down, _) in held_peers(d).items()} == {"172.16.1.2": False, "172.16.2.2": True}
    plan = bgp.plan(d, desired_config(cfg, secrets=SECRETS, speakers=pods))
    assert [bgp.describe(op) for op in plan.operations] == ["update peer 172.16.2.2"]


def test_a_release_timer_that_fires_early_looks_again_when_the_hold_ends() -> None:
    now = [0.0]
    watch, later, calls = watch_on(now)
    cut_off(watch)
    now[0] = 29.5  # the timer thread woke half a second early
    later[0][1]()
    assert watch.held() == {"172.16.1.2"} and calls == [1]
    assert later[-1][0] == pytest.approx(0.5)
    now[0] = 30.0
    later[-1][1]()
    assert watch.held() == frozenset() and calls == [2]


def test_a_dynamic_hold_released_leaves_nothing_behind_in_the_daemon() -> None:
    cfg = RrConfig.model_validate(RR)
    daemon = FakeGobgpd()
    Reconciler(daemon, desired_config(cfg)).reconcile_once()
    Reconciler(daemon, desired_config(cfg, held=frozenset({"172.16.1.2"}))).reconcile_once()
    assert [(p.address, p.admin_down) for p in daemon.config.peers if p.address == "172.16.1.2"] == [
        ("172.16.1.2", True)
    ]
    released = Reconciler(daemon, desired_config(cfg)).reconcile_once()
    assert [bgp.describe(op) for op in released.operations] == ["delete peer 172.16.1.2"]
    assert bgp.plan(desired_config(cfg), daemon.config).operations == ()
