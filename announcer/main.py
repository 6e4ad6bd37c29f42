"""``lbroute-announcer``: run by exabgp as its API process in an LB pod.

    lbroute-announcer run --config FILE [--next-hop IP] [--next-hop6 IP]   (exabgp's ``process``)
    lbroute-announcer config check FILE [--next-hop IP] [--next-hop6 IP]
    lbroute-announcer render-exabgp-config FILE [--output PATH]
    lbroute-announcer render-bfdd-config FILE [--output PATH]              (FRR bfdd beside exabgp)
    lbroute-announcer drain --socket PATH [--timeout SECONDS]              (a preStop hook)

The main thread owns all decisions: probe threads, Kubernetes informers, signals and the
control socket only put events on a queue. ``Runner`` is wiring: it feeds each event and
the clock to the pure ``lifecycle.step`` and carries out the effects it returns (commands
to exabgp through ``Announcer.converge``, answers on the control socket, logs, metrics).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import select
import signal
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import structlog
from pydantic import ValidationError

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config
from lbroute.config.loader import problems_of

from . import config as announcer_config
from . import connections, exabgp_conf_file, lifecycle, metrics, preflight
from .bfdd_config import HEADER as BFDD_HEADER
from .bfdd_config import render_bfdd_config
from .config import AnnouncerConfig, next_hop_value, shown
from .control import ControlRequest, ControlServer, ControlSocketError, request_drain
from .exabgp import Announcer, ExabgpChannel, ExabgpGone
from .exabgp_config import render_exabgp_config
from .kube_view import KubeUpdate
from .lifecycle import (
    Close,
    Connections,
    Converge,
    Converged,
    DrainRequested,
    Effect,
    Exit,
    Log,
    MaintenanceFile,
    MaintenanceSignal,
    PhaseChanged,
    ProbeResult,
    Reply,
    Started,
    Tick,
    WriteDrainMarker,
)
from .md5_keys import read_keys
from .probes import ProbeLoop
from .state import NextHops

EXIT_CONFIG = 2
TICK_SECONDS = 0.1
LOG_LEVELS = ("debug", "info", "warning", "error")
log = structlog.get_logger()


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (and exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a positive number of seconds such as 120")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lbroute-announcer", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('lbroute')}")
    parser.add_argument("--log-level", default=None, choices=LOG_LEVELS)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="act as exabgp's API process")
    run_p.add_argument(
        "--config",
        default=os.environ.get("LBROUTE_ANNOUNCER_CONFIG"),
        required="LBROUTE_ANNOUNCER_CONFIG" not in os.environ,
        help="config file (default: $LBROUTE_ANNOUNCER_CONFIG)",
    )
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check_p = check.add_parser("check", help="validate a config file and the paths it names")
    check_p.add_argument("file")
    for p in (run_p, check_p):
        p.add_argument("--next-hop", default=None, help="node IP; overrides the config and $NODE_IP")
        p.add_argument(
            "--next-hop6", default=None, help="node IPv6 address; overrides the config and $NODE_IP6"
        )
    render = sub.add_parser("render-exabgp-config", help="exabgp.conf for this config (stdout or --output)")
    render.add_argument("file")
    render.add_argument(
        "--output",
        default=None,
        help="write it here, mode 0600, atomically; replaces only a file this command wrote",
    )
    render_bfdd = sub.add_parser(
        "render-bfdd-config", help="bfdd.conf (FRR's BFD daemon beside exabgp) for this config"
    )
    render_bfdd.add_argument("file")
    render_bfdd.add_argument(
        "--output",
        default=None,
        help="write it here, mode 0600, atomically; replaces only a file this command wrote",
    )
    drain = sub.add_parser("drain", help="ask the running announcer to withdraw and drain; wait for it")
    drain.add_argument("--socket", required=True)
    drain.add_argument("--timeout", type=seconds, default=120.0, help="seconds to wait for each answer")
    return parser


def load(
    path: str, next_hop_override: str | None = None, next_hop6_override: str | None = None
) -> tuple[AnnouncerConfig, NextHops]:
    """The config and the next-hops, or a ConfigError listing every problem."""
    cfg = load_config(path, AnnouncerConfig)
    overrides, problems = {}, []
    for flag, key, value in (
        ("--next-hop", "next_hop", next_hop_override),
        ("--next-hop6", "next_hop6", next_hop6_override),
    ):
        if value is None:
            continue
        try:
            overrides[key] = next_hop_value(value, six=key == "next_hop6")
        except ValueError as err:
            problems.append(Problem(flag, str(err).replace(repr(value), shown(value))))
    if problems:
        raise ConfigError(path, problems)
    if overrides:
        try:
            cfg = AnnouncerConfig.model_validate({**cfg.model_dump(), **overrides})
        except ValidationError as err:
            raise ConfigError(path, problems_of(err)) from None
    next_hops, problems = cfg.resolve_next_hops()
    if problems:
        raise ConfigError(path, problems)
    return cfg, next_hops


class StartupError(Exception):
    """An input the announcer cannot open (metrics port, control socket): exit 2 before any
    command reaches exabgp."""


@dataclass(frozen=True)
class SignalEvent:
    signum: int


class Runner:
    """Feeds ``lifecycle.step`` and carries out its effects; holds only I/O handles."""

    def __init__(
        self,
        cfg: AnnouncerConfig,
        next_hops: NextHops,
        channel: ExabgpChannel,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.state = lifecycle.initial(cfg, next_hops)
        self.announcer = Announcer(
            channel, maybe_announced=lifecycle.static_routes(self.state), ack_timeout=cfg.ack_timeout
        )
        self.channel = channel
        self.events: queue.Queue[Any] = queue.Queue()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        self.requests: dict[int, ControlRequest] = {}
        self.next_request = 0
        self.exited = False
        self._stoppers: list[Any] = []

    # --- inputs, from any thread ------------------------------------------------------------

    def put(self, event: Any) -> None:
        self.events.put(event)
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_w, b"\0")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.put(SignalEvent(signum))

    # --- lifecycle --------------------------------------------------------------------------

    def open_inputs(self) -> None:
        """The listeners: a StartupError (exit 2) before anything is sent to exabgp."""
        if self.cfg.metrics.port:
            address, problems = self.cfg.metrics.resolve_address()
            if address is None:
                raise StartupError(str(problems[0]))
            try:
                metrics.serve(address, self.cfg.metrics.port)
            except metrics.MetricsError as err:
                raise StartupError(f"metrics: {err}") from None
        if self.cfg.control_socket:
            try:
                ControlServer(self.cfg.control_socket, self.put).start()
            except ControlSocketError as err:
                raise StartupError(f"control_socket: {err}") from None

    def start_inputs(self) -> None:
        """Signals, then the first decisions, then probes and informers."""
        signal.set_wakeup_fd(self.wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, self._on_signal)
        for service in self.state.services:
            metrics.set_phase(service.name, service.view.health.phase)
        marker = bool(self.cfg.drain_marker) and os.path.lexists(self.cfg.drain_marker or "")
        self.feed(Started(drain_marker=marker))
        for s in self.cfg.services:
            if s.check is not None:
                loop = ProbeLoop(s.name, s.check, self.put)
                loop.start()
                self._stoppers.append(loop)
        if self.cfg.uses_kubernetes:
            from .kube_source import start_informers

            self._stoppers += start_informers(self.cfg, self.put)

    def stop_inputs(self) -> None:
        for stopper in self._stoppers:
            stopper.stop()

    def run(self) -> int:
        while not self.exited:
            self.wait()
            self.turn()
        return 0

    def wait(self) -> None:
        """Until exabgp says something, an event is queued, or the next tick is due."""
        timeout = 0.0 if self.channel.has_buffered_line() else TICK_SECONDS
        due = lifecycle.deadline(self.state)
        if due is not None:
            timeout = min(timeout, max(due - self.clock(), 0.0))
        ready, _, _ = select.select([self.channel.fileno(), self.wake_r], [], [], timeout)
        if self.channel.fileno() in ready or self.channel.has_buffered_line():
            self.channel.drain_unsolicited()
        if self.wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self.wake_r, 4096)

    def turn(self) -> None:
        """One turn of the loop: every queued event, the maintenance file, the pod's connections
        (while a marked drain may end when they are done), then a tick (where the burst is
        converged at once)."""
        self._handle_events()
        maintenance = self.cfg.maintenance_file
        self.feed(MaintenanceFile(bool(maintenance) and os.path.lexists(maintenance or "")))
        if lifecycle.counting_connections(self.state):
            vips = [vip for s in self.state.services for vip in s.view.routes.vips or ()]
            self.feed(Connections(connections.read_count(vips)))
        self.feed(Tick())

    def feed(self, event: lifecycle.Event) -> None:
        self.state, effects = lifecycle.step(self.state, event, self.clock())
        for effect in effects:
            self._carry_out(effect)

    # --- events in, effects out -------------------------------------------------------------

    def _handle_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, ProbeResult):
                result = "ok" if event.ok else "failed"
                metrics.CHECKS.labels(service=event.service, result=result).inc()
                metrics.CHECK_SECONDS.labels(service=event.service).observe(event.seconds)
                if not event.ok:
                    log.debug("announcer.check.failed", target=event.service, error=event.reason)
                self.feed(event)
            elif isinstance(event, KubeUpdate):
                self.feed(event)
            elif isinstance(event, ControlRequest):
                self.next_request += 1
                self.requests[self.next_request] = event
                self.feed(DrainRequested(request=self.next_request))
            elif isinstance(event, SignalEvent):
                if event.signum in (signal.SIGTERM, signal.SIGINT):
                    self.feed(DrainRequested(exit=True))
                else:
                    self.feed(MaintenanceSignal(on=event.signum == signal.SIGUSR1))
            else:
                log.error("announcer.event.unknown", op=repr(event))

    def _carry_out(self, effect: Effect) -> None:
        if isinstance(effect, Converge):
            ok = self.announcer.converge(effect.desired, effect.hold)
            vips = [(s.name, vip) for s in self.state.services for vip in s.view.routes.vips or ()]
            metrics.export_vips(vips, self.announcer.announced)
            certain = not self.announcer.maybe_announced
            self.feed(Converged(effect, ok, certain, len(self.announcer.announced)))
        elif isinstance(effect, Reply):
            if effect.request in self.requests:
                self.requests[effect.request].reply(effect.line)
        elif isinstance(effect, Close):
            request = self.requests.pop(effect.request, None)
            if request is not None:
                request.close()
        elif isinstance(effect, WriteDrainMarker):
            self._write_drain_marker()
        elif isinstance(effect, PhaseChanged):
            metrics.set_phase(effect.service, effect.phase)
            log.info(
                "announcer.service.phase",
                target=effect.service,
                op=effect.op.value,
                phase=effect.phase.value,
                was=effect.was.value,
                actions=[a.value for a in effect.actions],
                **({"error": effect.reason} if effect.reason else {}),
            )
        elif isinstance(effect, Log):
            getattr(log, effect.level)(effect.event, **effect.fields)
        elif isinstance(effect, Exit):
            log.info("announcer.exit", count=effect.announced)
            self.exited = True

    def _write_drain_marker(self) -> None:
        """Never over an existing file (O_EXCL), and a failure is a log line: the withdrawal
        went out before this, whatever happens here."""
        path = self.cfg.drain_marker
        if not path:
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return
        except OSError as err:
            log.error("announcer.drain.marker_failed", target=path, error=err.strerror or str(err))
            return
        try:
            os.write(fd, b"draining\n")
        except OSError as err:
            log.error("announcer.drain.marker_failed", target=path, error=err.strerror or str(err))
        finally:
            os.close(fd)


def run(cfg_path: str, next_hop: str | None, next_hop6: str | None) -> int:
    cfg, next_hops = load(cfg_path, next_hop, next_hop6)
    channel = ExabgpChannel(sys.stdin.buffer, sys.stdout.buffer)
    runner = Runner(cfg, next_hops, channel)
    try:
        runner.open_inputs()
    except StartupError as err:
        sys.stderr.write(f"{cfg_path}: {err}\n")
        return EXIT_CONFIG
    log.info(
        "announcer.started", count=len(cfg.services), pid=os.getpid(), nexthop=next_hops.v4 or next_hops.v6
    )
    try:
        runner.start_inputs()
        return runner.run()
    except ExabgpGone as gone:
        log.info("announcer.exabgp.gone", reason=str(gone) or "stdin closed")
        return 0
    finally:
        runner.stop_inputs()


def config_check(path: str, next_hop: str | None, next_hop6: str | None) -> int:
    cfg, next_hops = load(path, next_hop, next_hop6)
    problems, warnings = preflight.check(cfg)
    if problems:
        raise ConfigError(path, problems)
    for warning in warnings:
        sys.stderr.write(f"{path}: warning: {warning}\n")
    count = len(lifecycle.static_routes(lifecycle.initial(cfg, next_hops)))
    sys.stderr.write(f"{path}: ok ({len(cfg.services)} services, {count} static routes)\n")
    return 0


def default_announcer_command(path: str) -> str:
    """This install's ``lbroute-announcer``, run with the config being rendered: right in a
    venv, under /usr/local and in the image alike (a ValueError if exabgp.conf cannot hold it)."""
    program = Path(sysconfig.get_path("scripts")) / "lbroute-announcer"
    return announcer_config.command_line(f"{program} run --config {Path(path).resolve()}")


def render(path: str, output: str | None) -> int:
    cfg = load_config(path, AnnouncerConfig)
    if cfg.exabgp is None:
        raise ConfigError(path, [Problem("exabgp", "required to render exabgp's config")])
    keys, problems = read_keys(cfg.exabgp)
    local, local_problems = cfg.exabgp.resolve_local_address()
    problems += local_problems
    command = cfg.exabgp.announcer_command
    if command is None:
        try:
            command = default_announcer_command(path)
        except ValueError as err:
            problems.append(Problem("exabgp.announcer_command", f"not set, and the default cannot be: {err}"))
    if problems:
        raise ConfigError(path, problems)
    text = render_exabgp_config(cfg.exabgp, keys, local_address=local, command=command)
    if output is None:
        # stdout is fine here: this command is not exabgp's API process
        sys.stdout.write(text)
        return 0
    try:
        exabgp_conf_file.write(output, text)
    except exabgp_conf_file.OutputError as err:
        sys.stderr.write(f"render-exabgp-config: --output: {err}\n")
        return EXIT_CONFIG
    return 0


def render_bfdd(path: str, output: str | None) -> int:
    cfg = load_config(path, AnnouncerConfig)
    if cfg.exabgp is None or cfg.exabgp.bfd is None:
        raise ConfigError(path, [Problem("exabgp.bfd", "required to render bfdd's config")])
    local, problems = cfg.exabgp.resolve_local_address()
    if problems:
        raise ConfigError(path, problems)
    text = render_bfdd_config(cfg.exabgp, local_address=local)
    if output is None:
        sys.stdout.write(text)  # not exabgp's API process: stdout is free
        return 0
    try:
        exabgp_conf_file.write(output, text, header=BFDD_HEADER, command="render-bfdd-config")
    except exabgp_conf_file.OutputError as err:
        sys.stderr.write(f"render-bfdd-config: --output: {err}\n")
        return EXIT_CONFIG
    return 0


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
            return config_check(args.file, args.next_hop, args.next_hop6)
        if args.command == "render-exabgp-config":
            return render(args.file, args.output)
        if args.command == "render-bfdd-config":
            return render_bfdd(args.file, args.output)
        if args.command == "drain":
            return drain(args.socket, args.timeout)
        return run(args.config, args.next_hop, args.next_hop6)
    except ConfigError as err:
        for line in err.lines():
            sys.stderr.write(line + "\n")
        return EXIT_CONFIG


if __name__ == "__main__":
    raise SystemExit(main())
