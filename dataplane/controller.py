"""The controller's loop: backend sources and the config in, the kernel's table out, the
status and metrics after every pass.

One thread decides: informer threads, SIGHUP and the resync timer only wake it. Each pass
builds the whole desired data plane (``desired.dataplane``, pure, from the *last good*
tables), lets the driver converge the kernel to it (nothing written when nothing differs)
and reads the kernel back. A table the kernel refuses leaves the last good one in place;
the pass is retried with the latest desired state after a capped backoff.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from lbroute.config import ConfigError
from lbroute.core import maglev
from lbroute.core.dataplane import Dataplane, Status, status_json, status_of

from . import desired
from .config import DataplaneConfig
from .drivers import Driver, LoadFailed
from .metrics import DataplaneMetrics
from .sources import Problem, Sources

log = structlog.get_logger()
MAX_BACKOFF = 5.0


def write_status(path: Path, status: Status) -> None:
    """Atomically: a reader sees the old status or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(status_json(status))
    tmp.replace(path)


class Controller:
    def __init__(
        self,
        cfg: DataplaneConfig,
        driver: Driver,
        metrics: DataplaneMetrics,
        *,
        clock: Callable[[], float] = time.time,
        watch_timeout: int = 60,
    ) -> None:
        self.cfg = cfg
        self.driver = driver
        self.metrics = metrics
        self.clock = clock
        self.good: Dataplane | None = None  # the last table the kernel took
        self.generation = 0
        self.error = ""
        self.in_sync = False
        self.problems: list[str] = []
        self._failures = 0
        self._wake = threading.Event()
        self.reload_pending = False
        self._empty: set[str] = set()
        self.sources = Sources(cfg, self.wake, self._problem, watch_timeout=watch_timeout)

    # --- inputs (any thread) ------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def _problem(self, problem: Problem) -> None:
        log.warning("dataplane.slice.refused", target=problem.slice, op=problem.kind, error=problem.what)
        self.metrics.input_errors.labels(problem.kind).inc()
        self.problems = [*self.problems, str(problem)][-20:]

    def reload(self, cfg: DataplaneConfig) -> bool:
        """A new config from SIGHUP: taken if only services' backends, ports and the like
        changed; what needs a restart (driver, namespace, backend sources) is refused, the
        old config keeps running, and a metric and a log event say so."""
        fixed = ("driver", "netns", "kubernetes", "metrics", "status_file")
        changed = [f for f in fixed if getattr(cfg, f) != getattr(self.cfg, f)]
        sources = [(s.name, s.kubernetes) for s in cfg.services if s.kubernetes is not None]
        if sources != [(s.name, s.kubernetes) for s in self.cfg.services if s.kubernetes is not None]:
            changed.append("services[].kubernetes")
        if changed:
            log.error("dataplane.config.refused", error=f"changing {', '.join(changed)} needs a restart")
            self.metrics.config_reloads.labels("refused").inc()
            return False
        self.cfg = cfg
        self.sources.reconfigure(cfg)
        self.metrics.config_reloads.labels("applied").inc()
        log.info("dataplane.config.reloaded", count=len(cfg.services))
        self.wake()
        return True

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event, load: Callable[[], DataplaneConfig] | None = None) -> None:
        """Until ``stop``; ``load`` reads the config again when ``reload_pending`` (SIGHUP) is set."""
        self.sources.start()
        try:
            while not stop.is_set():
                if self.reload_pending and load is not None:
                    self.reload_pending = False
                    try:
                        self.reload(load())
                    except ConfigError as err:
                        log.error("dataplane.config.refused", error="; ".join(err.lines())[:400])
                        self.metrics.config_reloads.labels("refused").inc()
                delay = self.reconcile()
                self._wake.wait(delay)
                self._wake.clear()
        finally:
            self.sources.stop()

    def reconcile(self) -> float:
        """One pass; returns the seconds until the next one (sooner after a failure)."""
        started = time.monotonic()
        endpoints = {s.name: self.sources.endpoints(s) for s in self.cfg.services}
        want = desired.dataplane(self.cfg, endpoints, self.good)
        self._report_empty(want)
        try:
            result = self.driver.converge(want)
        except LoadFailed as err:
            self._failures += 1
            self.error = str(err)
            self.metrics.load_errors.inc()
            log.error("dataplane.table.load_failed", error=self.error[:300], count=self._failures)
        else:
            self._failures = 0
            self.error = ""
            if result.changed:
                self._loaded(want, result.how, result.differences)
            self.good = want
        self.in_sync = self._check_in_sync()
        self._publish(started)
        if self._failures:
            return float(min(MAX_BACKOFF, 0.25 * 2 ** (self._failures - 1)))
        return self.cfg.resync_interval

    def _loaded(self, want: Dataplane, how: str, differences: tuple[str, ...]) -> None:
        self.generation += 1
        self.metrics.loads.labels(how).inc()
        before = self.good
        for t in want.tables:
            old = before.table(t.spec.name) if before else None
            if old is not None and len(old.buckets) == len(t.buckets) and old.buckets != t.buckets:
                self.metrics.buckets_moved.labels(t.spec.name).inc(maglev.moved(old.buckets, t.buckets))
        if before == want:
            # nothing we wanted changed, yet the kernel differed: someone changed our table
            log.warning("dataplane.table.drift", error="; ".join(differences)[:300], count=len(differences))
        log.info(
            "dataplane.table.loaded",
            op=how,
            count=sum(t.ready for t in want.tables),
            generation=self.generation,
            target=",".join(f"{t.spec.name}:{t.digest}" for t in want.tables),
        )

    def _report_empty(self, want: Dataplane) -> None:
        for t in want.tables:
            if t.ready == 0 and t.spec.name not in self._empty and self._source_listed(t.spec.name):
                self._empty.add(t.spec.name)
                kept = f"the last table ({len(t.in_table)} backends) stays" if t.buckets else "no table"
                log.warning("dataplane.backends.none", target=t.spec.name, error=f"no ready backend; {kept}")
                self.metrics.input_errors.labels("no_backends").inc()
            elif t.ready > 0:
                self._empty.discard(t.spec.name)

    def _source_listed(self, name: str) -> bool:
        service = next(s for s in self.cfg.services if s.name == name)
        return self.sources.endpoints(service) is not None

    def _check_in_sync(self) -> bool:
        if self.good is None:
            return False
        try:
            differences = self.driver.differences(self.good)
        except LoadFailed as err:
            self.error = self.error or str(err)
            return False
        if differences:
            self.error = self.error or "; ".join(differences)[:300]
        return not differences

    def status(self) -> Status:
        dp = self.good or desired.dataplane(self.cfg, {}, None)
        return status_of(
            self.driver.name,
            dp,
            now=self.clock(),
            synced=self.sources.listed,
            stale=self.sources.stale,
            in_sync=self.in_sync,
            generation=self.generation,
            error=self.error,
            pid=os.getpid(),
            problems=self.problems,
        )

    def _publish(self, started: float) -> None:
        status = self.status()
        if self.good is not None:
            self.metrics.record(self.good)
        self.metrics.generation.set(self.generation)
        self.metrics.in_sync.set(1 if self.in_sync else 0)
        self.metrics.synced.set(1 if status.synced and not status.stale else 0)
        self.metrics.reconcile_seconds.observe(time.monotonic() - started)
        if self.cfg.status_file:
            try:
                write_status(Path(self.cfg.status_file), status)
            except OSError as err:
                log.error("dataplane.status.unwritable", target=self.cfg.status_file, error=str(err))
