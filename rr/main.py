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

import grpc
import structlog

from lbroute import logs
from lbroute.config import ConfigError, load_config
from lbroute.core import bgp
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import describe, is_transient

from .config import RrConfig
from .desired import desired_config
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
    except ConfigError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    desired = desired_config(cfg)

    if args.command == "config":
        print(f"{path}: ok ({cfg.role}, {len(desired.peer_groups)} peer groups, {len(desired.peers)} peers)")
        return 0

    with GobgpClient(cfg.gobgpd) as client:
        reconciler = Reconciler(client, desired)
        try:
            if args.command == "plan":
                for line in reconciler.observe_plan().describe():
                    print(line)
                return 0
            if args.command == "apply":
                done = reconciler.reconcile(give_up_after=args.wait)
                print(f"{len(done.operations)} change(s) applied to {cfg.gobgpd}", file=sys.stderr)
                return 0
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            log.info("rr.started", target=cfg.gobgpd, role=cfg.role)
            reconciler.run(cfg.resync_interval, stop)
            log.info("rr.stopped", target=cfg.gobgpd)
            return 0
        except grpc.RpcError as err:
            if is_transient(err):
                print(
                    f"lbroute-rr: gobgpd at {cfg.gobgpd} did not answer ({describe(err)}); "
                    "check that it runs and that --api-hosts names this socket",
                    file=sys.stderr,
                )
                return 1
            raise


__all__ = ["bgp", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
