"""gobgpd's WatchEvent stream: structured log events, fresh peer metrics, and restart detection.

A peer of ours whose session drops is re-armed (see ``Reconciler.rearm``) so that its
neighbor, restarted, is not refused for gobgpd's fixed 5 s idle hold: every time if the
session had been up a while, at most once per 30 s if its sessions keep failing early.

The stream ends when gobgpd goes away (killed, restarted, socket gone). Then this waits
for the channel to connect again and wakes the reconciler, so a restarted gobgpd gets
its whole configuration back as soon as it answers instead of at the next resync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from lbroute.core import damping
from lbroute.core.events import PrefixesTouched, SessionReport, WatchReport
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpError, GobgpUnavailable, describe

from .reconcile import Reconciler

log = structlog.get_logger()

# re-reading every peer's counters on every route event would cost more than the events; a
# refresh skipped for that happens once when the half second is over, so none is lost
METRICS_EVERY = 0.5
# one log line per best-path change up to this many in one report from gobgpd; a larger burst
# (64 speakers x 1000 VIPs arriving: ~64 000 changes) is one counted line, not a line each
PREFIX_LINES_PER_REPORT = 8
# a peer whose sessions keep failing soon after they come up (over its max-prefix limit, a
# config clash) is re-armed at most this often, so gobgpd's own idle hold damps it ...
REARM_EVERY = 30.0
# ... but a session that had been up this long before it dropped is a neighbor that went
# away and may come straight back (a restart): re-armed every time
STABLE_SESSION = 5.0
_DOWN = frozenset({"IDLE", "ACTIVE", "UNKNOWN"})
# a speaker over its limit reconnects and is cut off again many times a second: one log line
# per peer at most this often, with the count since the last
MAX_PREFIX_LOG_EVERY = 10.0


class DaemonWatch:
    def __init__(
        self,
        client: GobgpClient,
        reconciler: Reconciler,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        later: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        self.client = client
        self.reconciler = reconciler
        self.stop = stop
        self._clock = clock
        # runs a function after some seconds (a timer thread); tests pass one that records
        self._later = later or _in_a_timer_thread
        self._last_refresh = float("-inf")
        self._lock = threading.Lock()
        self._refresh_due = False
        # established peers, and since when
        self._established: dict[str, float] = {}
        self._rearmed_at: dict[str, float] = {}
        # max-prefix shutdowns per peer not logged yet, and when the last line was
        self._cut_off: dict[str, int] = {}
        self._cut_off_logged: dict[str, float] = {}
        # speakers held down after max-prefix shutdowns, and what to call when that set changes
        # (the manager's wiring: a new desired configuration with ``held()``)
        self._damping: dict[str, damping.Damped] = {}
        self.on_damp: Callable[[], None] = lambda: None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="gobgpd-watch", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                # best paths only: the log and the metrics need no word of every adj-RIB-in update
                for report in self.client.watch(adj_in=False):
                    self._handle(report)
                    if self.stop.is_set():
                        return
                why = "the event stream ended"
            except GobgpError as err:
                why = describe(err)
            if self.stop.is_set():
                return  # we closed it
            log.warning("rr.daemon.lost", target=self.client.target, error=why)
            self._established.clear()  # a new gobgpd starts with no session
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
            except GobgpUnavailable:
                continue
        return False

    def _handle(self, report: WatchReport) -> None:
        match report:
            case SessionReport(address, state):
                if report.max_prefix_shutdown and not report.initial:
                    self._max_prefix_shutdown(address)
                established = report.established
                name = "rr.peer.up" if established else "rr.peer.down" if state in _DOWN else "rr.peer.state"
                log.info(name, peer=address, state=state)
                now = self._clock()
                if established:
                    self._established.setdefault(address, now)
                elif state == "IDLE" and address in self._established:
                    stable = now - self._established.pop(address) >= STABLE_SESSION
                    if address in self.held():
                        pass  # held down on purpose: a re-armed peer would let it flap again
                    elif stable or now - self._rearmed_at.get(address, -REARM_EVERY) >= REARM_EVERY:
                        self._rearmed_at[address] = now
                        self._rearm(address)
                self._refresh(force=True)
            case PrefixesTouched(paths):
                if len(paths) <= PREFIX_LINES_PER_REPORT:
                    for path in paths:
                        name = "rr.prefix.withdrawn" if path.withdrawn else "rr.prefix.changed"
                        log.info(name, prefix=path.prefix, peer=path.source)
                else:  # a burst (a table arriving, a speaker gone): one line, counted
                    withdrawn = sum(1 for path in paths if path.withdrawn)
                    log.info(
                        "rr.prefixes.touched",
                        changed=len(paths) - withdrawn,
                        withdrawn=withdrawn,
                        peers=len({path.source for path in paths}),
                        first=[path.prefix for path in paths[:PREFIX_LINES_PER_REPORT]],
                    )
                self._refresh(force=False)

    def _max_prefix_shutdown(self, address: str) -> None:
        self.reconciler.metrics.max_prefix_shutdowns.labels(address).inc()
        self._cut_off[address] = self._cut_off.get(address, 0) + 1
        now = self._clock()
        if now - self._cut_off_logged.get(address, -MAX_PREFIX_LOG_EVERY) >= MAX_PREFIX_LOG_EVERY:
            self._cut_off_logged[address] = now
            log.warning("rr.peer.max_prefix_shutdown", peer=address, count=self._cut_off.pop(address))
        with self._lock:
            before = self._damping.get(address)
            self._damping = damping.record(self._damping, address, now)
            hold = self._damping[address]
        if hold == before:
            return  # already held: gobgpd telling of a shutdown it had made
        log.warning("rr.peer.damped", peer=address, seconds=hold.period, count=hold.shutdowns)
        self.reconciler.metrics.damped.labels(address).set(hold.period)
        self._later(hold.period, lambda: self._release(address))
        self.on_damp()

    def held(self) -> frozenset[str]:
        """The speakers held down now (``desired_config``'s ``held``)."""
        with self._lock:
            return damping.held(self._damping, self._clock())

    def _release(self, address: str) -> None:
        if self.stop.is_set():
            return
        with self._lock:
            hold = self._damping.get(address)
        left = 0.0 if hold is None else hold.until - self._clock()
        if left > 0:
            # early (a timer is not a clock), or held again since: look again when it ends
            self._later(left, lambda: self._release(address))
            return
        log.info("rr.peer.released", peer=address)
        self.reconciler.metrics.damped.labels(address).set(0)
        self.on_damp()

    def _rearm(self, address: str) -> None:
        try:
            self.reconciler.rearm(address)
        except GobgpError as err:
            # the next reconcile pass puts the peer back if this left it missing
            log.warning("rr.peer.rearm_failed", peer=address, error=describe(err))
            self.reconciler.wake()

    def _refresh(self, *, force: bool, trailing: bool = False) -> None:
        with self._lock:
            now = self._clock()
            since = now - self._last_refresh
            # a session change is worth a refresh at once, unless refreshes cost too much to
            # run that often (a large RIB): then, like route events, it waits its turn
            spacing = max(0.0 if force else METRICS_EVERY, self.reconciler.metrics_spacing())
            if since < spacing and not trailing:
                if not self._refresh_due:  # one trailing refresh covers the whole burst
                    self._refresh_due = True
                    self._later(spacing - since, self._refresh_later)
                return
            self._last_refresh = now
        try:
            self.reconciler.refresh_peer_metrics()
        except GobgpError as err:
            log.warning("rr.metrics.failed", error=describe(err))

    def _refresh_later(self) -> None:
        with self._lock:
            self._refresh_due = False
        if not self.stop.is_set():
            self._refresh(force=True, trailing=True)


def _in_a_timer_thread(seconds: float, function: Callable[[], None]) -> None:
    timer = threading.Timer(seconds, function)
    timer.daemon = True
    timer.start()
