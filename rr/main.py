"""``lbroute-rr``: configure a gobgpd (route reflector or upstream router) from a YAML file.

lbroute-rr config check FILE     validate; exit 2 with one line per problem
lbroute-rr plan --config FILE    print what apply would change, change nothing
lbroute-rr apply --config FILE   reconcile once (waits for gobgpd up to --wait seconds)
lbroute-rr run --config FILE     reconcile now and every resync_interval, until SIGTERM
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import grpc
import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config
from lbroute.core import bgp
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import describe, is_transient

from .config import RrConfig
from .daemon_watch import DaemonWatch
from .desired import desired_config
from .kube_speakers import KubeConfigError, KubeSpeakers
from .metrics import serve
from .reconcile import Reconciler

EXIT_CONFIG = 2
log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-rr", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check_p = check.add_parser("check", help="validate a config file")
    check_p.add_argument("file")
    for name in ("plan", "apply", "run"):
        p = sub.add_parser(name)
        p.add_argument("--config", required=True)
        p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for gobgpd to answer")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    path = args.file if args.command == "config" else args.config
    try:
        cfg = load_config(path, RrConfig)
        secrets = read_secrets(cfg, path)
    except ConfigError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    desired = desired_config(cfg, secrets=secrets)

    if args.command == "config":
        print(f"{path}: ok ({cfg.role}, {len(desired.peer_groups)} peer groups, {len(desired.peers)} peers)")
        return 0

    try:
        speakers = KubeSpeakers(cfg.speaker_groups, lambda: None)
    except KubeConfigError as err:
        print(f"lbroute-rr: {err}", file=sys.stderr)
        return 1
    if speakers.informers and args.command != "run":
        # one list of the LB pods, so that plan/apply see them instead of deleting their peers
        speakers.start()
        listed = speakers.wait_listed(args.wait)
        speakers.stop()
        if not listed:
            print("lbroute-rr: the Kubernetes API did not list the LB pods; nothing done", file=sys.stderr)
            return 1
        desired = desired_config(cfg, secrets=secrets, speakers=speakers.members())

    with GobgpClient(cfg.gobgpd) as client:
        reconciler = Reconciler(client, desired, peer_metrics=cfg.metrics_address is not None)
        try:
            if args.command == "plan":
                for line in reconciler.observe_plan().describe():
                    print(line)
                return 0
            if args.command == "apply":
                done = reconciler.reconcile(give_up_after=args.wait)
                print(f"{len(done.operations)} change(s) applied to {cfg.gobgpd}", file=sys.stderr)
                return 0
            return _run(cfg, client, reconciler, secrets, speakers)
        except grpc.RpcError as err:
            if is_transient(err):
                print(
                    f"lbroute-rr: gobgpd at {cfg.gobgpd} did not answer ({describe(err)}); "
                    "check that it runs and that --api-hosts names this socket",
                    file=sys.stderr,
                )
                return 1
            raise


def _run(
    cfg: RrConfig,
    client: GobgpClient,
    reconciler: Reconciler,
    secrets: dict[str, str],
    speakers: KubeSpeakers,
) -> int:
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()
        reconciler.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    speakers.on_change = lambda: reconciler.desire(
        desired_config(cfg, secrets=secrets, speakers=speakers.members())
    )
    if cfg.metrics_address:
        serve(reconciler.metrics, cfg.metrics_address)
    log.info("rr.started", target=cfg.gobgpd, role=cfg.role, count=len(speakers.informers))
    speakers.start()
    DaemonWatch(client, reconciler, stop).start()
    try:
        if speakers.informers:
            # fail static: touch nothing until the pods are known (an unknown group is not empty)
            while not speakers.wait_listed(10.0, stop) and not stop.is_set():
                log.warning("rr.kube.waiting", count=len(speakers.informers))
            reconciler.desire(desired_config(cfg, secrets=secrets, speakers=speakers.members()))
        reconciler.run(cfg.resync_interval, stop)
    finally:
        speakers.stop()
    log.info("rr.stopped", target=cfg.gobgpd)
    return 0


def read_secrets(cfg: RrConfig, source: str) -> dict[str, str]:
    """Every MD5 key file the config names, read now: a missing one is a config problem."""
    wanted = [
        (f"speaker_groups[{i}].md5_password_file", g.md5_password_file)
        for i, g in enumerate(cfg.speaker_groups)
    ]
    wanted += [
        (f"neighbors[{i}].md5_password_file", n.md5_password_file) for i, n in enumerate(cfg.neighbors)
    ]
    secrets, problems = {}, []
    for where, file in wanted:
        if not file:
            continue
        try:
            key = Path(file).read_text().strip()
        except OSError as err:
            problems.append(Problem(where, f"cannot read {file}: {err.strerror}"))
            continue
        if not key or len(key) > 80:
            problems.append(Problem(where, f"{file} must hold an MD5 key of 1 to 80 characters"))
        secrets[file] = key
    if problems:
        raise ConfigError(source, problems)
    return secrets


__all__ = ["bgp", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
