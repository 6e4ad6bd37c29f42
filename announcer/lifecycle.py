"""The announcer's lifecycle. Pure: ``step(state, event, now) -> (state, effects)``.

``health.step`` decides for one service; this decides for the pod: which events reach
which service, when to converge (after a burst of events, coalesced; again a second after
a failure), the maintenance switch (a file or SIGUSR1/SIGUSR2), and the drain
(docs/decisions/drain-protocol.md): requested by the control socket, by SIGTERM or by
the marker an earlier instance left; withdrawn once exabgp acknowledged every withdrawal;
over ``drain_seconds`` later; then exit if SIGTERM asked for it. With
``drain_graceful_shutdown`` the drain is make-before-break
(docs/decisions/make-before-break-drain.md): the routes are first re-announced marked
GRACEFUL_SHUTDOWN, and withdrawn ``drain_seconds`` after exabgp acknowledged the marks (or
as soon as the pod serves no connection, with ``drain_ends_when_idle``); the drain is over
with the withdrawal.

Nothing here reads a clock, a socket or a file: ``now`` comes in with each event and the
effects say what to do. ``main.Runner`` feeds the events and carries out the effects; a
``Converge`` effect is answered with a ``Converged`` event. Why: docs/decisions/announcer-lifecycle.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import assert_never

from .config import AnnouncerConfig
from .health import Action, Observation, Phase, Thresholds
from .health import step as health_step
from .kube_view import KubeUpdate
from .state import GRACEFUL_SHUTDOWN, NextHops, Route, ServiceView, all_routes, decide, marked

RETRY_SECONDS = 1.0  # a failed converge is tried again, with the latest desired set, this much later

# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The process is up; ``drain_marker`` says an earlier instance's drain marker exists."""

    drain_marker: bool = False


@dataclass(frozen=True)
class ProbeResult:
    """One health check's result (from ``probes``)."""

    service: str
    ok: bool
    seconds: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class DrainRequested:
    """A drain: ``request`` is a control-socket client waiting for the answers (None for a
    signal); ``exit`` (SIGTERM, SIGINT) ends the process once the drain is over."""

    request: int | None = None
    exit: bool = False


@dataclass(frozen=True)
class MaintenanceSignal:
    on: bool  # SIGUSR1 on, SIGUSR2 off


@dataclass(frozen=True)
class MaintenanceFile:
    present: bool


@dataclass(frozen=True)
class Converge:
    """Effect: make exabgp hold ``desired`` (``hold``: prefixes to leave as they are)."""

    desired: frozenset[Route]
    hold: frozenset[str]


@dataclass(frozen=True)
class Converged:
    """What came of a ``Converge``: ``ok`` when exabgp acknowledged every command; ``certain``
    when no route is left that exabgp may hold without having said so."""

    converge: Converge
    ok: bool
    certain: bool
    announced: int = 0


@dataclass(frozen=True)
class Tick:
    """Time passed: the point where a burst of events is converged at once."""


@dataclass(frozen=True)
class Connections:
    """How many TCP connections to the VIPs the pod holds (read while a marked drain waits)."""

    count: int


Event = (
    Started
    | ProbeResult
    | KubeUpdate
    | DrainRequested
    | MaintenanceSignal
    | MaintenanceFile
    | Converged
    | Tick
    | Connections
)

# --- effects (Converge above is one) ----------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Write one line (``marked``, ``withdrawn``, ``drained``) to control-socket client ``request``."""

    request: int
    line: str


@dataclass(frozen=True)
class Close:
    request: int


@dataclass(frozen=True)
class WriteDrainMarker:
    """Leave the marker that keeps a respawned announcer drained. Comes after the withdrawal:
    a marker that cannot be written must not hold the withdrawal up."""


@dataclass(frozen=True)
class PhaseChanged:
    service: str
    was: Phase
    phase: Phase
    op: Observation
    actions: tuple[Action, ...]
    reason: str = ""


@dataclass(frozen=True)
class Log:
    event: str
    fields: Mapping[str, object] = field(default_factory=dict)
    level: str = "info"


@dataclass(frozen=True)
class Exit:
    announced: int


Effect = Converge | Reply | Close | WriteDrainMarker | PhaseChanged | Log | Exit

# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    view: ServiceView
    thresholds: Thresholds
    checked: bool  # False: no check configured, so "healthy" is said for it

    @property
    def name(self) -> str:
        return self.view.routes.name


@dataclass(frozen=True)
class Drain:
    requests: tuple[int, ...] = ()  # clients waiting for the next answer
    exit: bool = False
    withdrawn_at: float | None = None  # when exabgp had acknowledged every withdrawal
    done: bool = False
    marker_pending: bool = False
    # make-before-break: the routes are announced marked GRACEFUL_SHUTDOWN (not withdrawn yet)
    marking: bool = False
    marked_at: float | None = None  # when exabgp had acknowledged the marked routes


@dataclass(frozen=True)
class State:
    services: tuple[Service, ...]
    next_hops: NextHops
    drain_seconds: float
    maintenance_file: bool = False
    maintenance_signal: bool = False
    maintenance: bool = False  # what the services were last told
    drain: Drain | None = None
    dirty: bool = True  # something changed since the last converge
    retry_at: float | None = None
    announced: int = 0  # routes exabgp acknowledged at the last converge
    graceful_shutdown: bool = False  # drains are make-before-break
    ends_when_idle: bool = False  # ... and end early when no connection is left


def initial(cfg: AnnouncerConfig, next_hops: NextHops) -> State:
    services = tuple(
        Service(
            ServiceView(s.routes()),
            Thresholds(s.check.rise, s.check.fall) if s.check else Thresholds(1, 1),
            s.check is not None,
        )
        for s in cfg.services
    )
    return State(
        services,
        next_hops,
        cfg.drain_seconds,
        graceful_shutdown=cfg.drain_graceful_shutdown,
        ends_when_idle=cfg.drain_ends_when_idle,
    )


def static_routes(state: State) -> frozenset[Route]:
    """Every route the configured VIPs make: what a predecessor may have left in exabgp."""
    return all_routes((s.view.routes for s in state.services), state.next_hops)


def deadline(state: State) -> float | None:
    """The next moment ``step`` wants a Tick for, if any (a retry, the end of the marking or of
    the drain)."""
    times = [state.retry_at] if state.retry_at is not None else []
    drain = state.drain
    over = deadline_of_marking(state)
    if over is not None:
        times.append(over)
    if drain is not None and drain.withdrawn_at is not None and not drain.done:
        times.append(drain.withdrawn_at + _after_withdrawal(state))
    return min(times) if times else None


def deadline_of_marking(state: State) -> float | None:
    """When a make-before-break drain's marked routes have had their time, once they are marked."""
    drain = state.drain
    if drain is None or not drain.marking or drain.marked_at is None:
        return None
    return drain.marked_at + state.drain_seconds


def counting_connections(state: State) -> bool:
    """Whether the pod's connections are wanted now (``Connections`` events end the marking)."""
    drain = state.drain
    return state.ends_when_idle and drain is not None and drain.marking and drain.marked_at is not None


def _after_withdrawal(state: State) -> float:
    """How long a drain lasts after its withdrawal: the drain period, unless it was spent marked."""
    return 0.0 if state.drain is not None and state.drain.marked_at is not None else state.drain_seconds


def step(state: State, event: Event, now: float) -> tuple[State, tuple[Effect, ...]]:
    effects: list[Effect] = []
    if isinstance(event, Started):
        state = _started(state, event, effects)
    elif isinstance(event, ProbeResult):
        state = _probe(state, event, effects)
    elif isinstance(event, KubeUpdate):
        state = _kube(state, event, effects)
    elif isinstance(event, DrainRequested):
        state = _drain_requested(state, event, effects)
    elif isinstance(event, MaintenanceSignal):
        effects.append(Log("announcer.maintenance.signal", {"op": "on" if event.on else "off"}))
        state = _maintenance(replace(state, maintenance_signal=event.on), effects)
    elif isinstance(event, MaintenanceFile):
        state = _maintenance(replace(state, maintenance_file=event.present), effects)
    elif isinstance(event, Converged):
        state = _converged(state, event, now, effects)
    elif isinstance(event, Tick):
        state = _tick(state, now, effects)
    elif isinstance(event, Connections):
        if counting_connections(state) and event.count == 0:
            effects.append(Log("announcer.drain.idle"))
            state = _end_marking(state, effects)
    else:
        assert_never(event)
    return _timers(state, now, effects), tuple(effects)


# --- the decisions --------------------------------------------------------------------------


def _every(_: Service) -> bool:
    return True


def _unchecked(service: Service) -> bool:
    return not service.checked


def _observe(
    state: State,
    observation: Observation,
    effects: list[Effect],
    *,
    which: Callable[[Service], bool] = _every,
    reason: str = "",
) -> State:
    """Feed ``observation`` to the state machine of every service ``which`` picks."""
    services = []
    dirty = state.dirty
    for service in state.services:
        if not which(service):
            services.append(service)
            continue
        before = service.view.health
        health, actions = health_step(before, observation, service.thresholds)
        if health.phase is not before.phase:
            effects.append(
                PhaseChanged(service.name, before.phase, health.phase, observation, actions, reason)
            )
        dirty = dirty or bool(actions)
        services.append(replace(service, view=replace(service.view, health=health)))
    return replace(state, services=tuple(services), dirty=dirty)


def _started(state: State, event: Started, effects: list[Effect]) -> State:
    if event.drain_marker:
        effects.append(Log("announcer.drain.resumed"))
        state = _begin_drain(state, effects, marker=False)
    # no check means healthy: say it once now (and again after maintenance)
    return _observe(state, Observation.CHECK_OK, effects, which=_unchecked)


def _probe(state: State, event: ProbeResult, effects: list[Effect]) -> State:
    if not any(s.name == event.service for s in state.services):
        effects.append(Log("announcer.event.unknown", {"target": event.service}, "error"))
        return state
    observation = Observation.CHECK_OK if event.ok else Observation.CHECK_FAILED
    return _observe(state, observation, effects, which=lambda s: s.name == event.service, reason=event.reason)


def _kube(state: State, event: KubeUpdate, effects: list[Effect]) -> State:
    services = []
    dirty = state.dirty
    found = False
    for service in state.services:
        if service.name != event.service:
            services.append(service)
            continue
        found = True
        view = service.view
        if event.vips is not None and event.vips != view.routes.vips:
            effects.append(Log("announcer.kube.vips", {"target": service.name, "count": len(event.vips)}))
            view = replace(view, routes=replace(view.routes, vips=event.vips))
            for vip in view.routes.unroutable(state.next_hops):
                error = "no next-hop of its family: set next_hop6 (or next_hop) for it"
                effects.append(Log("announcer.vip.unroutable", {"prefix": vip, "error": error}, "error"))
            dirty = True
        if event.ready_endpoints is not None and event.ready_endpoints != view.ready_endpoints:
            effects.append(
                Log("announcer.kube.endpoints", {"target": service.name, "count": event.ready_endpoints})
            )
            view = replace(view, ready_endpoints=event.ready_endpoints)
            dirty = True
        services.append(replace(service, view=view))
    if not found:
        effects.append(Log("announcer.event.unknown", {"target": event.service}, "error"))
    return replace(state, services=tuple(services), dirty=dirty)


def _maintenance(state: State, effects: list[Effect]) -> State:
    wanted = state.maintenance_file or state.maintenance_signal
    if wanted == state.maintenance:
        return state
    effects.append(Log("announcer.maintenance", {"op": "on" if wanted else "off"}))
    state = replace(state, maintenance=wanted)
    state = _observe(state, Observation.MAINTENANCE_ON if wanted else Observation.MAINTENANCE_OFF, effects)
    if not wanted:
        state = _observe(state, Observation.CHECK_OK, effects, which=_unchecked)  # no probe will say it
    return state


def _begin_drain(state: State, effects: list[Effect], *, marker: bool) -> State:
    """A drain: withdraw at once; or, make-before-break, mark first (a respawned announcer, whose
    predecessor's marking time is unknown, withdraws at once)."""
    if state.graceful_shutdown and marker:
        effects.append(Log("announcer.drain.started", {"count": state.announced, "op": "graceful-shutdown"}))
        return replace(state, drain=Drain(marker_pending=marker, marking=True), dirty=True)
    effects.append(Log("announcer.drain.started", {"count": state.announced}))
    state = replace(state, drain=Drain(marker_pending=marker), dirty=True)
    return _observe(state, Observation.DRAIN, effects)


def _end_marking(state: State, effects: list[Effect]) -> State:
    """The marked routes have had their time: now the withdrawal."""
    assert state.drain is not None
    state = replace(state, drain=replace(state.drain, marking=False), dirty=True)
    return _observe(state, Observation.DRAIN, effects)


def _drain_requested(state: State, event: DrainRequested, effects: list[Effect]) -> State:
    if state.drain is None:
        state = _begin_drain(state, effects, marker=True)
    drain = state.drain
    assert drain is not None
    if event.request is not None:
        if drain.marked_at is not None:
            effects.append(Reply(event.request, "marked"))
        if drain.done:
            effects += [
                Reply(event.request, "withdrawn"),
                Reply(event.request, "drained"),
                Close(event.request),
            ]
        else:
            if drain.withdrawn_at is not None:
                effects.append(Reply(event.request, "withdrawn"))
            drain = replace(drain, requests=(*drain.requests, event.request))
    if event.exit and not drain.exit:
        drain = replace(drain, exit=True)
        if drain.done:
            effects.append(Exit(state.announced))
    return replace(state, drain=drain)


def _tick(state: State, now: float, effects: list[Effect]) -> State:
    over = deadline_of_marking(state)
    if over is not None and now >= over:  # withdrawn in this very tick
        effects.append(Log("announcer.drain.marking_over"))
        state = _end_marking(state, effects)
    due = state.retry_at is not None and now >= state.retry_at
    if not (state.dirty or due):
        return state
    desired, hold = decide((s.view for s in state.services), state.next_hops)
    if state.drain is not None and state.drain.marking:
        desired = marked(desired)
    effects.append(Converge(desired, hold))
    state = replace(state, dirty=False, retry_at=None)
    if state.drain is not None and state.drain.marker_pending:
        effects.append(WriteDrainMarker())
        state = replace(state, drain=replace(state.drain, marker_pending=False))
    return state


def _converged(state: State, event: Converged, now: float, effects: list[Effect]) -> State:
    drain = state.drain
    # a drain also waits for certainty: a route exabgp may hold must be withdrawn explicitly
    retry = not event.ok or (drain is not None and not event.certain)
    state = replace(state, retry_at=now + RETRY_SECONDS if retry else None, announced=event.announced)
    empty = not event.converge.desired and not event.converge.hold
    # the answer to a converge of the marked routes (every converge while marking is one)
    marks = all(GRACEFUL_SHUTDOWN in r.communities for r in event.converge.desired)
    if (
        drain is not None
        and drain.marking
        and drain.marked_at is None
        and marks
        and event.ok
        and event.certain
    ):
        if empty:  # nothing to mark: nothing to wait for
            return _end_marking(state, effects)
        effects.append(
            Log("announcer.drain.marked", {"count": event.announced, "seconds": state.drain_seconds})
        )
        effects += [Reply(r, "marked") for r in drain.requests]
        return replace(state, drain=replace(drain, marked_at=now))
    withdrawn = empty and event.ok and event.certain
    if drain is not None and not drain.marking and drain.withdrawn_at is None and withdrawn:
        effects.append(Log("announcer.drain.withdrawn", {"seconds": _after_withdrawal(state)}))
        effects += [Reply(r, "withdrawn") for r in drain.requests]
        state = replace(state, drain=replace(drain, withdrawn_at=now))
    return state


def _timers(state: State, now: float, effects: list[Effect]) -> State:
    drain = state.drain
    if drain is None or drain.done or drain.withdrawn_at is None:
        return state
    if now < drain.withdrawn_at + _after_withdrawal(state):
        return state
    effects.append(Log("announcer.drain.done"))
    for request in drain.requests:
        effects += [Reply(request, "drained"), Close(request)]
    if drain.exit:
        effects.append(Exit(state.announced))
    return replace(state, drain=replace(drain, done=True, requests=()))
