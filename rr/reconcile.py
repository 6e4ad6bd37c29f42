"""Observe gobgpd, plan in the pure core, apply only the difference; retry what is transient.

The daemon's own answers (GetBgp, ListPeerGroup, ListDynamicNeighbor, ListPeer, defined
sets, policies, the import assignment) are the truth; nothing here remembers what it
sent. After any failure the next attempt starts by observing again, so it always works
toward the latest desired state. ``wake()`` cuts a wait short: a new desired state (a pod
came or went) or gobgpd answering again after a restart is acted on at once, not at the
next periodic resync, and with the backoff started over.

While gobgpd does not answer, retries back off up to ``MAX_BACKOFF`` and the log says so
once when the outage starts, at most every ``SAY_EVERY`` seconds while it lasts, and once
when gobgpd answers again (``rr.outage``).

When gobgpd runs BGP with other global settings than the config's (a plan ``refused``, see
``bgp.GlobalDiffers``), a pass applies nothing and raises ``GlobalSettingsRefused``
(permanent); ``run`` keeps going, so the gobgpd restart that the error asks for is picked up
like any other restart. The log says so once per difference, the metrics all along.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    stop_when_event_set,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from lbroute.core import bgp
from lbroute.core.session import Session
from lbroute.gobgp.errors import describe, is_transient

from . import outage
from .metrics import RrMetrics

log = structlog.get_logger()

# Retries of a gobgpd that does not answer wait up to this long (full jitter). A restarted
# gobgpd is acted on at once anyway: DaemonWatch sees it answer and wakes the reconciler,
# which starts its backoff over.
MAX_BACKOFF = 5.0
# while gobgpd stays away, a reminder at most this often
SAY_EVERY = 30.0

T = TypeVar("T")

# the wait before each retry: from 50 ms, doubling, full jitter, at most MAX_BACKOFF
BACKOFF = wait_random_exponential(multiplier=0.05, max=MAX_BACKOFF)


def backoff_seconds(failures: int) -> float:
    """``BACKOFF`` after ``failures`` failures in a row, for a loop that keeps its own time
    (the FIB writer's passes) rather than sleeping in tenacity."""
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = max(failures, 1)
    return float(BACKOFF(state))


class DaemonClient(Protocol):
    """What the reconciler needs of a gobgpd: ``GobgpClient``, or a fake that behaves."""

    target: str

    def observe(self) -> bgp.DaemonConfig: ...

    def apply(self, op: bgp.Operation) -> None: ...

    def list_sessions(self, at: str, *, advertised: bool = True) -> list[Session]: ...

    def keeps_stale_paths(self, address: str) -> bool: ...


class _Woken(Exception):
    """A backoff wait cut short by ``wake()``: the retries start over."""


class GlobalSettingsRefused(Exception):
    """Permanent: gobgpd runs BGP with other global settings, which only its restart changes."""

    def __init__(self, target: str, differs: bgp.GlobalDiffers) -> None:
        self.target = target
        self.differs = differs
        super().__init__(f"{target}: {differs.describe()}")


# a metrics refresh runs at most 1/METRICS_SHARE of the time (see ``metrics_spacing``)
METRICS_SHARE = 10


class Reconciler:
    def __init__(
        self,
        client: DaemonClient,
        desired: bgp.DaemonConfig,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        metrics: RrMetrics | None = None,
        peer_metrics: bool = True,
    ) -> None:
        self.client = client
        self._desired = desired
        self._lock = threading.Lock()
        # one writer at a time: a pass and a re-arm must not both add the same peer
        self._apply_lock = threading.Lock()
        self._metrics_lock = threading.Lock()
        self._wake = threading.Event()
        # the backoff's sleep and the outage log's clock; tests pass fakes that record instead
        self._sleep = sleep or self._interruptible_sleep
        self._clock = clock
        self._outage = outage.Outage()
        self.metrics = metrics or RrMetrics.create()
        self.metrics.config_stale.set(1)
        # the last pass's refusal, so the log says each one once
        self._refused: bgp.GlobalDiffers | None = None
        # counting rejected prefixes reads every speaker's adj-RIB-in: only when someone looks
        self.peer_metrics = peer_metrics
        # what the last metrics refresh took: it reads the whole RIB, so its cost grows with it
        self.metrics_cost = 0.0

    @property
    def desired(self) -> bgp.DaemonConfig:
        with self._lock:
            return self._desired

    def desire(self, desired: bgp.DaemonConfig) -> None:
        """Latest wins: the next pass works toward this, whatever was asked before."""
        with self._lock:
            changed = desired != self._desired
            self._desired = desired
        if changed:
            self.metrics.config_stale.set(1)
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._wake.wait(seconds):
            self._wake.clear()
            raise _Woken

    def observe_plan(self, *, give_up_after: float | None = None) -> bgp.Plan:
        """What a pass would apply now. Transient failures are retried for ``give_up_after`` seconds;
        ``GlobalSettingsRefused`` when a pass would be refused."""
        todo = self._retrying(lambda: bgp.plan(self.desired, self.client.observe()), give_up_after, None)
        if todo.refused is not None:
            raise GlobalSettingsRefused(self.client.target, todo.refused)
        return todo

    def reconcile_once(self) -> bgp.Plan:
        with self._apply_lock:
            return self._reconcile_once()

    def rearm(self, address: str) -> bool:
        """Replace an explicit peer whose session just dropped, so it can come back at once.

        gobgpd keeps a peer whose session failed in IDLE for a fixed 5 s (``holdtimeIdle``
        in its fsm.go, not configurable) and closes every connection offered meanwhile: a
        restarted neighbor would wait that long. A freshly added peer has no such hold.

        Not a peer in graceful restart that gobgpd keeps stale paths for: deleting it would
        drop them, and they are what keeps forwarding while its daemon restarts. That
        session comes back after the idle hold and a connect-retry tick instead.
        """
        spec = next((p for p in self.desired.peers if p.address == address), None)
        if spec is None:
            return False
        if self._refused is not None:
            # the desired peers were made for other global settings: touch nothing
            log.info("rr.peer.rearm_skipped", peer=address, reason="global settings differ")
            return False
        if self.client.keeps_stale_paths(address):
            log.info("rr.peer.rearm_skipped", peer=address, reason="graceful restart keeps its paths")
            return False
        with self._apply_lock:
            self.client.apply(bgp.DeletePeer(address))
            self.client.apply(bgp.AddPeer(spec))
        log.info("rr.peer.rearmed", peer=address, target=self.client.target)
        return True

    def _reconcile_once(self) -> bgp.Plan:
        started = time.monotonic()
        try:
            todo = bgp.plan(self.desired, self.client.observe())
            self._say_refused(todo.refused)
            if todo.refused is not None:
                raise GlobalSettingsRefused(self.client.target, todo.refused)
            for op in todo.operations:
                self.client.apply(op)
                log.info("rr.op.applied", op=bgp.describe(op), target=self.client.target)
        except Exception as err:
            kind = "refused" if isinstance(err, GlobalSettingsRefused) else "other"
            self.metrics.reconcile_errors.labels("transient" if is_transient(err) else kind).inc()
            self.metrics.config_stale.set(1)
            raise
        seconds = time.monotonic() - started
        self.metrics.reconcile_runs.inc()
        self.metrics.reconcile_seconds.observe(seconds)
        self.metrics.config_stale.set(0)
        log.info(
            "rr.reconcile.done",
            count=len(todo.operations),
            seconds=round(seconds, 4),
            target=self.client.target,
        )
        return todo

    def _say_refused(self, refused: bgp.GlobalDiffers | None) -> None:
        """The refusal into the metrics; into the log when it starts, changes or ends."""
        if refused == self._refused:
            return
        self.metrics.global_settings_differ.clear()
        if refused is not None:
            for name in refused.fields:
                self.metrics.global_settings_differ.labels(name).set(1)
            log.error(
                "rr.global.refused",
                target=self.client.target,
                error=refused.describe(),
                count=len(refused.fields),
            )
        else:
            log.info("rr.global.resolved", target=self.client.target)
        self._refused = refused

    def reconcile(
        self, *, give_up_after: float | None = None, stop: threading.Event | None = None
    ) -> bgp.Plan:
        """``reconcile_once``, retried with exponential backoff and jitter while gobgpd does not answer."""
        return self._retrying(self.reconcile_once, give_up_after, stop)

    def _retrying(
        self, attempt: Callable[[], T], give_up_after: float | None, stop: threading.Event | None
    ) -> T:
        """``attempt`` until it succeeds, fails for good, ``give_up_after`` runs out or ``stop`` is set
        (then the last transient error is raised). A ``wake()`` starts the backoff over."""
        backoff = BACKOFF
        wait: Callable[[RetryCallState], float] = backoff
        give_up: stop_base = stop_never
        if give_up_after is not None:
            limit = give_up_after

            def wait(state: RetryCallState) -> float:
                # the last attempt comes when the time is up, not a random wait before it
                return min(backoff(state), max(0.0, limit - (state.seconds_since_start or 0.0)))

            give_up = stop_after_delay(limit)
        if stop is not None:
            give_up = give_up | stop_when_event_set(stop)
        while True:
            retrying = Retrying(
                retry=retry_if_exception(is_transient),
                wait=wait,
                stop=give_up,
                before_sleep=self._failed,
                sleep=self._sleep,
                reraise=True,
            )
            try:
                result = retrying(attempt)
            except _Woken:
                continue
            except Exception as err:
                if is_transient(err):
                    self._failed_for_good(err)
                raise
            self._answered()
            return result

    def _failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        sleep = round(state.next_action.sleep, 3) if state.next_action else None
        self._outage, say = outage.failed(self._outage, self._clock(), SAY_EVERY)
        target, why = self.client.target, describe(error) if error else None
        if say is outage.Say.LOST:
            log.warning("rr.outage.started", target=target, error=why, seconds=sleep)
        elif say is outage.Say.STILL:
            seconds = round(self._outage.seconds(self._clock()), 1)
            log.warning(
                "rr.outage.ongoing", target=target, error=why, count=self._outage.failures, seconds=seconds
            )
        else:
            log.debug("rr.reconcile.retry", attempt=state.attempt_number, seconds=sleep, error=why)

    def _failed_for_good(self, error: BaseException) -> None:
        """The last failure before giving up: counted, said only if due."""
        self._outage, say = outage.failed(self._outage, self._clock(), SAY_EVERY)
        if say is not None:
            log.warning(
                "rr.outage.started" if say is outage.Say.LOST else "rr.outage.ongoing",
                target=self.client.target,
                error=describe(error),
                count=self._outage.failures,
            )

    def _answered(self) -> None:
        failures, seconds = self._outage.failures, self._outage.seconds(self._clock())
        self._outage, say = outage.answered(self._outage)
        if say is outage.Say.BACK:
            log.info("rr.outage.ended", target=self.client.target, count=failures, seconds=round(seconds, 1))

    def refresh_peer_metrics(self) -> None:
        """Sessions as gobgpd lists them into the metrics (from the pass loop and the watch thread)."""
        if not self.peer_metrics:
            return
        with self._metrics_lock:  # one list-and-replace at a time: series are cleared, then set
            started = self._clock()
            # ``advertised`` would cost gobgpd a walk of its RIB per peer, and no series shows it
            self.metrics.record_sessions(self.client.list_sessions(self.client.target, advertised=False))
            self.metrics_cost = self._clock() - started

    def metrics_spacing(self) -> float:
        """The least time between two refreshes that keeps them under 1/METRICS_SHARE of the
        time: a refresh streams the whole RIB from gobgpd (64 000 paths: ~0.3 s of its CPU
        and ours), and at that size one every half second would be most of a core."""
        return self.metrics_cost * METRICS_SHARE

    def run(self, interval: float, stop: threading.Event, *, first_within: float | None = None) -> None:
        """Reconcile now, then on every ``wake()`` and every ``interval`` (full resync) until ``stop``.

        ``first_within``: the first pass gives gobgpd that many seconds to answer and raises
        ``GobgpUnavailable`` after them; later passes wait for it as long as it takes. A pass
        refused for global settings does not end the loop: the restart it asks for wakes it.
        """
        first = True
        while not stop.is_set():
            self._wake.clear()
            answered = True
            try:
                self.reconcile(stop=stop, give_up_after=first_within if first else None)
            except GlobalSettingsRefused:
                pass  # said and counted in the pass; the sessions are still there to count
            except Exception as err:
                if stop.is_set() and is_transient(err):
                    break  # stopped while gobgpd was away: nothing to apply any more
                if first or not is_transient(err):
                    raise
                answered = False
            if answered:
                try:
                    self.refresh_peer_metrics()
                except Exception as err:
                    if not is_transient(err):
                        raise
                    # gobgpd went away since the pass: DaemonWatch says so and wakes us
            first = False
            if stop.is_set():
                break
            self._wake.wait(interval)
