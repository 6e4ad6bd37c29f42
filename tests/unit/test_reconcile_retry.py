"""Transient gobgpd failures are retried, with a capped backoff and a log that speaks once per
state change; anything else surfaces at once. Errors are classified by type, never by text."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from lbroute.core import bgp
from lbroute.gobgp.client import error_of
from lbroute.gobgp.errors import GobgpRejected, GobgpUnavailable, is_transient
from rr import outage
from rr.reconcile import MAX_BACKOFF, SAY_EVERY, GlobalSettingsRefused, Reconciler, _Woken
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.rr import RR, desired

TARGET = FakeGobgpd.target


class FakeRpcError(grpc.RpcError):
    """What grpc raises for a failed call: a code and details."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"fake {self._code.name}"


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (grpc.StatusCode.UNAVAILABLE, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, True),
        (grpc.StatusCode.ABORTED, True),
        (grpc.StatusCode.UNKNOWN, False),  # gobgpd 4.8's answer to nearly every refusal
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.NOT_FOUND, False),
    ],
)
def test_grpc_failures_become_typed_errors_by_status_code(code: grpc.StatusCode, transient: bool) -> None:
    error = error_of("unix:///run/gobgp.sock", FakeRpcError(code))
    assert isinstance(error, GobgpUnavailable if transient else GobgpRejected)
    assert is_transient(error) is transient
    assert (error.target, error.status, str(error)) == (
        "unix:///run/gobgp.sock",
        code.name,
        f"{code.name}: fake {code.name}",
    )
    # the type decides, not the words: a rejection that says "unavailable" is still permanent
    assert not is_transient(GobgpRejected(TARGET, "UNKNOWN", "unavailable"))
    assert not is_transient(RuntimeError("UNAVAILABLE"))


def test_unavailable_is_retried_until_the_daemon_answers() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [GobgpUnavailable(TARGET, "UNAVAILABLE")] * 3
    waits: list[float] = []
    reconciler = Reconciler(daemon, desired(RR), sleep=waits.append)
    done = reconciler.reconcile(give_up_after=10)
    assert daemon.fail_next == []
    assert len(waits) == 3 and all(0 <= w <= MAX_BACKOFF for w in waits)
    assert len(done.operations) == 10
    assert daemon.config.global_ is not None


def test_a_rejection_is_not_retried() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [GobgpRejected(TARGET, "UNKNOWN", "no"), GobgpUnavailable(TARGET, "UNAVAILABLE")]
    waits: list[float] = []
    with pytest.raises(GobgpRejected):
        Reconciler(daemon, desired(RR), sleep=waits.append).reconcile()
    assert len(daemon.fail_next) == 1
    assert waits == []


class Clock:
    """A fake monotonic clock that the backoff's sleeps move forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def events(logs: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in logs if e["log_level"] != "debug"]


def test_a_dead_gobgpd_is_said_once_then_every_30_s_and_once_when_it_answers() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [GobgpUnavailable(TARGET, "UNAVAILABLE", "connection refused")] * 10_000
    clock = Clock()
    failures = 0

    def sleep(seconds: float) -> None:
        nonlocal failures
        failures += 1
        clock.sleep(seconds)
        if clock.now - 1000.0 >= 600:
            daemon.fail_next = []  # ten minutes later gobgpd answers again

    reconciler = Reconciler(daemon, desired(RR), sleep=sleep, clock=clock)
    with capture_logs() as logs:
        reconciler.reconcile()
    said = events(logs)
    # the retries back off to the cap: far fewer than the ~119 a minute of a 1 s cap
    assert all(w <= MAX_BACKOFF for w in clock.waits) and failures < 600 / (MAX_BACKOFF / 4)
    assert said[0] == "rr.outage.started"
    ongoing = [e for e in logs if e["event"] == "rr.outage.ongoing"]
    assert 600 / SAY_EVERY - 2 <= len(ongoing) <= 600 / SAY_EVERY  # one reminder per 30 s at most
    stamps = [e["seconds"] for e in ongoing]
    assert all(b - a >= SAY_EVERY - MAX_BACKOFF for a, b in itertools.pairwise(stamps))
    ended = [e for e in logs if e["event"] == "rr.outage.ended"]
    assert len(ended) == 1 and ended[0]["count"] == failures and ended[0]["seconds"] >= 600
    assert said.count("rr.outage.started") == 1
    # and a daemon that answers says nothing about outages
    with capture_logs() as logs:
        reconciler.reconcile()
    assert not [e for e in events(logs) if e.startswith("rr.outage")]


def test_the_outage_state_machine_step_by_step() -> None:
    state = outage.Outage()
    steps = [
        (outage.failed, 0.0, outage.Say.LOST),
        (outage.failed, 1.0, None),
        (outage.failed, 29.9, None),
        (outage.failed, 30.0, outage.Say.STILL),
        (outage.failed, 59.0, None),
        (outage.failed, 60.0, outage.Say.STILL),
    ]
    for step, now, expected in steps:
        state, say = step(state, now, 30.0)
        assert say == expected, (now, state)
    assert state.failures == 6 and state.seconds(61.0) == 61.0
    state, say = outage.answered(state)
    assert (state, say) == (outage.Outage(), outage.Say.BACK)
    assert outage.answered(state) == (outage.Outage(), None)  # no outage, nothing to say
    state, say = outage.failed(state, 100.0, 30.0)
    assert say is outage.Say.LOST and state.since == 100.0  # a new outage starts afresh


def test_a_wake_starts_the_backoff_over() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [GobgpUnavailable(TARGET, "UNAVAILABLE")] * 12
    clock = Clock()
    reconciler = Reconciler(daemon, desired(RR), clock=clock)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.waits) == 8:
            raise _Woken  # what the real sleep raises when wake() cuts it short

    reconciler._sleep = sleep
    reconciler.reconcile()
    # the first waits grow (0.05 * 2**n, full jitter); after the wake they start small again
    assert len(clock.waits) == 12
    assert max(clock.waits[8:10]) <= 0.2
    assert daemon.config.global_ is not None


def test_wake_cuts_a_backoff_wait_short() -> None:
    reconciler = Reconciler(FakeGobgpd(), desired(RR))
    reconciler.desire(reconciler.desired)  # nothing new: no wake-up pending
    assert not reconciler._wake.is_set()
    woken = threading.Event()

    def backoff() -> None:
        try:
            reconciler._sleep(3600)
        except _Woken:
            woken.set()

    threading.Thread(target=backoff, daemon=True).start()
    reconciler.wake()
    assert woken.wait(5), "a wake-up did not end the wait"


def test_give_up_after_0_tries_once() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [GobgpUnavailable(TARGET, "UNAVAILABLE")] * 100
    with pytest.raises(GobgpUnavailable), capture_logs() as logs:
        Reconciler(daemon, desired(RR)).reconcile(give_up_after=0)
    assert len(daemon.fail_next) == 99  # --wait 0: one attempt
    assert events(logs) == ["rr.outage.started"]


class RestartedByHand(FakeGobgpd):
    """A gobgpd that runs ``on_pass[n]`` when the manager's n-th pass observes it: here the
    operator's restart, and the wake-ups that ``DaemonWatch`` would give the manager."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0
        self.on_pass: list[Callable[[], None]] = []

    def observe(self) -> bgp.DaemonConfig:
        if self.passes < len(self.on_pass):
            self.on_pass[self.passes]()
        self.passes += 1
        return super().observe()


def test_other_global_settings_touch_nothing_until_gobgpd_is_restarted_then_all_is_applied() -> None:
    daemon = RestartedByHand()
    Reconciler(daemon, desired(RR)).reconcile_once()  # gobgpd runs with router-id 10.0.0.2
    before, writes = daemon.config, sum(daemon.writes.values())
    wanted = desired({**RR, "router_id": "10.0.0.3"})
    reconciler = Reconciler(daemon, wanted)
    said = r"router_id 10\.0\.0\.2 -> 10\.0\.0\.3\); restart gobgpd"
    with capture_logs() as logs:
        with pytest.raises(GlobalSettingsRefused, match=said):
            reconciler.reconcile_once()  # what ``lbroute-rr apply`` meets (main: exit 2)
        assert reconciler.rearm("10.0.0.1") is False  # a dropped peer is not re-armed either
    assert (daemon.config, sum(daemon.writes.values())) == (before, writes)
    assert events(logs) == ["rr.global.refused", "rr.peer.rearm_skipped"]
    text = generate_latest(reconciler.metrics.registry).decode()
    assert 'lbroute_rr_global_settings_differ{field="router_id"} 1.0' in text
    assert 'lbroute_rr_reconcile_errors_total{kind="refused"} 1.0' in text
    assert "lbroute_rr_config_stale 1.0" in text

    def operator_restarts_gobgpd() -> None:
        daemon.restart()
        reconciler.wake()

    stop = threading.Event()
    # run's passes: refused again (said no more), then gobgpd restarted, then a resync
    daemon.passes = 0
    daemon.on_pass = [reconciler.wake, operator_restarts_gobgpd, stop.set]
    with capture_logs() as logs:
        reconciler.run(3600, stop)  # woken each time: no wall-clock wait
    assert daemon.passes == 3
    assert [e for e in events(logs) if e.startswith("rr.global")] == ["rr.global.resolved"]
    # the restarted gobgpd got the whole new configuration, BGP started with the new router-id
    assert daemon.config.owned() == wanted.owned() and daemon.config.global_ != before.global_
    assert daemon.writes["StartBgp"] == 2 and daemon.writes["StopBgp"] == 0
    text = generate_latest(reconciler.metrics.registry).decode()
    assert 'lbroute_rr_reconcile_errors_total{kind="refused"} 2.0' in text
    assert "lbroute_rr_global_settings_differ{" not in text and "lbroute_rr_config_stale 0.0" in text
