"""Observe gobgpd, plan in the pure core, apply only the difference; retry what is transient.

The daemon's own answers (GetBgp, ListPeerGroup, ListDynamicNeighbor, ListPeer, defined
sets, policies, the import assignment) are the truth; nothing here remembers what it
sent. After any failure the next attempt starts by observing again, so it always works
toward the latest desired state. ``wake()`` cuts a wait short: a new desired state (a pod
came or went) or gobgpd answering again after a restart is acted on at once, not at the
next periodic resync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    stop_when_event_set,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from lbroute.core import bgp
from lbroute.gobgp.errors import describe, is_transient

from .metrics import RrMetrics

log = structlog.get_logger()

# a gobgpd restarting on the same host answers within a second; waits stay short so the
# first attempt after it answers comes quickly (``wake`` shortens them further)
MAX_BACKOFF = 1.0


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "rr.reconcile.retry",
        attempt=state.attempt_number,
        seconds=round(state.next_action.sleep, 3) if state.next_action else None,
        error=describe(error) if error else None,
    )


class DaemonClient(Protocol):
    """What the reconciler needs of a gobgpd: ``GobgpClient``, or a fake that behaves."""

    target: str

    def observe(self) -> bgp.DaemonConfig: ...

    def apply(self, op: bgp.Operation) -> None: ...

    def peer_counters(self) -> list[bgp.PeerCounters]: ...

    def keeps_stale_paths(self, address: str) -> bool: ...


class Reconciler:
    def __init__(
        self,
        client: DaemonClient,
        desired: bgp.DaemonConfig,
        *,
        sleep: Callable[[float], None] | None = None,
        metrics: RrMetrics | None = None,
        peer_metrics: bool = True,
    ) -> None:
        self.client = client
        self._desired = desired
        self._lock = threading.Lock()
        # one writer at a time: a pass and a re-arm must not both add the same peer
        self._apply_lock = threading.Lock()
        self._wake = threading.Event()
        # the backoff's clock; tests pass one that records instead of waiting
        self._sleep = sleep or self._interruptible_sleep
        self.metrics = metrics or RrMetrics.create()
        self.metrics.config_stale.set(1)
        # counting rejected prefixes reads every speaker's adj-RIB-in: only when someone looks
        self.peer_metrics = peer_metrics

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
        self._wake.wait(seconds)
        self._wake.clear()

    def observe_plan(self) -> bgp.Plan:
        return bgp.plan(self.desired, self.client.observe())

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
            todo = self.observe_plan()
            for op in todo.operations:
                self.client.apply(op)
                log.info("rr.op.applied", op=bgp.describe(op), target=self.client.target)
        except Exception as err:
            self.metrics.reconcile_errors.labels("transient" if is_transient(err) else "other").inc()
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

    def reconcile(
        self, *, give_up_after: float | None = None, stop: threading.Event | None = None
    ) -> bgp.Plan:
        """``reconcile_once`` with exponential backoff and jitter on transient gRPC errors."""
        give_up: stop_base = stop_after_delay(give_up_after) if give_up_after is not None else stop_never
        if stop is not None:
            give_up = give_up | stop_when_event_set(stop)
        retrying = retry(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.05, max=MAX_BACKOFF),
            stop=give_up,
            before_sleep=_log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self.reconcile_once)()

    def refresh_peer_metrics(self) -> None:
        if self.peer_metrics:
            self.metrics.record_peers(self.client.peer_counters())

    def run(self, interval: float, stop: threading.Event) -> None:
        """Reconcile now, then on every ``wake()`` and every ``interval`` (full resync) until ``stop``."""
        while not stop.is_set():
            self._wake.clear()
            try:
                self.reconcile(stop=stop)
                self.refresh_peer_metrics()
            except Exception as err:
                if not is_transient(err):
                    raise
                # stopped while gobgpd was away: nothing to apply any more
            if stop.is_set():
                break
            self._wake.wait(interval)
