"""``lbroute peers``: every BGP session at the RR(s) and the router."""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lbroute.core.session import Session, sessions_order

from .output import duration, print_json, print_table, timestamp
from .targets import add_target_args, read_sessions, resolve


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "peers",
        help="every BGP session at the RR(s) and router: state, uptime, prefixes, hold time, BFD",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, fib=False)
    p.set_defaults(handler=run_peers)


def run_peers(args: argparse.Namespace) -> int:
    targets = resolve(args)
    daemons = targets.need_daemons()
    with ThreadPoolExecutor(max_workers=len(daemons)) as pool:
        found = [
            s for sessions in pool.map(lambda d: read_sessions(d, targets.timeout), daemons) for s in sessions
        ]
    sessions = sessions_order(found, [d.name for d in daemons])
    now = time.time()
    if args.json:
        print_json([session_json(s, now) for s in sessions])
        return 0
    table = [
        (
            "AT",
            "NEIGHBOR",
            "ASN",
            "GROUP",
            "STATE",
            "UP/DOWN",
            "RECEIVED",
            "ACCEPTED",
            "REJECTED",
            "SENT",
            "HOLD",
            "GR",
            "BFD",
            "WHY",
        )
    ]
    for s in sessions:
        table.append(
            (
                s.at,
                s.neighbor,
                str(s.peer_asn),
                s.peer_group or "-",
                s.state
                + (" (admin down)" if s.admin_down else "")
                + (" (max-prefix shutdown)" if s.max_prefix_shutdown else "")
                + (f" ({s.stale} stale kept)" if s.stale else ""),
                duration(s.age(now)),
                str(s.received),
                str(s.accepted),
                str(s.rejected),
                str(s.advertised),
                f"{s.hold_time}s" if s.hold_time else "-",
                s.graceful_restart or "-",
                s.bfd or "-",
                rejected_why(s),
            )
        )
    print_table(table)
    return 0


def rejected_why(s: Session) -> str:
    """``next-hop=2,vip=2``: why the guard rails rejected what they did (one cell, no spaces)."""
    return ",".join(f"{reason}={count}" for reason, count in s.rejected_by) or "-"


def session_json(s: Session, now: float) -> dict[str, Any]:
    age = s.age(now)
    return {
        "at": s.at,
        "neighbor": s.neighbor,
        "peer_asn": s.peer_asn,
        "peer_group": s.peer_group or None,
        "description": s.description or None,
        "state": s.state,
        "admin_down": s.admin_down,
        "max_prefix_shutdown": s.max_prefix_shutdown,
        "since": timestamp(s.since) if s.since is not None else None,
        "seconds_in_state": round(age, 3) if age is not None else None,
        "received": s.received,
        "accepted": s.accepted,
        "rejected": s.rejected,
        "rejected_by": dict(s.rejected_by),
        "advertised": s.advertised,
        "hold_time": s.hold_time,
        "graceful_restart": s.graceful_restart or None,
        "stale": s.stale,
        "bfd": s.bfd or None,
    }
