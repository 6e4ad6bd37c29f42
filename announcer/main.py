"""``lbroute-announcer``: run by exabgp as its API process in an LB pod.

    lbroute-announcer run --config FILE          (what exabgp's ``process`` runs)
    lbroute-announcer config check FILE

Announces each configured VIP with the node's IP as next-hop, reads every answer,
withdraws everything on SIGTERM and exits on stdin EOF (exabgp went away).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys

import structlog

from lbroute import logs
from lbroute.config import ConfigError, Problem, load_config

from .config import AnnouncerConfig
from .exabgp import ExabgpChannel, ExabgpGone
from .state import Route, ServiceRoutes, commands, desired_routes

EXIT_CONFIG = 2
log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute-announcer", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="act as exabgp's API process")
    run.add_argument("--config", required=True)
    run.add_argument("--next-hop", default=None, help="node IP; overrides the config and $NODE_IP")
    check = sub.add_parser("config", help="config commands").add_subparsers(dest="config_cmd", required=True)
    check_p = check.add_parser("check", help="validate a config file")
    check_p.add_argument("file")
    return parser


def load(path: str, next_hop_override: str | None) -> tuple[AnnouncerConfig, frozenset[Route]]:
    cfg = load_config(path, AnnouncerConfig)
    if next_hop_override:
        cfg = AnnouncerConfig.model_validate({**cfg.model_dump(), "next_hop": next_hop_override})
    try:
        next_hop = cfg.resolve_next_hop()
    except ValueError as err:
        raise ConfigError(path, [Problem("next_hop", str(err))]) from None
    services = [ServiceRoutes(s.name, s.vips, s.communities, s.med, s.local_preference) for s in cfg.services]
    return cfg, desired_routes(services, next_hop)


class Announcer:
    def __init__(self, channel: ExabgpChannel) -> None:
        self.channel = channel
        self.announced: frozenset[Route] = frozenset()

    def converge(self, desired: frozenset[Route]) -> None:
        announced = set(self.announced)
        for verb, route in commands(desired, self.announced):
            command = route.announce_command() if verb == "announce" else route.withdraw_command()
            if self.channel.send(command):
                event = "announcer.vip.announced" if verb == "announce" else "announcer.vip.withdrawn"
                log.info(event, prefix=route.prefix, nexthop=route.next_hop)
                if verb == "announce":
                    announced = {r for r in announced if r.prefix != route.prefix} | {route}
                else:
                    announced.discard(route)
        self.announced = frozenset(announced)


def run(cfg_path: str, next_hop: str | None) -> int:
    _, desired = load(cfg_path, next_hop)
    stop_r, stop_w = os.pipe()
    os.set_blocking(stop_w, False)
    signal.set_wakeup_fd(stop_w)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)

    channel = ExabgpChannel(sys.stdin.buffer, sys.stdout.buffer)
    announcer = Announcer(channel)
    log.info("announcer.started", count=len(desired), pid=os.getpid())
    try:
        announcer.converge(desired)
        while True:
            ready: list[int] = []
            if not channel.has_buffered_line():
                ready, _, _ = select.select([channel.fileno(), stop_r], [], [])
            if stop_r in ready:
                log.info("announcer.stopping", count=len(announcer.announced))
                announcer.converge(frozenset())
                return 0
            channel.drain_unsolicited()
    except ExabgpGone as gone:
        log.info("announcer.exabgp.gone", reason=str(gone) or "stdin closed")
        return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    try:
        if args.command == "config":
            _, routes = load(args.file, None)
            sys.stderr.write(f"{args.file}: ok ({len(routes)} routes)\n")
            return 0
        return run(args.config, args.next_hop)
    except ConfigError as err:
        for line in err.lines():
            sys.stderr.write(line + "\n")
        return EXIT_CONFIG


if __name__ == "__main__":
    raise SystemExit(main())
