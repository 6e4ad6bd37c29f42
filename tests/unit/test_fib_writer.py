"""The resilient FIB writer's passes with a fake gobgpd RIB and a fake kernel, on fake clocks: it
follows the RIB, re-reads only what changed, and holds the kernel while gobgpd is away or has
not learned its RIB yet (fail static), for at most the hold limit."""

from __future__ import annotations

import pathlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from lbroute.core import bgp
from lbroute.core import nexthop_groups as ng
from lbroute.core.rib import GRACEFUL_SHUTDOWN, Path
from lbroute.core.session import Session
from lbroute.gobgp.errors import GobgpRejected, GobgpUnavailable
from lbroute.kernel import nexthops
from lbroute.kernel.ip import IpCommandError
from rr import fib_hold
from rr.fib_writer import FibWriter
from rr.reconcile import MAX_BACKOFF
from tests.fakes.kernel_fib import FakeKernel

A, B, C = "10.0.0.11", "10.0.0.12", "10.0.0.13"
VIP, API = "10.1.1.1/32", "10.1.2.1/32"
RR = "10.0.0.2"
SETTINGS = ng.GroupSettings(ng.Resilient(16, 60, 0), 200, 1000, 1999)
SETTLE, LIMIT = 5.0, 90.0


@dataclass
class FakeRib:
    """gobgpd's RIB and sessions as the writer reads them; it counts what it was asked."""

    target: str = "fake://router"
    paths: list[Path] = field(default_factory=list)
    up_since: float | None = 0.0  # the RR session's uptime (epoch); None: not established
    answering: bool = True
    started: bool = True  # BGP started in it (before that, gobgpd refuses reads)
    asked: list[tuple[str, ...]] = field(default_factory=list)

    def _check(self) -> None:
        if not self.answering:
            raise GobgpUnavailable(self.target, "UNAVAILABLE", "connection refused")
        if not self.started:
            raise GobgpRejected(self.target, "UNKNOWN", "bgp server hasn't started yet")

    def list_paths(
        self,
        family: bgp.Family = bgp.Family.IPV4_UNICAST,
        *,
        prefixes: tuple[str, ...] = (),
        ordered: bool = True,
    ) -> list[Path]:
        self._check()
        self.asked.append(prefixes)
        six = family is bgp.Family.IPV6_UNICAST
        return [p for p in self.paths if (":" in p.prefix) == six and (not prefixes or p.prefix in prefixes)]

    def list_sessions(self, at: str, *, advertised: bool = True) -> list[Session]:
        self._check()
        state = "ESTABLISHED" if self.up_since is not None else "ACTIVE"
        return [Session(at, RR, 65021, state, self.up_since, 0, 0, None, 9)]


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def path(prefix: str, hop: str, *communities: str) -> Path:
    return Path(prefix, hop, RR, communities=communities)


def setup() -> tuple[FakeRib, FakeKernel, Clock, FibWriter]:
    rib = FakeRib(paths=[path(VIP, A), path(VIP, B), path(VIP, C), path(API, A)])
    kernel = FakeKernel()
    kernel.connect("10.0.0.0/24", "eth0")
    clock = Clock()
    writer = FibWriter(rib, kernel, SETTINGS, settle=SETTLE, hold_limit=LIMIT, clock=clock, wall=clock)
    return rib, kernel, clock, writer


def hops(kernel: FakeKernel, prefix: str) -> dict[str, int]:
    route = kernel.routes.get((prefix, ng.ROUTE_METRIC))
    if route is None:
        return {}
    assert route.nhid is not None
    return {kernel.nexthops[m.id].gateway: m.weight for m in kernel.groups[route.nhid].members}


W = ng.NORMAL_WEIGHT


def test_the_first_pass_writes_the_whole_rib_and_a_pass_with_nothing_new_writes_nothing() -> None:
    rib, kernel, _, writer = setup()
    writer.pass_once()
    assert hops(kernel, VIP) == {A: W, B: W, C: W} and hops(kernel, API) == {A: W}
    assert rib.asked == [(), ()]  # both families, whole
    writes = kernel.writes
    writer.resync()
    assert writer.pass_once() == ng.FibPlan()
    assert kernel.writes == writes


def test_a_touched_prefix_is_re_read_alone_and_a_draining_path_gets_the_smallest_weight() -> None:
    rib, kernel, _, writer = setup()
    writer.pass_once()
    rib.paths = [path(VIP, A), path(VIP, B), path(VIP, C, GRACEFUL_SHUTDOWN), path(API, A)]
    writer.touched((VIP,))
    writer.pass_once()
    assert rib.asked[-1] == (VIP,)
    assert hops(kernel, VIP) == {A: W, B: W, C: ng.DRAINING_WEIGHT}
    rib.paths = [path(VIP, A), path(VIP, B)]
    writer.touched((VIP, API))
    writer.pass_once()
    assert hops(kernel, VIP) == {A: W, B: W} and hops(kernel, API) == {}


def test_a_restarted_gobgpd_is_held_until_a_session_has_settled_and_then_nothing_moves() -> None:
    rib, kernel, clock, writer = setup()
    writer.pass_once()
    before = kernel.observe(), {g: list(b) for g, b in kernel.buckets.items()}
    # gobgpd dies: its stream ends; while it is away, nothing is written
    rib.answering = False
    writer.lost()
    assert writer.pass_once() is None and writer.hold.since == clock.now
    # a new gobgpd answers with an empty RIB, then its session comes up and the RR sends
    rib.answering, rib.up_since, kept = True, None, rib.paths
    rib.paths = []
    writer.answering()
    clock.now += 1
    assert writer.pass_once() is None
    rib.up_since, rib.paths = clock.now, kept[:2]  # the table is still coming in
    clock.now += SETTLE - 0.5
    assert writer.pass_once() is None
    rib.paths = kept
    clock.now += 0.5
    writer.pass_once()
    assert writer.hold == fib_hold.Hold()
    after = kernel.observe(), {g: list(b) for g, b in kernel.buckets.items()}
    assert after == before and kernel.moved == 0


def test_a_manager_started_beside_a_settled_gobgpd_writes_at_once_and_nothing_moves() -> None:
    rib, kernel, clock, writer = setup()
    rib.up_since = clock.now - 1  # the session came up a second ago, but the kernel has nothing to keep
    assert writer.pass_once() is not None and hops(kernel, VIP) == {A: W, B: W, C: W}
    # a new manager: the session has been up for long, the kernel is as it should be
    writes = kernel.writes
    rib.up_since = clock.now - SETTLE
    again = FibWriter(rib, kernel, SETTINGS, settle=SETTLE, hold_limit=LIMIT, clock=clock, wall=clock)
    assert again.pass_once() == ng.FibPlan() and kernel.writes == writes


def test_a_manager_started_beside_a_fresh_session_holds_what_the_kernel_has() -> None:
    rib, kernel, clock, writer = setup()
    writer.pass_once()
    writes = kernel.writes
    rib.up_since, rib.paths = clock.now - 1, rib.paths[:1]  # its table may be partial
    again = FibWriter(rib, kernel, SETTINGS, settle=SETTLE, hold_limit=LIMIT, clock=clock, wall=clock)
    assert again.pass_once() is None and kernel.writes == writes
    clock.now += SETTLE
    again.pass_once()
    assert hops(kernel, VIP) == {A: W}


def test_a_hold_is_released_after_the_limit_and_with_gobgpd_gone_our_routes_go() -> None:
    rib, kernel, clock, writer = setup()
    writer.pass_once()
    rib.answering = False
    writer.lost()
    writer.pass_once()
    clock.now += LIMIT - 1
    assert writer.pass_once() is None and hops(kernel, VIP) == {A: W, B: W, C: W}
    clock.now += 1
    writer.pass_once()
    assert hops(kernel, VIP) == {} and not kernel.groups and not kernel.nexthops


def refusing(kernel: FakeKernel, returncode: int) -> Callable[[], None]:
    """Make ``kernel`` refuse every write as ``ip`` does with ``returncode``; returns the undo."""

    def refuse(ops: tuple[ng.Operation, ...], settings: ng.GroupSettings) -> int:
        raise IpCommandError(["ip", "-batch", "-"], "Command failed -:1", returncode)

    real = kernel.apply
    kernel.apply = refuse  # type: ignore[method-assign]

    def undo() -> None:
        kernel.apply = real  # type: ignore[method-assign]

    return undo


@pytest.fixture
def highest_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backoff's full jitter always at its top, so its waits are known."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


@pytest.mark.usefixtures("highest_jitter")
def test_a_refused_write_is_tried_again_whole_after_a_growing_backoff_said_once() -> None:
    _, kernel, clock, writer = setup()
    undo = refusing(kernel, 1)
    waits = []
    with capture_logs() as logs:
        for _ in range(9):
            assert writer.pass_once() is None and writer.retry_at is not None
            waits.append(round(writer.retry_at - clock.now, 3))
            clock.now = writer.retry_at - 0.001
            assert writer.pass_once() is None and kernel.writes == 0  # not yet
            clock.now += 0.001
        assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, MAX_BACKOFF, MAX_BACKOFF]
        undo()
        writer.pass_once()
        assert hops(kernel, VIP) == {A: W, B: W, C: W} and writer.refusals == 0
    said = [e["event"] for e in logs if e["log_level"] != "debug" and e["event"].startswith("rr.fib.apply")]
    assert said == ["rr.fib.apply_failed", "rr.fib.apply_recovered"]
    # the backoff starts over after a success
    refusing(kernel, 1)
    writer.resync()
    writer.pass_once()
    assert writer.retry_at == clock.now + 0.05


@pytest.mark.usefixtures("highest_jitter")
@pytest.mark.parametrize("cause", ["unparsed", "no CAP_NET_ADMIN"])
def test_a_refusal_no_retry_mends_waits_the_longest_and_is_said_once_as_such(
    cause: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    _, kernel, clock, writer = setup()
    if cause == "unparsed":
        refusing(kernel, 255)  # iproute2 without ``type resilient`` exits so
    else:
        status = tmp_path / "status"
        status.write_text("Name:\tlbroute-rr\nCapEff:\t0000000000000000\n")
        real = nexthops.may_admin_network
        monkeypatch.setattr(nexthops, "may_admin_network", lambda: real(status))
        refusing(kernel, 1)  # EPERM: ``ip`` exits 1, as for any netlink refusal
    with capture_logs() as logs:
        for _ in range(3):
            writer.pass_once()
            assert writer.retry_at == clock.now + MAX_BACKOFF
            clock.now += MAX_BACKOFF
    said = [e["event"] for e in logs if e["log_level"] != "debug"]
    assert said == ["rr.fib.apply_refused"]


def test_the_capability_is_read_from_the_kernels_bitmask(tmp_path: pathlib.Path) -> None:
    status = tmp_path / "status"
    status.write_text("CapEff:\t0000000000001000\n")  # bit 12
    assert nexthops.may_admin_network(status)
    status.write_text("CapEff:\t000001ffffffefff\n")  # everything but bit 12
    assert not nexthops.may_admin_network(status)


class RecordingWake:
    """The writer's wake-up event, recording how long each wait would have been."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


def test_a_hold_looks_at_the_sessions_every_second_until_released_then_waits_for_news() -> None:
    rib, _, clock, writer = setup()
    writer.pass_once()
    wake = RecordingWake()
    writer._wake = wake  # type: ignore[assignment]
    rib.up_since = None  # gobgpd back, but no session ever comes up
    writer.answering()
    writer.pass_once()
    writer.wait(30.0)
    assert writer.hold.since == clock.now and wake.waits == [1.0]
    clock.now += LIMIT
    writer.pass_once()
    assert writer.hold.released
    writer.wait(30.0)
    assert wake.waits == [1.0, 30.0]


@pytest.mark.parametrize(
    ("hold", "whole", "now", "expected"),
    [
        (fib_hold.Hold(), True, 0, (fib_hold.Hold(), fib_hold.Verdict.WRITE, None)),
        (fib_hold.Hold(), False, 5, (fib_hold.Hold(5), fib_hold.Verdict.HOLD, fib_hold.Say.STARTED)),
        (fib_hold.Hold(5), False, 94, (fib_hold.Hold(5), fib_hold.Verdict.HOLD, None)),
        (
            fib_hold.Hold(5),
            False,
            95,
            (fib_hold.Hold(5, True), fib_hold.Verdict.RELEASE, fib_hold.Say.RELEASED),
        ),
        (fib_hold.Hold(5, True), False, 99, (fib_hold.Hold(5, True), fib_hold.Verdict.RELEASE, None)),
        (fib_hold.Hold(5, True), True, 99, (fib_hold.Hold(), fib_hold.Verdict.WRITE, fib_hold.Say.ENDED)),
        (fib_hold.Hold(5), True, 9, (fib_hold.Hold(), fib_hold.Verdict.WRITE, fib_hold.Say.ENDED)),
    ],
)
def test_hold_decisions(
    hold: fib_hold.Hold,
    whole: bool,
    now: float,
    expected: tuple[fib_hold.Hold, fib_hold.Verdict, fib_hold.Say],
) -> None:
    assert fib_hold.decide(hold, whole, now, 90) == expected
    assert fib_hold.due(expected[0], 90) == (
        None if expected[0].since is None or expected[0].released else 95
    )


def test_learned_needs_an_established_session_up_for_the_settle_time() -> None:
    def session(state: str, since: float | None) -> Session:
        return Session("router", RR, 65021, state, since, 0, 0, None, 9)

    assert fib_hold.learned([session("ESTABLISHED", 95)], 100, 5)
    assert not fib_hold.learned([session("ESTABLISHED", 96)], 100, 5)
    assert not fib_hold.learned([session("ACTIVE", 10)], 100, 5)
    assert fib_hold.learned([session("ACTIVE", 10), session("ESTABLISHED", 1)], 100, 5)
    assert not fib_hold.learned([session("ESTABLISHED", None)], 100, 5)


def test_once_it_follows_the_rib_it_goes_on_following_while_the_session_settles() -> None:
    rib, kernel, clock, writer = setup()
    rib.up_since = clock.now  # a first start: the kernel has nothing, the RIB comes in
    rib.paths = [path(VIP, A)]
    writer.pass_once()
    rib.paths = [path(VIP, A), path(VIP, B)]
    writer.touched((VIP,))
    clock.now += 0.1
    assert writer.pass_once() is not None and hops(kernel, VIP) == {A: W, B: W}


def test_a_gobgpd_that_has_not_started_bgp_yet_is_read_again_a_second_later() -> None:
    rib, kernel, clock, writer = setup()
    rib.started = False
    assert writer.pass_once() is None and writer.retry_at == clock.now + 1 and kernel.writes == 0
    rib.started = True
    clock.now += 1
    writer.pass_once()
    assert hops(kernel, VIP) == {A: W, B: W, C: W}
