"""``lbroute watch``: a live stream of session and path changes at the RR(s) and router, one line each.

One thread per gobgpd follows its WatchEvent stream; a table event means "these prefixes
changed", so the thread re-reads them and reports what they hold now (see
``lbroute.core.events``). The main thread prints, and stops after ``--count`` lines or
``--timeout`` seconds, or on Ctrl-C. When every stream has sent its start-of-watch
snapshot, the log event ``cli.watch.ready`` goes to stderr: from then on nothing is missed.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog

from lbroute.core.events import (
    Change,
    PathChange,
    PrefixesTouched,
    SessionChange,
    SessionReport,
    SnapshotDone,
    path_change,
    session_change,
)
from lbroute.gobgp.client import EventWatch, GobgpClient
from lbroute.gobgp.errors import GobgpError

from .argtypes import positive_int, positive_seconds
from .errors import TargetError
from .output import print_json_line, timestamp
from .targets import Daemon, add_target_args, paths_of_both_families, resolve, unreachable

log = structlog.get_logger()


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("watch", help="a live stream of session and path changes, one line each")
    p.add_argument("--count", type=positive_int, metavar="N", help="stop after N changes")
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop after this long (default: run until Ctrl-C)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_target_args(p, fib=False)
    p.set_defaults(handler=run_watch)


@dataclass(frozen=True)
class _Ready:
    daemon: str


@dataclass(frozen=True)
class _Failed:
    error: TargetError


def run_watch(args: argparse.Namespace) -> int:
    targets = resolve(args)
    daemons = targets.need_daemons()
    unwatched = [d for d in daemons if d.kind != "gobgpd"]
    if unwatched:
        # FRR has no event stream to follow from outside (vtysh answers one question at a time)
        names = ", ".join(f"{d.name} ({d.kind})" for d in unwatched)
        print(f"lbroute watch: not watching {names}: only gobgpd streams its changes", file=sys.stderr)
        daemons = tuple(d for d in daemons if d.kind == "gobgpd")
        if not daemons:
            raise TargetError("nothing to watch: only gobgpd daemons stream their changes")
    inbox: queue.Queue[Change | _Ready | _Failed] = queue.Queue()
    watches: list[EventWatch] = []
    clients: list[GobgpClient] = []
    for daemon in daemons:
        client = GobgpClient(daemon.address, timeout=targets.timeout)
        clients.append(client)
        watch = client.watch()
        watches.append(watch)
        threading.Thread(
            target=_follow, args=(daemon, client, watch, inbox), name=f"watch-{daemon.name}", daemon=True
        ).start()

    deadline = time.monotonic() + args.timeout if args.timeout else None
    waiting_for = {d.name for d in daemons}
    printed = 0
    try:
        while args.count is None or printed < args.count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                item = inbox.get(timeout=remaining)
            except queue.Empty:
                break
            if isinstance(item, _Failed):
                raise item.error
            if isinstance(item, _Ready):
                waiting_for.discard(item.daemon)
                if not waiting_for:
                    log.info("cli.watch.ready", target=",".join(d.name for d in daemons))
                continue
            if args.json:
                print_json_line(change_json(item))
            else:
                print(change_line(item), flush=True)
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        for watch in watches:
            watch.cancel()
        for client in clients:
            client.close()
    return 0


def _follow(daemon: Daemon, client: GobgpClient, watch: EventWatch, inbox: queue.Queue[Any]) -> None:
    """Turn one gobgpd's event stream into changes (runs in its own thread)."""
    sessions: dict[str, str] = {}
    prefixes: dict[str, tuple[tuple[str, ...], int]] = {}
    try:
        for report in watch:
            now = time.time()
            if isinstance(report, SnapshotDone):
                inbox.put(_Ready(daemon.name))
            elif isinstance(report, SessionReport):
                change = session_change(sessions, daemon.name, report, now)
                if change is not None:
                    inbox.put(change)
            elif isinstance(report, PrefixesTouched):
                paths = paths_of_both_families(client, report.prefixes)
                for prefix in report.prefixes:
                    touched = path_change(prefixes, daemon.name, prefix, paths, now)
                    if touched is not None:
                        inbox.put(touched)
    except GobgpError as err:
        inbox.put(_Failed(unreachable(daemon, err)))


def change_line(change: Change) -> str:
    when = timestamp(change.time)
    if isinstance(change, SessionChange):
        was = change.previous or "new"
        return f"{when}  {change.at:<7} session {change.neighbor} {was} -> {change.state}"
    if not change.paths:
        return f"{when}  {change.at:<7} path    {change.prefix} withdrawn: no paths left"
    hops = ",".join(change.next_hops)
    return f"{when}  {change.at:<7} path    {change.prefix} {change.paths} path(s) via {hops}"


def change_json(change: Change) -> dict[str, Any]:
    if isinstance(change, SessionChange):
        return {
            "time": timestamp(change.time),
            "at": change.at,
            "event": "session",
            "neighbor": change.neighbor,
            "state": change.state,
            "previous": change.previous,
        }
    assert isinstance(change, PathChange)
    return {
        "time": timestamp(change.time),
        "at": change.at,
        "event": "path",
        "prefix": change.prefix,
        "paths": change.paths,
        "next_hops": list(change.next_hops),
    }
