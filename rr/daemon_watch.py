"""gobgpd's WatchEvent stream: structured log events, fresh peer metrics, and restart detection.

A peer of ours whose session drops is re-armed (see ``Reconciler.rearm``) so that its
neighbor, restarted, is not refused for gobgpd's fixed 5 s idle hold.

The stream ends when gobgpd goes away (killed, restarted, socket gone). Then this waits
for the channel to connect again and wakes the reconciler, so a restarted gobgpd gets
its whole configuration back as soon as it answers instead of at the next resync.
"""

from __future__ import annotations

import threading
import time

import grpc
import structlog

from lbroute.core import bgp
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import describe

from .reconcile import Reconciler

log = structlog.get_logger()

# re-reading every peer's counters on every route event would cost more than the events
METRICS_EVERY = 0.5
REARM_EVERY = 30.0
_DOWN = frozenset({"IDLE", "ACTIVE", "UNKNOWN"})


class DaemonWatch:
    def __init__(self, client: GobgpClient, reconciler: Reconciler, stop: threading.Event) -> None:
        self.client = client
        self.reconciler = reconciler
        self.stop = stop
        self._last_refresh = 0.0
        self._established: set[str] = set()
        self._rearmed_at: dict[str, float] = {}

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="gobgpd-watch", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for event in self.client.events():
                    self._handle(event)
                    if self.stop.is_set():
                        return
            except grpc.RpcError as err:
                log.warning("rr.daemon.lost", target=self.client.target, error=describe(err))
            # a stream that keeps failing against a live daemon must not spin
            self.stop.wait(0.1)
            if self._wait_until_answering():
                self.reconciler.metrics.daemon_restarts.inc()
                log.info("rr.daemon.answering", target=self.client.target)
                self.reconciler.wake()

    def _wait_until_answering(self) -> bool:
        while not self.stop.is_set():
            try:
                self.client.wait_ready(timeout=0.5)
                return True
            except grpc.FutureTimeoutError:
                continue
        return False

    def _handle(self, event: bgp.PeerEvent | bgp.RouteEvent) -> None:
        match event:
            case bgp.PeerEvent(address, established, state):
                name = "rr.peer.up" if established else "rr.peer.down" if state in _DOWN else "rr.peer.state"
                log.info(name, peer=address, state=state)
                if established:
                    self._established.add(address)
                elif state == "IDLE" and address in self._established:
                    self._established.discard(address)
                    # a peer that keeps failing (e.g. over its max-prefix limit) gets gobgpd's
                    # own damping back: at most one re-arm per REARM_EVERY seconds
                    now = time.monotonic()
                    if now - self._rearmed_at.get(address, -REARM_EVERY) >= REARM_EVERY:
                        self._rearmed_at[address] = now
                        self._rearm(address)
                self._refresh(force=True)
            case bgp.RouteEvent(prefix, next_hop, source, withdrawn):
                log.info(
                    "rr.prefix.withdrawn" if withdrawn else "rr.prefix.changed",
                    prefix=prefix,
                    nexthop=next_hop,
                    peer=source,
                )
                self._refresh(force=False)

    def _rearm(self, address: str) -> None:
        try:
            self.reconciler.rearm(address)
        except grpc.RpcError as err:
            # the next reconcile pass puts the peer back if this left it missing
            log.warning("rr.peer.rearm_failed", peer=address, error=describe(err))
            self.reconciler.wake()

    def _refresh(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_refresh < METRICS_EVERY:
            return
        self._last_refresh = now
        try:
            self.reconciler.refresh_peer_metrics()
        except grpc.RpcError as err:
            log.warning("rr.metrics.failed", error=describe(err))
