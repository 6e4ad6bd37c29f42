"""``lbroute-dataplane``: the LB pod's data plane — a Maglev table per service in the kernel.

lbroute-dataplane config check FILE            validate; exit 2 with one line per problem
lbroute-dataplane plan --config FILE           what run would change in the kernel now; changes nothing
lbroute-dataplane run --config FILE            keep the kernel's table converged until SIGTERM
lbroute-dataplane render-keepalived --config FILE [--output PATH]
                                               the seed's ipvs.conf for keepalived (static backends)
lbroute-dataplane status --config FILE [--max-age S]
                                               exit 0 while run keeps the kernel's table (the pod's
                                               readiness probe), else 1 and why

run leaves its table in the kernel when it stops (the pod keeps forwarding through a drain
and a restart adopts it); SIGHUP reloads the config (a bad one is refused, the old one runs on).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config
from lbroute.config.loader import read_text_file
from lbroute.core.dataplane import StatusUnreadable, parse_status, working
from lbroute.kernel.ip import IpCommandError
from lbroute.kernel.nft import NFT, Nft

from . import desired, keepalived
from .config import DataplaneConfig
from .controller import Controller
from .drivers import Driver, IpvsDriver, LoadFailed, NftDriver
from .metrics import DataplaneMetrics, serve
from .sources import KubeConfigError

EXIT_CONFIG = 2
STATUS_BYTES = 1 << 22  # as the announcer's check reads it: ~3 MB for 64 services of 1,000 backends
log = structlog.get_logger()
KEEPALIVED_HEADER = "# written by lbroute-dataplane render-keepalived"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-dataplane", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", type=str.lower, choices=logs.LEVELS, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check.add_parser("check", help="validate a config file").add_argument("file")
    for name, text in (("plan", "what run would change now"), ("run", "keep the kernel converged")):
        sub.add_parser(name, help=text).add_argument("--config", required=True)
    status = sub.add_parser("status", help="exit 0 while run keeps the kernel's table (a readiness probe)")
    status.add_argument("--config", required=True)
    status.add_argument(
        "--max-age", type=float, default=30.0, help="seconds after which the status file is stale (30)"
    )
    render = sub.add_parser("render-keepalived", help="the seed's ipvs.conf for keepalived")
    render.add_argument("--config", required=True)
    render.add_argument(
        "--output", type=Path, default=None, help="write here (only a file this command wrote)"
    )
    return parser


def preflight(cfg: DataplaneConfig) -> list[Problem]:
    """What the config names outside itself, checked at ``config check`` and start."""
    problems = []
    if cfg.driver.startswith("nft") and not NFT.exists():
        problems.append(Problem("driver", f"{cfg.driver} needs {NFT}; install Debian's nftables package"))
    if cfg.status_file and not Path(cfg.status_file).parent.is_dir():
        problems.append(Problem("status_file", f"{Path(cfg.status_file).parent} is not a directory"))
    return problems


def make_driver(cfg: DataplaneConfig) -> Driver:
    if cfg.driver == "ipvs":
        from .ipvs_netlink import IpvsKernel  # only this driver needs pyroute2

        return IpvsDriver(IpvsKernel(), cfg.ipvs.forward, sloppy_tcp=cfg.ipvs.sloppy_tcp)
    return NftDriver(cfg.driver, Nft(netns=cfg.netns))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    path = args.file if args.command == "config" else args.config
    try:
        cfg = load_config(path, DataplaneConfig)
        problems = preflight(cfg)
        if problems:
            raise ConfigError(path, problems)
    except ConfigError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "config":
        for warning in cfg.warnings():
            print(f"{path}: warning: {warning}", file=sys.stderr)
        static = sum(len(s.backends or ()) for s in cfg.services)
        print(f"{path}: ok ({cfg.driver}, {len(cfg.services)} services, {static} static backends)")
        return 0
    if args.command == "render-keepalived":
        return _render_keepalived(cfg, path, args.output)
    if args.command == "status":
        return _status(cfg, args.max_age)
    for warning in cfg.warnings():
        log.warning("dataplane.config.warning", target=warning.where, error=warning.what)
    try:
        driver = make_driver(cfg)
    except OSError as err:
        print(f"lbroute-dataplane: the {cfg.driver} driver cannot start here: {err}", file=sys.stderr)
        return 1
    metrics = DataplaneMetrics.create()
    try:
        controller = Controller(cfg, driver, metrics)
    except KubeConfigError as err:
        print(f"lbroute-dataplane: {err}", file=sys.stderr)
        return 1
    if args.command == "plan":
        return _plan(cfg, driver)
    return _run(cfg, path, controller)


def _status(cfg: DataplaneConfig, max_age: float) -> int:
    """What the pod's readiness probe runs: the status file ``run`` writes, read back."""
    if not cfg.status_file:
        print("lbroute-dataplane: the config has no status_file; run writes none to check", file=sys.stderr)
        return EXIT_CONFIG
    try:
        status = parse_status(read_text_file(cfg.status_file, max_bytes=STATUS_BYTES, what="a status"))
    except ConfigError as err:
        print(f"lbroute-dataplane: {'; '.join(err.lines())[:300]}", file=sys.stderr)
        return 1
    except StatusUnreadable as err:
        print(f"lbroute-dataplane: {cfg.status_file}: {err}", file=sys.stderr)
        return 1
    ok, reason = working(status, now=time.time(), max_age=max_age)
    if not ok:
        print(f"lbroute-dataplane: {cfg.status_file}: {reason}", file=sys.stderr)
        return 1
    ready = ", ".join(f"{s.name} {s.ready} ready" for s in status.services)
    print(f"{cfg.status_file}: ok (generation {status.generation}; {ready})")
    return 0


def _plan(cfg: DataplaneConfig, driver: Driver) -> int:
    if cfg.uses_kubernetes:
        print("lbroute-dataplane: plan shows static backends only; services from Kubernetes are left out")
    dp = desired.dataplane(cfg, {s.name: desired.static_endpoints(s) for s in cfg.services}, None)
    try:
        differences = driver.differences(dp)
    except LoadFailed as err:
        print(f"lbroute-dataplane: {err}", file=sys.stderr)
        return 1
    for line in differences:
        print(line)
    if not differences:
        print("the kernel holds the desired table; nothing to change")
    return 0


def _render_keepalived(cfg: DataplaneConfig, path: str, output: Path | None) -> int:
    kube = [s.name for s in cfg.services if s.kubernetes is not None]
    if kube:
        print(
            f"{path}: services {', '.join(kube)} take backends from Kubernetes; render-keepalived "
            "renders static backends only",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    dp = desired.dataplane(cfg, {s.name: desired.static_endpoints(s) for s in cfg.services}, None)
    text = keepalived.render(dp, forward=cfg.ipvs.forward)
    if output is None:
        sys.stdout.write(text)
        return 0
    if output.exists() and not output.read_text(errors="replace").startswith(KEEPALIVED_HEADER):
        print(f"{output}: exists and was not written by render-keepalived; not overwritten", file=sys.stderr)
        return EXIT_CONFIG
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text)
    tmp.replace(output)
    return 0


def _run(cfg: DataplaneConfig, path: str, controller: Controller) -> int:
    stop = threading.Event()

    def on_stop(*_: object) -> None:
        stop.set()
        controller.wake()

    def on_hup(*_: object) -> None:
        controller.reload_pending = True
        controller.wake()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    if cfg.metrics.port:
        try:
            serve(controller.metrics, cfg.metrics.address, cfg.metrics.port)
        except OSError as err:
            print(
                f"lbroute-dataplane: metrics {cfg.metrics.address}:{cfg.metrics.port}: cannot listen there "
                f"({err.strerror}); stop what holds it or name another address",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    try:
        controller.driver.prepare()
    except (IpCommandError, OSError) as err:
        # a pod may forbid it (set the sysctl in its securityContext instead): say so, go on
        log.warning("dataplane.prepare.failed", error=str(err)[:300])
    log.info("dataplane.started", op=cfg.driver, count=len(cfg.services), target=cfg.netns or "")
    controller.run(stop, lambda: load_config(path, DataplaneConfig))
    log.info("dataplane.stopped", op=cfg.driver, count=controller.generation)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
