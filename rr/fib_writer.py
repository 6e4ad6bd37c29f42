"""The router's resilient FIB: every path gobgpd's RIB holds for a VIP (not only its multipath
set: they agree when a service's LBs announce the same attributes) into the kernel as resilient
next-hop groups (``fib: {mode: resilient}``; docs/decisions/resilient-fib.md).

One thread follows gobgpd's event stream (best paths and sessions) and notes which prefixes
changed; another makes passes: re-read those prefixes from gobgpd (all of them at the start,
after gobgpd came back and every ``resync`` seconds), read what the kernel holds, plan in the
pure core (``nexthop_groups.plan``) and apply only the difference. The RIB is read from
gobgpd, never remembered from what was written, and the kernel is read on every pass.

While gobgpd is away, or back but not yet through learning its RIB, nothing is written
(``fib_hold``): the kernel keeps forwarding as it did, and no bucket moves.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog

from lbroute.core import bgp
from lbroute.core import nexthop_groups as ng
from lbroute.core.events import PrefixesTouched, SessionReport, WatchReport
from lbroute.core.rib import Path
from lbroute.core.session import Session
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpError, describe, is_transient
from lbroute.kernel.ip import IpCommandError
from lbroute.kernel.nexthops import Kernel, refusal_is_permanent

from . import fib_hold
from .config import FibConfig
from .reconcile import MAX_BACKOFF, backoff_seconds

log = structlog.get_logger()

# a pass gobgpd could not answer is tried again this much later; one the kernel refused, after
# the reconciler's backoff (``MAX_BACKOFF`` when no retry can mend it)
RETRY_SECONDS = 1.0
FAMILIES = (bgp.Family.IPV4_UNICAST, bgp.Family.IPV6_UNICAST)


class RibSource(Protocol):
    """What the writer needs of gobgpd: ``GobgpClient``, or a fake."""

    target: str

    def list_paths(
        self, family: bgp.Family = ..., *, prefixes: tuple[str, ...] = (), ordered: bool = True
    ) -> list[Path]: ...

    def list_sessions(self, at: str, *, advertised: bool = True) -> list[Session]: ...


class KernelPort(Protocol):
    def observe(self) -> ng.KernelFib: ...

    def apply(self, ops: tuple[ng.Operation, ...], settings: ng.GroupSettings) -> int: ...


def _family(prefix: str) -> bgp.Family:
    return bgp.Family.IPV6_UNICAST if ":" in prefix else bgp.Family.IPV4_UNICAST


class FibWriter:
    def __init__(
        self,
        rib: RibSource,
        kernel: KernelPort,
        settings: ng.GroupSettings,
        *,
        settle: float,
        hold_limit: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.rib = rib
        self.kernel = kernel
        self.settings = settings
        self.settle = settle
        self.hold_limit = hold_limit
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._dirty: set[str] = set()
        self._full = True  # the next pass re-reads the whole RIB
        self._answering = True  # the event stream runs (what gobgpd says can be trusted)
        self._learned = False  # gobgpd's RIB is learned since it (or we) last started
        self._paths: dict[str, list[Path]] = {}  # per prefix, as gobgpd last listed it
        self.hold = fib_hold.Hold()
        self._problems: tuple[str, ...] = ()
        self.retry_at: float | None = None
        self.refusals = 0  # the kernel's refusals in a row
        self._refused: bool | None = None  # the last refusal's kind (permanent?); None: none
        self.passes = 0

    # --- what the event stream says, from its thread ----------------------------------------

    def touched(self, prefixes: tuple[str, ...]) -> None:
        with self._lock:
            self._dirty.update(prefixes)
        self._wake.set()

    def sessions_changed(self) -> None:
        self._wake.set()

    def lost(self) -> None:
        """gobgpd's event stream ended: it is away (killed, restarting), or it was us."""
        with self._lock:
            self._answering = False
            self._learned = False
        self._wake.set()

    def answering(self) -> None:
        """gobgpd answers again: a new one, with a RIB to learn."""
        with self._lock:
            self._answering = True
            self._learned = False
            self._full = True
        self._wake.set()

    def resync(self) -> None:
        with self._lock:
            self._full = True
        self._wake.set()

    # --- passes -----------------------------------------------------------------------------

    def wait(self, timeout: float) -> None:
        """Until something changed, or ``timeout``, or a deadline of ours (a retry, a hold's end,
        a session's settle time) comes."""
        due = [timeout]
        now = self._clock()
        for at in (self.retry_at, fib_hold.due(self.hold, self.hold_limit)):
            if at is not None:
                due.append(max(at - now, 0.0))
        if self.hold.since is not None and not self.hold.released and self._answering:
            # look again at the sessions while they settle; a released hold follows the RIB's
            # events (and the resync), and sessions that settle later change nothing
            due.append(min(self.settle, 1.0))
        self._wake.wait(min(due))
        self._wake.clear()

    def pass_once(self) -> ng.FibPlan | None:
        """One pass; the plan applied, or None when the kernel was held (or a retry is due later)."""
        now = self._clock()
        if self.retry_at is not None and now < self.retry_at:
            return None
        with self._lock:
            answering = self._answering
        try:
            kernel = self.kernel.observe()
            # nothing of ours in the kernel: nothing to hold (a router's first start), so follow
            # the RIB as it is learned
            whole = answering and (not self._ours(kernel) or self._rib_learned())
            if whole:
                with self._lock:
                    self._learned = self._answering
            held = self.hold.seconds(now)
            self.hold, verdict, say = fib_hold.decide(self.hold, whole, now, self.hold_limit)
            self._say(say, answering, held)
            if verdict is fib_hold.Verdict.HOLD:
                return None
            if answering:
                self._read_rib()
            else:
                self._paths = {}  # released with nobody answering: nothing is known
            desired = ng.desired_hops(p for paths in self._paths.values() for p in paths)
            todo = ng.plan(desired, kernel, self.settings)
            self.kernel.apply(todo.operations, self.settings)
        except IpCommandError as err:
            self._kernel_refused(err, now)
            return None
        except GobgpError as err:
            # away (the stream's end, if that is it, comes soon), or refusing reads until the
            # reconciler has started BGP in it: either way, look again a little later
            level = "warning" if is_transient(err) else "info"
            getattr(log, level)("rr.fib.read_failed", target=self.rib.target, error=describe(err))
            self.retry_at = now + RETRY_SECONDS
            with self._lock:
                self._full = True
            return None
        self.retry_at = None
        if self._refused is not None:
            log.info("rr.fib.apply_recovered", count=self.refusals)
        self.refusals, self._refused = 0, None
        self.passes += 1
        for op in todo.operations:
            log.info("rr.fib.op.applied", op=ng.describe(op))
        log.info("rr.fib.pass.done", count=len(todo.operations), seconds=round(self._clock() - now, 4))
        if todo.problems != self._problems:
            for problem in todo.problems:
                log.warning("rr.fib.problem", error=problem)
            self._problems = todo.problems
        return todo

    def _kernel_refused(self, err: IpCommandError, now: float) -> None:
        """Tried again after the backoff, whole; said once per kind of refusal, not per retry."""
        self.refusals += 1
        permanent = refusal_is_permanent(err)
        seconds = MAX_BACKOFF if permanent else backoff_seconds(self.refusals)
        self.retry_at = now + seconds
        with self._lock:
            self._full = True
        if permanent is not self._refused:
            if permanent:
                log.error("rr.fib.apply_refused", error=str(err)[:300], seconds=seconds)
            else:
                log.warning("rr.fib.apply_failed", error=str(err)[:300], seconds=round(seconds, 3))
        else:
            log.debug("rr.fib.apply_failed", count=self.refusals, seconds=round(seconds, 3))
        self._refused = permanent

    def _ours(self, kernel: ng.KernelFib) -> bool:
        s = self.settings
        return any(r.protocol == s.protocol and r.metric == s.metric for r in kernel.routes)

    def _rib_learned(self) -> bool:
        if self._learned:
            return True
        try:
            sessions = self.rib.list_sessions("router", advertised=False)
        except GobgpError:
            return False  # away, or BGP not started in it yet: nothing learned
        learned = fib_hold.learned(sessions, self._wall(), self.settle)
        with self._lock:
            if self._answering:
                self._learned = learned
        return learned

    def _read_rib(self) -> None:
        with self._lock:
            full, dirty = self._full, self._dirty
            self._full, self._dirty = False, set()
        try:
            if full:
                self._paths = {}
                for family in FAMILIES:
                    for p in self.rib.list_paths(family, ordered=False):
                        self._paths.setdefault(p.prefix, []).append(p)
                return
            for family in FAMILIES:
                asked = tuple(sorted(p for p in dirty if _family(p) is family))
                if not asked:
                    continue
                fresh: dict[str, list[Path]] = {}
                for p in self.rib.list_paths(family, prefixes=asked, ordered=False):
                    fresh.setdefault(p.prefix, []).append(p)
                for prefix in asked:
                    if prefix in fresh:
                        self._paths[prefix] = fresh[prefix]
                    else:
                        self._paths.pop(prefix, None)
        except BaseException:
            with self._lock:  # read again next time, whole
                self._full = True
            raise

    def _say(self, say: fib_hold.Say | None, answering: bool, held: float) -> None:
        if say is fib_hold.Say.STARTED:
            why = "gobgpd is not answering" if not answering else "gobgpd's RIB is not learned yet"
            log.warning("rr.fib.hold.started", error=why, seconds=self.hold_limit)
        elif say is fib_hold.Say.ENDED:
            log.info("rr.fib.hold.ended", seconds=round(held, 3))
        elif say is fib_hold.Say.RELEASED:
            log.warning("rr.fib.hold.released", seconds=self.hold_limit)

    def run(self, stop: threading.Event, resync_interval: float) -> None:
        """Passes until ``stop``: on every change, and the whole RIB every ``resync_interval``."""
        next_resync = self._clock() + resync_interval
        while not stop.is_set():
            self.pass_once()
            self.wait(max(next_resync - self._clock(), 0.0))
            if self._clock() >= next_resync:
                self.resync()
                next_resync = self._clock() + resync_interval

    def stop(self) -> None:
        self._wake.set()


def follow(
    writer: FibWriter,
    watch: Callable[[], Iterable[WatchReport]],
    wait_ready: Callable[[float], None],
    stop: threading.Event,
) -> None:
    """The event stream into ``writer``, until ``stop``: a stream that ends means gobgpd went away;
    wait until it answers and follow the new one."""
    while not stop.is_set():
        try:
            for report in watch():
                _note(writer, report)
                if stop.is_set():
                    return
        except GobgpError as err:
            if not is_transient(err):
                log.warning("rr.fib.watch_failed", error=describe(err))
        if stop.is_set():
            return
        writer.lost()
        while not stop.is_set():
            try:
                wait_ready(0.5)
                break
            except GobgpError:
                continue
        if not stop.is_set():
            writer.answering()
        stop.wait(0.1)  # a stream that keeps failing against a live daemon must not spin


def _note(writer: FibWriter, report: WatchReport) -> None:
    match report:
        case PrefixesTouched():
            writer.touched(report.prefixes)
        case SessionReport():
            writer.sessions_changed()
        case _:
            pass


def settings_of(fib: FibConfig) -> ng.GroupSettings:
    return ng.GroupSettings(
        ng.Resilient(fib.buckets, fib.idle_timer, fib.unbalanced_timer),
        fib.protocol,
        first_id=fib.nexthop_ids[0],
        last_id=fib.nexthop_ids[1],
    )


def start(fib: FibConfig, client: GobgpClient, stop: threading.Event, resync_interval: float) -> FibWriter:
    """The writer and its event stream, each on a thread of its own (daemon threads: ``stop``
    and closing ``client`` end them). Anything unexpected in them is a bug: the process ends
    loudly (exit 70), and its supervisor starts it again."""
    writer = FibWriter(
        client, Kernel(), settings_of(fib), settle=fib.settle_seconds, hold_limit=fib.hold_seconds
    )
    follow_args = (writer, lambda: client.watch(adj_in=False), lambda t: client.wait_ready(t), stop)
    for name, target, args in (
        ("fib-watch", follow, follow_args),
        ("fib-writer", writer.run, (stop, resync_interval)),
    ):
        threading.Thread(target=_or_crash, args=(target, args, stop), name=name, daemon=True).start()
    log.info("rr.fib.started", op="resilient", count=fib.buckets)
    return writer


def _or_crash(target: Callable[..., None], args: tuple[object, ...], stop: threading.Event) -> None:
    try:
        target(*args)
    except BaseException:
        if stop.is_set():
            return  # the manager is stopping and closed the client under us
        log.exception("rr.fib.failed")
        os._exit(70)  # EX_SOFTWARE: a thread of ours died; the process must not go on without it
