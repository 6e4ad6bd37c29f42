"""The announcer's lifecycle, table-tested over cumulative steps (every step's effects), and a
property test with hypothesis over random event sequences and exabgp answers.

Each table row is (now, event, the effects of that step); ``ACK``/``NACK``/``UNSURE`` stand for
exabgp's answer to the last ``Converge`` (all done / one refused / done but a route left in
doubt). Effects are shown short: ``converge +10.1.1.1/32`` (the set to announce), ``reply 1
withdrawn``, ``web up>down``, a log event without its ``announcer.`` prefix.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from announcer.config import AnnouncerConfig
from announcer.health import Phase
from announcer.kube_view import KubeUpdate
from announcer.lifecycle import (
    RETRY_SECONDS,
    Close,
    Connections,
    Converge,
    Converged,
    DrainRequested,
    Effect,
    Event,
    Exit,
    Log,
    MaintenanceFile,
    MaintenanceSignal,
    PhaseChanged,
    ProbeResult,
    Reply,
    Started,
    State,
    Tick,
    WriteDrainMarker,
    deadline,
    initial,
    static_routes,
    step,
)
from announcer.state import GRACEFUL_SHUTDOWN, NextHops, Route

NH = "10.0.0.11"
HOPS = NextHops(NH)
ACK, NACK, UNSURE = "ack", "nack", "unsure"


def config(**extra: Any) -> AnnouncerConfig:
    data: dict[str, Any] = {
        "next_hop": NH,
        "drain_seconds": 5,
        "services": [{"name": "web", "vips": ["10.1.1.1/32"]}],
        **extra,
    }
    return AnnouncerConfig.model_validate(data)


CHECK = {"kind": "exec", "command": ["/bin/true"], "rise": 2, "fall": 2}
CHECKED = config(services=[{"name": "web", "vips": ["10.1.1.1/32"], "check": CHECK}])
UNCHECKED = config()
KUBE = config(
    services=[
        {
            "name": "web",
            "kubernetes": {"namespace": "web", "name": "front", "withdraw_without_endpoints": True},
        }
    ]
)


def short(effect: Effect) -> str:
    if isinstance(effect, Converge):
        parts = [
            f"+{r.prefix}" + (f"[{' '.join(r.communities)}]" if r.communities else "")
            for r in sorted(effect.desired)
        ]
        parts += [f"hold {p}" for p in sorted(effect.hold)]
        return "converge " + (" ".join(parts) or "-")
    if isinstance(effect, Reply):
        return f"reply {effect.request} {effect.line}"
    if isinstance(effect, Close):
        return f"close {effect.request}"
    if isinstance(effect, WriteDrainMarker):
        return "marker"
    if isinstance(effect, PhaseChanged):
        return f"{effect.service} {effect.was.value}>{effect.phase.value}"
    if isinstance(effect, Log):
        return effect.event.removeprefix("announcer.")
    assert isinstance(effect, Exit)
    return "exit"


def answer(kind: str, converge: Converge) -> Converged:
    return Converged(converge, ok=kind != NACK, certain=kind != UNSURE, announced=len(converge.desired))


def run(
    cfg: AnnouncerConfig, steps: Sequence[tuple[float, Event | str]], hops: NextHops = HOPS
) -> list[list[str]]:
    state = initial(cfg, hops)
    last: Converge | None = None
    out = []
    for now, event in steps:
        if isinstance(event, str):
            assert last is not None, "an answer needs a converge before it"
            event = answer(event, last)
        state, effects = step(state, event, now)
        last = next((e for e in reversed(effects) if isinstance(e, Converge)), last)
        out.append([short(e) for e in effects])
    return out


UP = "converge +10.1.1.1/32"
MARKED = "converge +10.1.1.1/32[65535:0]"
NONE = "converge -"
GSHUT = config(drain_graceful_shutdown=True)
GSHUT_IDLE = config(drain_graceful_shutdown=True, drain_ends_when_idle=True)
OK, BAD = ProbeResult("web", True), ProbeResult("web", False)

TABLE: list[tuple[str, AnnouncerConfig, list[tuple[float, Event | str, list[str]]]]] = [
    (
        "no-check-is-healthy-at-start-and-converges-once",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, ACK, []),
            (0.1, Tick(), []),
        ],
    ),
    (
        "a-burst-of-events-converges-once-at-the-tick",
        CHECKED,
        [
            (0, Started(), []),
            (0.1, OK, []),
            (0.2, OK, ["web init>up"]),
            (0.3, Tick(), [UP]),
            (0.3, ACK, []),
        ],
    ),
    (
        "init-holds-what-exabgp-may-have",
        CHECKED,
        [
            (0, Started(), []),
            (0, Tick(), ["converge hold 10.1.1.1/32"]),  # undecided: neither announced nor withdrawn
            (0, ACK, []),
            (0.1, BAD, []),
            (0.2, BAD, ["web init>down"]),
            (0.3, Tick(), [NONE]),
        ],
    ),
    (
        "a-failed-converge-is-retried-a-second-later-with-the-latest-set",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, NACK, []),
            (0.5, Tick(), []),
            (0.99, Tick(), []),  # not yet
            (1.0, Tick(), [UP]),
            (1.0, ACK, []),
        ],
    ),
    (
        "socket-drain-withdraws-then-marks-then-waits-for-the-ack-then-the-period",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, ACK, []),
            (1, DrainRequested(request=1), ["drain.started", "web up>draining"]),
            (1.1, Tick(), [NONE, "marker"]),
            (1.2, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),
            (6.1, Tick(), []),
            (6.2, Tick(), ["drain.done", "reply 1 drained", "close 1"]),
            (7, Tick(), []),
        ],
    ),
    (
        "clients-after-the-withdrawal-and-after-the-end-get-their-answers",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, DrainRequested(request=1), ["drain.started", "web up>draining"]),
            (0, Tick(), [NONE, "marker"]),
            (0, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),
            (1, DrainRequested(request=2), ["reply 2 withdrawn"]),
            (5, Tick(), ["drain.done", "reply 1 drained", "close 1", "reply 2 drained", "close 2"]),
            (6, DrainRequested(request=3), ["reply 3 withdrawn", "reply 3 drained", "close 3"]),
        ],
    ),
    (
        "sigterm-drains-and-exits-once-the-period-is-over",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, ACK, []),
            (1, DrainRequested(exit=True), ["drain.started", "web up>draining"]),
            (1, Tick(), [NONE, "marker"]),
            (1, ACK, ["drain.withdrawn"]),
            (6, Tick(), ["drain.done", "exit"]),
        ],
    ),
    (
        "sigterm-after-a-socket-drain-is-over-exits-at-once-and-only-once",
        UNCHECKED,
        [
            (0, DrainRequested(request=1), ["drain.started", "web init>draining"]),
            (0, Tick(), [NONE, "marker"]),
            (0, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),
            (5, Tick(), ["drain.done", "reply 1 drained", "close 1"]),
            (9, DrainRequested(exit=True), ["exit"]),
            (9, DrainRequested(exit=True), []),
        ],
    ),
    (
        "an-unacknowledged-withdrawal-is-not-withdrawn-retried-then-acknowledged",
        UNCHECKED,
        [
            (0, DrainRequested(request=1), ["drain.started", "web init>draining"]),
            (0, Tick(), [NONE, "marker"]),
            (0, NACK, []),
            (1, Tick(), [NONE]),
            (1, UNSURE, []),  # all done, but a route may still be in exabgp: not withdrawn yet
            (1.5, Tick(), []),
            (2, Tick(), [NONE]),  # tried again a second later
            (2, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),
        ],
    ),
    (
        "drain-seconds-zero-ends-the-drain-with-the-ack",
        config(drain_seconds=0),
        [
            (0, DrainRequested(request=1, exit=True), ["drain.started", "web init>draining"]),
            (0, Tick(), [NONE, "marker"]),
            (
                0,
                ACK,
                ["drain.withdrawn", "reply 1 withdrawn", "drain.done", "reply 1 drained", "close 1", "exit"],
            ),
        ],
    ),
    (
        "a-respawn-during-a-drain-stays-drained-and-does-not-write-the-marker-again",
        UNCHECKED,
        [
            (0, Started(drain_marker=True), ["drain.resumed", "drain.started", "web init>draining"]),
            (0, Tick(), [NONE]),
            (0, ACK, ["drain.withdrawn"]),
            (0.1, OK, []),  # draining is terminal
            (0.2, Tick(), []),
        ],
    ),
    (
        "maintenance-file-and-signal-withdraw-and-an-unchecked-service-returns",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, ACK, []),
            (1, MaintenanceFile(present=True), ["maintenance", "web up>disabled"]),
            (1, Tick(), [NONE]),
            (1, ACK, []),
            (2, MaintenanceSignal(on=True), ["maintenance.signal"]),  # already on: nothing changes
            (3, MaintenanceFile(present=False), []),  # the signal still holds it
            (
                4,
                MaintenanceSignal(on=False),
                ["maintenance.signal", "maintenance", "web disabled>down", "web down>up"],
            ),
            (4, Tick(), [UP]),
        ],
    ),
    (
        "maintenance-off-for-a-checked-service-needs-rise-good-checks",
        CHECKED,
        [
            (0, OK, []),
            (0, OK, ["web init>up"]),
            (1, MaintenanceSignal(on=True), ["maintenance.signal", "maintenance", "web up>disabled"]),
            (2, MaintenanceSignal(on=False), ["maintenance.signal", "maintenance", "web disabled>down"]),
            (3, OK, []),  # one good check is not rise
            (4, OK, ["web down>up"]),
        ],
    ),
    (
        "kubernetes-never-listed-decides-nothing-then-vips-and-the-endpoint-gate",
        KUBE,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [NONE]),
            (0, ACK, []),
            (1, KubeUpdate("web", vips=("10.1.1.1/32",)), ["kube.vips"]),
            (1, Tick(), [UP]),
            (1, ACK, []),
            (2, KubeUpdate("web", ready_endpoints=0), ["kube.endpoints"]),
            (2, Tick(), [NONE]),
            (2, ACK, []),
            (3, KubeUpdate("web", vips=("10.1.1.1/32",), ready_endpoints=0), []),  # a relist: the same
            (3, Tick(), []),
        ],
    ),
    (
        "a-kubernetes-vip-without-a-next-hop-of-its-family-is-said-and-not-announced",
        KUBE,
        [
            (0, Started(), ["web init>up"]),
            (1, KubeUpdate("web", vips=("10.1.1.1/32", "2001:db8::1/128")), ["kube.vips", "vip.unroutable"]),
            (1, Tick(), [UP]),
        ],
    ),
    (
        "make-before-break-marks-waits-the-period-then-withdraws-and-the-drain-is-over",
        GSHUT,
        [
            (0, Started(), ["web init>up"]),
            (0, Tick(), [UP]),
            (0, ACK, []),
            (1, DrainRequested(request=1), ["drain.started"]),  # still up: marked, not withdrawn
            (1.1, Tick(), [MARKED, "marker"]),
            (1.2, ACK, ["drain.marked", "reply 1 marked"]),
            (3, OK, []),
            (6.1, Tick(), []),
            (6.2, Tick(), ["drain.marking_over", "web up>draining", NONE]),
            (6.2, ACK, ["drain.withdrawn", "reply 1 withdrawn", "drain.done", "reply 1 drained", "close 1"]),
            (
                7,
                DrainRequested(request=2),
                ["reply 2 marked", "reply 2 withdrawn", "reply 2 drained", "close 2"],
            ),
        ],
    ),
    (
        "make-before-break-the-period-starts-with-exabgp-s-ack-of-the-marks",
        GSHUT,
        [
            (0, Started(), ["web init>up"]),
            (0, DrainRequested(request=1), ["drain.started"]),
            (0, Tick(), [MARKED, "marker"]),
            (0, NACK, []),
            (1, Tick(), [MARKED]),
            (1, ACK, ["drain.marked", "reply 1 marked"]),
            (2, DrainRequested(request=2, exit=True), ["reply 2 marked"]),
            (5.9, Tick(), []),
            (6, Tick(), ["drain.marking_over", "web up>draining", NONE]),
            (
                6,
                ACK,
                [
                    "drain.withdrawn",
                    "reply 1 withdrawn",
                    "reply 2 withdrawn",
                    "drain.done",
                    "reply 1 drained",
                    "close 1",
                    "reply 2 drained",
                    "close 2",
                    "exit",
                ],
            ),
        ],
    ),
    (
        "make-before-break-a-service-that-fails-while-marked-is-withdrawn-at-once",
        config(
            drain_graceful_shutdown=True, services=[{"name": "web", "vips": ["10.1.1.1/32"], "check": CHECK}]
        ),
        [
            (0, OK, []),
            (0, OK, ["web init>up"]),
            (0, DrainRequested(request=1), ["drain.started"]),
            (0, Tick(), [MARKED, "marker"]),
            (0, ACK, ["drain.marked", "reply 1 marked"]),
            (1, BAD, []),
            (2, BAD, ["web up>down"]),
            (2, Tick(), [NONE]),
            (2, ACK, []),  # withdrawn for its check, but the drain goes on to its end
            (5, Tick(), ["drain.marking_over", "web down>draining", NONE]),
            (5, ACK, ["drain.withdrawn", "reply 1 withdrawn", "drain.done", "reply 1 drained", "close 1"]),
        ],
    ),
    (
        "make-before-break-with-nothing-to-mark-withdraws-at-once",
        config(
            drain_graceful_shutdown=True, services=[{"name": "web", "vips": ["10.1.1.1/32"], "check": CHECK}]
        ),
        [
            (0, BAD, []),
            (0, BAD, ["web init>down"]),
            (0, DrainRequested(request=1), ["drain.started"]),
            (0, Tick(), [NONE, "marker"]),
            (0, ACK, ["web down>draining"]),
            (0, Tick(), [NONE]),
            (0, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),  # never marked: the period follows
            (5, Tick(), ["drain.done", "reply 1 drained", "close 1"]),
        ],
    ),
    (
        "make-before-break-ends-when-the-pod-serves-no-connection",
        GSHUT_IDLE,
        [
            (0, Started(), ["web init>up"]),
            (0, DrainRequested(request=1), ["drain.started"]),
            (0, Connections(0), []),  # not marked yet: the router may still send new flows
            (0, Tick(), [MARKED, "marker"]),
            (0, ACK, ["drain.marked", "reply 1 marked"]),
            (1, Connections(4), []),
            (2, Connections(0), ["drain.idle", "web up>draining"]),
            (2, Tick(), [NONE]),
            (2, ACK, ["drain.withdrawn", "reply 1 withdrawn", "drain.done", "reply 1 drained", "close 1"]),
            (3, Connections(0), []),
        ],
    ),
    (
        "make-before-break-a-respawn-into-a-drain-withdraws-at-once",
        GSHUT,
        [
            (0, Started(drain_marker=True), ["drain.resumed", "drain.started", "web init>draining"]),
            (0, Tick(), [NONE]),
            (0, ACK, ["drain.withdrawn"]),
            (4.9, Tick(), []),
            (5, Tick(), ["drain.done"]),
        ],
    ),
    (
        "without-make-before-break-connection-counts-change-nothing",
        UNCHECKED,
        [
            (0, Started(), ["web init>up"]),
            (0, DrainRequested(request=1), ["drain.started", "web up>draining"]),
            (0, Tick(), [NONE, "marker"]),
            (0, Connections(0), []),
            (0, ACK, ["drain.withdrawn", "reply 1 withdrawn"]),
        ],
    ),
    (
        "an-event-for-an-unknown-service-is-logged-and-changes-nothing",
        UNCHECKED,
        [
            (0, ProbeResult("nope", True), ["event.unknown"]),
            (0, KubeUpdate("nope", vips=()), ["event.unknown"]),
        ],
    ),
]


@pytest.mark.parametrize(("cfg", "rows"), [(c, r) for _, c, r in TABLE], ids=[n for n, *_ in TABLE])
def test_table(cfg: AnnouncerConfig, rows: list[tuple[float, Event | str, list[str]]]) -> None:
    assert run(cfg, [(now, event) for now, event, _ in rows]) == [effects for _, _, effects in rows]


def test_dual_stack_vips_go_out_via_the_next_hop_of_their_family() -> None:
    cfg = config(services=[{"name": "web", "vips": ["10.1.1.1/32", "2001:db8::1/128"]}])
    hops = NextHops(NH, "fd00::11")
    state = initial(cfg, hops)
    assert static_routes(state) == {Route("10.1.1.1/32", NH), Route("2001:db8::1/128", "fd00::11")}
    state, _ = step(state, Started(), 0)
    _, effects = step(state, Tick(), 0)
    assert effects == (Converge(static_routes(state), frozenset()),)


def test_deadline_says_when_the_next_tick_matters() -> None:
    state = initial(UNCHECKED, HOPS)
    assert deadline(state) is None
    state, _ = step(state, Started(), 0)
    state, (converge,) = step(state, Tick(), 0)
    assert isinstance(converge, Converge)
    state, _ = step(state, answer(NACK, converge), 2)
    assert deadline(state) == 2 + RETRY_SECONDS  # the retry
    state, _ = step(state, DrainRequested(), 2.5)
    state, (converge, _marker) = step(state, Tick(), 3)
    assert isinstance(converge, Converge)
    state, _ = step(state, answer(ACK, converge), 4)
    assert deadline(state) == 4 + 5  # the end of the drain period
    state, _ = step(state, Tick(), 9)
    assert deadline(state) is None


# --- properties over random runs -------------------------------------------------------------

SERVICES = [
    {"name": "web", "vips": ["10.1.1.1/32"], "check": CHECK},
    {"name": "api", "vips": ["10.1.2.1/32"]},
    {"name": "k8s", "kubernetes": {"namespace": "a", "name": "b", "withdraw_without_endpoints": True}},
]
TWO = config(drain_seconds=2, services=SERVICES)
# make-before-break, ending early when idle
TWO_MARKED = config(
    drain_seconds=2, drain_graceful_shutdown=True, drain_ends_when_idle=True, services=SERVICES
)

events = st.one_of(
    st.builds(ProbeResult, st.sampled_from(["web", "api", "k8s"]), st.booleans()),
    st.builds(
        KubeUpdate,
        st.just("k8s"),
        st.none() | st.sampled_from([(), ("10.1.9.1/32",), ("10.1.9.1/32", "10.1.9.2/32")]),
        st.none() | st.integers(0, 2),
    ),
    st.builds(DrainRequested, st.none() | st.just(0), st.booleans()),
    st.builds(MaintenanceSignal, st.booleans()),
    st.builds(MaintenanceFile, st.booleans()),
    st.builds(Connections, st.integers(0, 2)),
    # ticks are what time passing is made of: often, so that drains run to their end
    st.just(Tick()),
    st.just(Tick()),
    st.just(Tick()),
)
# each step: an event, how exabgp answers a converge it causes, and the time that passes first
runs = st.lists(st.tuples(events, st.sampled_from([ACK, NACK, UNSURE]), st.floats(0, 3)), max_size=60)
History = list[tuple[State, Event, float, tuple[Effect, ...], State]]


def simulate(cfg: AnnouncerConfig, steps: list[tuple[Event, str, float]]) -> History:
    """Every (before, event, now, effects, after), carrying out converges as ``main.Runner``
    does: the answer is fed back at once, before anything else happens."""
    state, _ = step(initial(cfg, HOPS), Started(), 0.0)
    now = 0.0
    requests = itertools.count(1)
    out: History = []

    def feed(event: Event) -> tuple[Effect, ...]:
        nonlocal state
        after, effects = step(state, event, now)
        out.append((state, event, now, effects, after))
        state = after
        return effects

    for event, kind, dt in steps:
        now += dt
        if isinstance(event, DrainRequested) and event.request is not None:
            event = DrainRequested(next(requests), event.exit)  # the adapter numbers its clients
        for effect in feed(event):
            if isinstance(effect, Converge):
                feed(answer(kind, effect))
    return out


def unmarked(routes: frozenset[Route]) -> frozenset[Route]:
    return frozenset(
        replace(r, communities=tuple(c for c in r.communities if c != GRACEFUL_SHUTDOWN)) for r in routes
    )


@pytest.mark.parametrize("cfg", [TWO, TWO_MARKED], ids=["withdraw-first", "make-before-break"])
@settings(max_examples=300, deadline=None, database=None)
@given(steps=runs)
def test_properties_of_every_run(cfg: AnnouncerConfig, steps: list[tuple[Event, str, float]]) -> None:
    history = simulate(cfg, steps)
    replies: dict[int, list[str]] = {}
    exits = 0
    idle_at: float | None = None  # when a Connections(0) came while marked
    for before, event, now, effects, after in history:
        # pure: the same input gives the same output, and the input is not changed
        assert step(before, event, now) == (after, effects)
        drain = after.drain
        marking = drain is not None and drain.marking
        if isinstance(event, Connections) and event.count == 0 and before.drain and before.drain.marked_at:
            idle_at = now
        for effect in effects:
            if isinstance(effect, Converge):
                assert isinstance(event, Tick), "converges are coalesced to the tick"
                up = {s.name for s in after.services if s.view.health.phase is Phase.UP}
                allowed = {r for s in after.services if s.name in up for r in s.view.routes.routes(HOPS)}
                assert unmarked(effect.desired) <= allowed, "only UP services are announced"
                marks = {GRACEFUL_SHUTDOWN in r.communities for r in effect.desired}
                if marking:
                    assert marks <= {True}, "a make-before-break drain marks every route it announces"
                else:
                    assert marks <= {False}, "routes are marked only while a make-before-break drain waits"
                if (drain is not None and not marking) or after.maintenance:
                    assert effect.desired == frozenset(), (
                        "nothing is announced while withdrawing a drain or in maintenance"
                    )
            elif isinstance(effect, Reply):
                replies.setdefault(effect.request, []).append(effect.line)
                heard = replies[effect.request]
                assert (
                    heard == ["marked", "withdrawn", "drained"][: len(heard)]
                    or heard
                    == [
                        "withdrawn",
                        "drained",
                    ][: len(heard)]
                ), replies
                if effect.line == "withdrawn":
                    assert drain is not None and drain.withdrawn_at is not None
                if effect.line == "marked":
                    assert cfg.drain_graceful_shutdown and drain is not None and drain.marked_at is not None
            elif isinstance(effect, Close):
                assert replies.get(effect.request, [])[-2:] == ["withdrawn", "drained"], (
                    "closed after the last answer"
                )
                replies[effect.request].append("closed")
            elif isinstance(effect, Exit):
                exits += 1
                assert drain is not None and drain.exit and drain.done
                assert drain.withdrawn_at is not None
                after_withdrawal = 0 if drain.marked_at is not None else cfg.drain_seconds
                assert now >= drain.withdrawn_at + after_withdrawal
        if drain is not None and not marking:
            assert all(s.view.health.phase is Phase.DRAINING for s in after.services), "draining is terminal"
        if (
            drain is not None
            and drain.withdrawn_at is not None
            and (before.drain is None or before.drain.withdrawn_at is None)
        ):
            # withdrawn only on exabgp's word: every command of an empty set acknowledged
            assert isinstance(event, Converged) and event.ok and event.certain, event
            assert event.converge == Converge(frozenset(), frozenset())
        if before.drain is not None and before.drain.marking and not marking:
            # a marked drain withdraws after its period, when idle, or at once with nothing marked
            marked_at = before.drain.marked_at
            if marked_at is None:
                assert isinstance(event, Converged) and not event.converge.desired and not event.converge.hold
            else:
                assert now >= marked_at + cfg.drain_seconds or idle_at == now, (now, marked_at)
        if not cfg.drain_graceful_shutdown:
            assert drain is None or (not drain.marking and drain.marked_at is None)
    assert exits <= 1


@pytest.mark.parametrize(("rise", "fall"), [(2, 2), (3, 3), (2, 5)])
def test_a_check_flapping_faster_than_rise_and_fall_never_converges_anything_new(
    rise: int, fall: int
) -> None:
    cfg = config(
        services=[{"name": "web", "vips": ["10.1.1.1/32"], "check": {**CHECK, "rise": rise, "fall": fall}}]
    )
    state = initial(cfg, HOPS)
    for i in range(rise):
        state, _ = step(state, OK, i)
    state, (converge,) = step(state, Tick(), rise)
    assert converge == Converge(frozenset({Route("10.1.1.1/32", NH)}), frozenset())
    state, _ = step(state, answer(ACK, converge), rise)
    pattern = [BAD] * (fall - 1) + [OK] * (rise - 1)
    for i, event in enumerate(itertools.islice(itertools.cycle(pattern), 400)):
        state, effects = step(state, event, 10 + i)
        state, ticked = step(state, Tick(), 10 + i)
        assert effects + ticked == (), (i, event)
