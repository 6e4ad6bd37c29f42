"""``lbroute-rr``: configure a gobgpd (route reflector or upstream router) from a YAML file.

lbroute-rr config check FILE     validate; exit 2 with one line per problem
lbroute-rr plan --config FILE    print what apply would change, change nothing
lbroute-rr apply --config FILE   reconcile once
lbroute-rr run --config FILE     reconcile now and every resync_interval, until SIGTERM

plan, apply and run give gobgpd --wait seconds to answer at start, then exit 1 saying so.
When gobgpd runs BGP with other global settings (ASN, router-id, listen address or port,
multipath) than the config's, plan and apply exit 2 naming them and change nothing; run
changes nothing until gobgpd is restarted, and says so in its log and metrics.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from importlib.metadata import version

import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config, read_md5_key
from lbroute.core import bgp
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpUnavailable

from . import fib_writer
from .config import RrConfig
from .daemon_watch import DaemonWatch
from .desired import desired_config
from .kube_speakers import KubeConfigError, KubeSpeakers
from .metrics import serve
from .reconcile import GlobalSettingsRefused, Reconciler

EXIT_CONFIG = 2
log = structlog.get_logger()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 <= value < math.inf):
        shown = text if len(text) <= 20 else text[:20] + "..."
        raise argparse.ArgumentTypeError(f"{shown!r} is not a number of seconds (0 or more)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-rr", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('lbroute')}")
    parser.add_argument("--log-level", type=str.lower, choices=logs.LEVELS, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check_p = check.add_parser("check", help="validate a config file")
    check_p.add_argument("file")
    for name in ("plan", "apply", "run"):
        p = sub.add_parser(name)
        p.add_argument("--config", required=True)
        p.add_argument(
            "--wait",
            type=_seconds,
            default=30.0,
            metavar="SECONDS",
            help="at start, how long gobgpd may take to answer before this exits 1 saying so "
            "(default %(default)g; plan and apply: the Kubernetes API's first list of the LB pods too); "
            "run then waits out any later gobgpd restart as long as it takes",
        )
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
        for warning in cfg.warnings():
            print(f"{path}: warning: {warning}", file=sys.stderr)
        print(f"{path}: ok ({cfg.role}, {len(desired.peer_groups)} peer groups, {len(desired.peers)} peers)")
        return 0
    for warning in cfg.warnings():
        log.warning("rr.config.guard_rail_off", target=warning.where, error=warning.what)

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
        desired = desired_config(cfg, secrets=secrets, speakers=speakers.members(), hosts=speakers.hosts())

    with GobgpClient(cfg.gobgpd) as client:
        reconciler = Reconciler(client, desired, peer_metrics=cfg.metrics_address is not None)
        try:
            if args.command == "plan":
                for line in reconciler.observe_plan(give_up_after=args.wait).describe():
                    print(line)
                return 0
            if args.command == "apply":
                done = reconciler.reconcile(give_up_after=args.wait)
                print(f"{len(done.operations)} change(s) applied to {cfg.gobgpd}", file=sys.stderr)
                return 0
            return _run(cfg, client, reconciler, secrets, speakers, args.wait)
        except GlobalSettingsRefused as err:
            print(f"lbroute-rr: {err}; nothing changed", file=sys.stderr)
            return EXIT_CONFIG
        except GobgpUnavailable as err:
            print(
                f"lbroute-rr: gobgpd at {cfg.gobgpd} did not answer within {args.wait:g}s ({err}); "
                "check that it runs and that its --api-hosts names this socket",
                file=sys.stderr,
            )
            return 1


def _run(
    cfg: RrConfig,
    client: GobgpClient,
    reconciler: Reconciler,
    secrets: dict[str, str],
    speakers: KubeSpeakers,
    wait: float,
) -> int:
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()
        reconciler.wake()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    watch = DaemonWatch(client, reconciler, stop)
    # called from the informers', the watch's and the hold timers' threads: what is read and
    # what is handed over go together, or an older desire could land after a newer one
    desiring = threading.Lock()

    def desire() -> None:
        with desiring:
            held = watch.held()
            reconciler.desire(
                desired_config(
                    cfg, secrets=secrets, speakers=speakers.members(), hosts=speakers.hosts(), held=held
                )
            )

    speakers.on_change = desire
    watch.on_damp = desire
    if cfg.metrics_address:
        try:
            serve(reconciler.metrics, cfg.metrics_address)
        except OSError as err:
            print(
                f"lbroute-rr: metrics_address {cfg.metrics_address}: cannot listen there ({err.strerror}); "
                "stop what holds it or name another address",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    log.info("rr.started", target=cfg.gobgpd, role=cfg.role, count=len(speakers.informers))
    speakers.start()
    watching = watch.start()
    fib = (
        fib_writer.start(cfg.fib, client, stop, cfg.resync_interval) if cfg.fib.mode == "resilient" else None
    )
    try:
        if speakers.informers:
            # fail static: touch nothing until the pods are known (an unknown group is not empty)
            while not speakers.wait_listed(10.0, stop) and not stop.is_set():
                log.warning("rr.kube.waiting", count=len(speakers.informers))
            desire()
        reconciler.run(cfg.resync_interval, stop, first_within=wait)
    finally:
        stop.set()
        if fib is not None:
            fib.stop()
        speakers.stop()
        watching.join(1.0)  # long enough for a wait for gobgpd to end and see ``stop``
        client.close()  # ends an event stream the watch thread may still be reading
        watching.join(5.0)
    log.info("rr.stopped", target=cfg.gobgpd)
    return 0


def read_secrets(cfg: RrConfig, source: str) -> dict[str, str]:
    """Every MD5 key file the config names, read now: a missing or bad one is a config problem."""
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
            secrets[file] = read_md5_key(file)
        except ValueError as err:
            problems.append(Problem(where, str(err)))
    if problems:
        raise ConfigError(source, problems)
    return secrets


__all__ = ["bgp", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
