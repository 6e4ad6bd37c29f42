"""``lbroute-announcer``: run by exabgp as its API process in an LB pod.

    lbroute-announcer run --config FILE [--next-hop IP]   (what exabgp's ``process`` runs)
    lbroute-announcer config check FILE
    lbroute-announcer render-exabgp-config FILE
    lbroute-announcer drain --socket PATH                  (a preStop hook)

The main thread owns all decisions: probe threads, Kubernetes informers, signals and the
control socket only put events on a queue. Each event goes through the pure
``health.step``; ``state.decide`` turns every service's state into the full desired set,
and ``Announcer.converge`` sends exabgp the difference, reading every answer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config

from . import metrics
from .config import AnnouncerConfig, ServiceConfig
from .control import ControlRequest, ControlServer, request_drain
from .exabgp import ExabgpChannel, ExabgpGone
from .exabgp_config import render_exabgp_config
from .health import HealthState, Observation, Phase, Thresholds, step
from .kube_view import KubeUpdate
from .probes import ProbeLoop, ProbeResult
from .state import Route, ServiceRoutes, ServiceView, commands, decide, desired_routes

EXIT_CONFIG = 2
RETRY_SECONDS = 1.0
TICK_SECONDS = 0.1
log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-announcer", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="act as exabgp's API process")
    run_p.add_argument(
        "--config",
        default=os.environ.get("LBROUTE_ANNOUNCER_CONFIG"),
        required="LBROUTE_ANNOUNCER_CONFIG" not in os.environ,
        help="config file (default: $LBROUTE_ANNOUNCER_CONFIG)",
    )
    run_p.add_argument("--next-hop", default=None, help="node IP; overrides the config and $NODE_IP")
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check_p = check.add_parser("check", help="validate a config file")
    check_p.add_argument("file")
    check_p.add_argument("--next-hop", default=None)
    render = sub.add_parser("render-exabgp-config", help="write exabgp.conf for this config to stdout")
    render.add_argument("file")
    drain = sub.add_parser("drain", help="ask the running announcer to withdraw and drain; wait for it")
    drain.add_argument("--socket", required=True)
    drain.add_argument("--timeout", type=float, default=120.0)
    return parser


def load(path: str, next_hop_override: str | None) -> tuple[AnnouncerConfig, str]:
    """The config and the next-hop, or a ConfigError listing every problem."""
    cfg = load_config(path, AnnouncerConfig)
    if next_hop_override:
        try:
            cfg = AnnouncerConfig.model_validate({**cfg.model_dump(), "next_hop": next_hop_override})
        except ValueError:
            raise ConfigError(
                path, [Problem("--next-hop", f"{next_hop_override!r} is not an IP address such as 10.0.0.11")]
            ) from None
    try:
        next_hop = cfg.resolve_next_hop()
    except ValueError as err:
        raise ConfigError(path, [Problem("next_hop", str(err))]) from None
    return cfg, next_hop


def static_routes(cfg: AnnouncerConfig, next_hop: str) -> frozenset[Route]:
    services = [ServiceRoutes(s.name, s.vips, s.communities, s.med, s.local_preference) for s in cfg.services]
    return desired_routes(services, next_hop)


class Announcer:
    """The exabgp side: holds what exabgp acknowledged and sends only the difference."""

    def __init__(
        self,
        channel: ExabgpChannel,
        *,
        maybe_announced: frozenset[Route] = frozenset(),
        ack_timeout: float = 5.0,
    ) -> None:
        self.channel = channel
        self.announced: frozenset[Route] = frozenset()
        # routes a previous instance of us may have left in exabgp (it respawned us)
        self.maybe_announced = maybe_announced
        self.ack_timeout = ack_timeout
        self.failed = 0

    def converge(self, desired: frozenset[Route], hold: frozenset[str] = frozenset()) -> bool:
        """Send the difference; True when exabgp accepted all of it."""
        announced = set(self.announced)
        maybe = set(self.maybe_announced)
        failed = 0
        plan = commands(desired, self.announced, maybe_announced=self.maybe_announced, hold=hold)
        for verb, route in plan:
            command = route.announce_command() if verb == "announce" else route.withdraw_command()
            if not self.channel.send(command, timeout=self.ack_timeout):
                failed += 1
                log.error("announcer.command.failed", op=verb, prefix=route.prefix, nexthop=route.next_hop)
                continue
            maybe = {r for r in maybe if r.prefix != route.prefix}
            if verb == "announce":
                announced = {r for r in announced if r.prefix != route.prefix} | {route}
                log.info("announcer.vip.announced", prefix=route.prefix, nexthop=route.next_hop)
            else:
                announced.discard(route)
                log.info("announcer.vip.withdrawn", prefix=route.prefix, nexthop=route.next_hop)
        # desired routes exabgp already acknowledged are certain now
        maybe -= desired
        self.announced = frozenset(announced)
        self.maybe_announced = frozenset(maybe)
        self.failed = failed
        return failed == 0


@dataclass
class ServiceRuntime:
    config: ServiceConfig
    health: HealthState = field(default_factory=HealthState)
    vips: tuple[str, ...] | None = None
    ready_endpoints: int | None = None

    @property
    def thresholds(self) -> Thresholds:
        check = self.config.check
        return Thresholds(check.rise, check.fall) if check else Thresholds(1, 1)

    def view(self) -> ServiceView:
        c = self.config
        return ServiceView(
            ServiceRoutes(c.name, c.vips, c.communities, c.med, c.local_preference),
            self.health,
            self.vips,
            self.ready_endpoints if c.kubernetes and c.kubernetes.withdraw_without_endpoints else None,
        )


@dataclass(frozen=True)
class SignalEvent:
    signum: int


class Runner:
    def __init__(self, cfg: AnnouncerConfig, next_hop: str, channel: ExabgpChannel) -> None:
        self.cfg = cfg
        self.next_hop = next_hop
        self.events: queue.Queue[Any] = queue.Queue()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        self.services = {
            s.name: ServiceRuntime(s, vips=None if s.kubernetes else s.vips) for s in cfg.services
        }
        self.announcer = Announcer(
            channel, maybe_announced=static_routes(cfg, next_hop), ack_timeout=cfg.ack_timeout
        )
        self.maintenance_by_signal = False
        self.maintenance = False
        self.drain_requests: list[ControlRequest] = []
        self.drained_at: float | None = None  # when every withdrawal was acknowledged
        self.drain_done = False
        self.exit_after_drain = False
        self.retry_at: float | None = None
        self.dirty = True
        self.exported_vips: set[tuple[str, str]] = set()
        self._stoppers: list[Any] = []

    # --- inputs, from any thread ------------------------------------------------------------

    def put(self, event: Any) -> None:
        self.events.put(event)
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_w, b"\0")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.put(SignalEvent(signum))

    # --- lifecycle --------------------------------------------------------------------------

    def start_inputs(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, self._on_signal)
        if self.cfg.metrics.port:
            metrics.serve(self.cfg.metrics.address, self.cfg.metrics.port)
        if self.cfg.drain_marker and Path(self.cfg.drain_marker).exists():
            log.info("announcer.drain.resumed", target=self.cfg.drain_marker)
            self._begin_drain(None)
        if self.cfg.control_socket:
            ControlServer(self.cfg.control_socket, self.put).start()
        for rt in self.services.values():
            metrics.set_phase(rt.config.name, rt.health.phase)
            if rt.config.check is None:
                self.put(ProbeResult(rt.config.name, True, 0.0, "no check configured"))
            else:
                loop = ProbeLoop(rt.config.name, rt.config.check, self.put)
                loop.start()
                self._stoppers.append(loop)
        if self.cfg.uses_kubernetes:
            from .kube_source import start_informers

            self._stoppers += start_informers(self.cfg, self.put)

    def stop_inputs(self) -> None:
        for stopper in self._stoppers:
            stopper.stop()

    def run(self) -> int:
        channel = self.announcer.channel
        while True:
            timeout = TICK_SECONDS
            if channel.has_buffered_line():
                timeout = 0
            ready, _, _ = select.select([channel.fileno(), self.wake_r], [], [], timeout)
            if channel.fileno() in ready or channel.has_buffered_line():
                channel.drain_unsolicited()
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)
            self._handle_events()
            self._check_maintenance_file()
            now = time.monotonic()
            if self.dirty or (self.retry_at is not None and now >= self.retry_at):
                self._converge()
            if self._drain_finished(time.monotonic()) and self.exit_after_drain:
                log.info("announcer.exit", count=len(self.announcer.announced))
                return 0

    # --- the decisions ----------------------------------------------------------------------

    def _observe(self, rt: ServiceRuntime, observation: Observation) -> None:
        before = rt.health
        rt.health, actions = step(rt.health, observation, rt.thresholds)
        if rt.health.phase is not before.phase:
            metrics.set_phase(rt.config.name, rt.health.phase)
            log.info(
                "announcer.service.phase",
                target=rt.config.name,
                op=observation.value,
                phase=rt.health.phase.value,
                was=before.phase.value,
                actions=[a.value for a in actions],
            )
        if actions:
            self.dirty = True

    def _handle_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, ProbeResult):
                rt = self.services[event.service]
                metrics.CHECKS.labels(service=event.service, result="ok" if event.ok else "failed").inc()
                metrics.CHECK_SECONDS.labels(service=event.service).observe(event.seconds)
                if not event.ok:
                    log.debug("announcer.check.failed", target=event.service, error=event.reason)
                self._observe(rt, Observation.CHECK_OK if event.ok else Observation.CHECK_FAILED)
            elif isinstance(event, KubeUpdate):
                rt = self.services[event.service]
                if event.vips is not None and event.vips != rt.vips:
                    log.info("announcer.kube.vips", target=event.service, count=len(event.vips))
                    rt.vips = event.vips
                    self.dirty = True
                if event.ready_endpoints is not None and event.ready_endpoints != rt.ready_endpoints:
                    log.info("announcer.kube.endpoints", target=event.service, count=event.ready_endpoints)
                    rt.ready_endpoints = event.ready_endpoints
                    self.dirty = True
            elif isinstance(event, ControlRequest):
                self._begin_drain(event)
            elif isinstance(event, SignalEvent):
                if event.signum in (signal.SIGTERM, signal.SIGINT):
                    self.exit_after_drain = True
                    self._begin_drain(None)
                else:
                    self.maintenance_by_signal = event.signum == signal.SIGUSR1
                    log.info("announcer.maintenance.signal", op="on" if self.maintenance_by_signal else "off")
            else:
                log.error("announcer.event.unknown", op=repr(event))

    def _check_maintenance_file(self) -> None:
        by_file = bool(self.cfg.maintenance_file) and os.path.exists(self.cfg.maintenance_file or "")
        wanted = by_file or self.maintenance_by_signal
        if wanted != self.maintenance:
            self.maintenance = wanted
            log.info("announcer.maintenance", op="on" if wanted else "off")
            observation = Observation.MAINTENANCE_ON if wanted else Observation.MAINTENANCE_OFF
            for rt in self.services.values():
                self._observe(rt, observation)
                if not wanted and rt.config.check is None:
                    # no probe will ever report: "no check" means healthy, so say it again
                    self._observe(rt, Observation.CHECK_OK)

    def _begin_drain(self, request: ControlRequest | None) -> None:
        if request is not None:
            self.drain_requests.append(request)
            if self.drained_at is not None:
                request.reply("withdrawn")
        if any(rt.health.phase is not Phase.DRAINING for rt in self.services.values()):
            log.info("announcer.drain.started", count=len(self.announcer.announced))
            if self.cfg.drain_marker:
                Path(self.cfg.drain_marker).write_text("draining\n")
            for rt in self.services.values():
                self._observe(rt, Observation.DRAIN)
            self.dirty = True

    def _converge(self) -> None:
        self.dirty = False
        desired, hold = decide([rt.view() for rt in self.services.values()], self.next_hop)
        ok = self.announcer.converge(desired, hold)
        self.retry_at = None if ok else time.monotonic() + RETRY_SECONDS
        exported = set()
        for rt in self.services.values():
            for vip in rt.vips or ():
                held = any(r.prefix == vip for r in self.announcer.announced)
                metrics.VIP_ANNOUNCED.labels(service=rt.config.name, prefix=vip).set(1 if held else 0)
                exported.add((rt.config.name, vip))
        for service, vip in self.exported_vips - exported:
            metrics.VIP_ANNOUNCED.remove(service, vip)  # a VIP the Service no longer has
        self.exported_vips = exported
        draining = all(rt.health.phase is Phase.DRAINING for rt in self.services.values())
        if draining and ok and self.drained_at is None and not self.announcer.maybe_announced:
            self.drained_at = time.monotonic()
            log.info("announcer.drain.withdrawn", seconds=self.cfg.drain_seconds)
            for request in self.drain_requests:
                request.reply("withdrawn")

    def _drain_finished(self, now: float) -> bool:
        if self.drained_at is None or now < self.drained_at + self.cfg.drain_seconds:
            return False
        if not self.drain_done:
            self.drain_done = True
            log.info("announcer.drain.done")
        for request in self.drain_requests:
            request.reply("drained")
            request.close()
        self.drain_requests.clear()
        return True


def run(cfg_path: str, next_hop_override: str | None) -> int:
    cfg, next_hop = load(cfg_path, next_hop_override)
    channel = ExabgpChannel(sys.stdin.buffer, sys.stdout.buffer)
    runner = Runner(cfg, next_hop, channel)
    log.info("announcer.started", count=len(cfg.services), pid=os.getpid(), nexthop=next_hop)
    try:
        runner.start_inputs()
        return runner.run()
    except ExabgpGone as gone:
        log.info("announcer.exabgp.gone", reason=str(gone) or "stdin closed")
        return 0
    finally:
        runner.stop_inputs()


def drain(socket_path: str, timeout: float) -> int:
    try:
        ok = request_drain(socket_path, timeout, lambda line: log.info("announcer.drain.answer", op=line))
    except OSError as err:
        sys.stderr.write(f"drain: cannot reach the announcer at {socket_path}: {err}\n")
        return 1
    if not ok:
        sys.stderr.write("drain: the announcer closed the socket before the drain was over\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    try:
        if args.command == "config":
            cfg, next_hop = load(args.file, args.next_hop)
            count = len(static_routes(cfg, next_hop))
            sys.stderr.write(f"{args.file}: ok ({len(cfg.services)} services, {count} static routes)\n")
            return 0
        if args.command == "render-exabgp-config":
            cfg = load_config(args.file, AnnouncerConfig)
            if cfg.exabgp is None:
                raise ConfigError(args.file, [Problem("exabgp", "required to render exabgp's config")])
            passwords, problems = {}, []
            for i, neighbor in enumerate(cfg.exabgp.neighbors):
                if neighbor.md5_password_file:
                    try:
                        passwords[neighbor.address] = Path(neighbor.md5_password_file).read_text().strip()
                    except OSError as err:
                        where = f"exabgp.neighbors[{i}].md5_password_file"
                        problems.append(Problem(where, f"cannot read: {err.strerror}"))
            if problems:
                raise ConfigError(args.file, problems)
            # stdout is fine here: this command is not exabgp's API process
            sys.stdout.write(render_exabgp_config(cfg.exabgp, passwords))
            return 0
        if args.command == "drain":
            return drain(args.socket, args.timeout)
        return run(args.config, args.next_hop)
    except ConfigError as err:
        for line in err.lines():
            sys.stderr.write(line + "\n")
        return EXIT_CONFIG


if __name__ == "__main__":
    raise SystemExit(main())
