"""Observe gobgpd, plan in the pure core, apply only the difference; retry what is transient.

The daemon's own answers (GetBgp, ListPeerGroup, ListDynamicNeighbor, ListPeer) are the
truth; nothing here remembers what it sent. After any failure the next attempt starts by
observing again, so it always works toward the latest desired state.
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
    wait_random_exponential,
)

from lbroute.core import bgp
from lbroute.gobgp.errors import describe, is_transient

log = structlog.get_logger()


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


class Reconciler:
    def __init__(
        self,
        client: DaemonClient,
        desired: bgp.DaemonConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.desired = desired
        self._sleep = sleep  # the backoff's clock; tests pass one that records instead of waiting

    def observe_plan(self) -> bgp.Plan:
        return bgp.plan(self.desired, self.client.observe())

    def reconcile_once(self) -> bgp.Plan:
        started = time.monotonic()
        todo = self.observe_plan()
        for op in todo.operations:
            self.client.apply(op)
            log.info("rr.op.applied", op=bgp.describe(op), target=self.client.target)
        log.info(
            "rr.reconcile.done",
            count=len(todo.operations),
            seconds=round(time.monotonic() - started, 4),
            target=self.client.target,
        )
        return todo

    def reconcile(self, *, give_up_after: float | None = None) -> bgp.Plan:
        """``reconcile_once`` with exponential backoff and jitter on transient gRPC errors."""
        retrying = retry(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.05, max=5.0),
            stop=stop_after_delay(give_up_after) if give_up_after is not None else stop_never,
            before_sleep=_log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self.reconcile_once)()

    def run(self, interval: float, stop: threading.Event) -> None:
        """Reconcile now, then every ``interval`` seconds (the periodic full resync), until ``stop``."""
        while not stop.is_set():
            self.reconcile()
            stop.wait(interval)
