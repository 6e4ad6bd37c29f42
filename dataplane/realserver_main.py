"""``lbroute-realserver``: a backend's side of nft-dsr — VIPs on lo, the rewrite back to the
VIP, the second chance.

lbroute-realserver config check FILE     validate; exit 2 with one line per problem
lbroute-realserver run --config FILE     set up and keep the table converged until SIGTERM

SIGHUP reloads the config's static backends. The table stays when it stops.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config
from lbroute.kernel.ip import IpCommandError

from .config import RealserverConfig, address_from_env
from .main import EXIT_CONFIG
from .realserver import Realserver
from .sources import KubeConfigError

log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-realserver", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", type=str.lower, choices=logs.LEVELS, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check.add_parser("check", help="validate a config file").add_argument("file")
    sub.add_parser("run", help="set up and keep converged").add_argument("--config", required=True)
    return parser


def own_address(cfg: RealserverConfig, source: str) -> str:
    if cfg.address:
        return cfg.address
    raw = os.environ.get(cfg.address_env, "")
    if not raw:
        raise ConfigError(
            source,
            [Problem("address", f"not set and ${cfg.address_env} is empty; set address or give the pod "
                     f"{cfg.address_env} from status.podIP")],
        )  # fmt: skip
    try:
        return address_from_env(raw, cfg.address_env)
    except ValueError as err:
        raise ConfigError(source, [Problem(f"${cfg.address_env}", str(err))]) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    path = args.file if args.command == "config" else args.config
    try:
        cfg = load_config(path, RealserverConfig)
        # config check reads the file alone: the address may come from the pod's environment at run
        me = own_address(cfg, path) if args.command == "run" or cfg.address else f"${cfg.address_env}"
    except ConfigError as err:
        for line in err.lines():
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "config":
        chance = "on" if cfg.second_chance else "off"
        print(f"{path}: ok ({me}, {len(cfg.services)} services, second chance {chance})")
        return 0
    try:
        agent = Realserver(cfg, me)
    except KubeConfigError as err:
        print(f"lbroute-realserver: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_stop(*_: object) -> None:
        stop.set()
        agent.wake()

    def on_hup(*_: object) -> None:
        agent.reload_pending = True
        agent.wake()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    log.info("realserver.started", target=me, count=len(cfg.services))
    try:
        agent.run(stop, lambda: load_config(path, RealserverConfig))
    except IpCommandError as err:
        print(f"lbroute-realserver: cannot set up this backend: {err}", file=sys.stderr)
        return 1
    log.info("realserver.stopped", target=me)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
