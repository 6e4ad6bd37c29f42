"""``lbroute vips``: per VIP, who announces it, what the RR and router hold, where the kernel forwards."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lbroute.core.view import DEGRADED, VipRow, status_counts, vip_rows

from .argtypes import vip_prefix
from .output import addresses, join, print_json, print_table
from .targets import (
    Targets,
    add_target_args,
    no_cyclic_gc,
    read_kernel_fib,
    read_node_map,
    read_paths,
    resolve,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "vips",
        help="per VIP: speakers, paths at the RR and router, next-hops in the router's FIB, a status",
        description="One row per VIP with a status: OK; DEGRADED (the FIB forwards on fewer next-hops "
        "than the speakers announce, e.g. a path lost best-path selection); STEERED (the router forwards "
        "on some paths alone because their attributes win); DRIFT (the FIB and BGP disagree); FOREIGN "
        "(the FIB forwards on a next-hop that is no known node's, or that no speaker on that node "
        "announces); MISSING (no FIB route).",
    )
    p.add_argument("--vip", type=vip_prefix, metavar="PREFIX", help="only this VIP")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, pools=True)
    p.set_defaults(handler=run_vips)


def collect_rows(targets: Targets, only: str | None = None) -> list[VipRow]:
    """Read every RR, the router and the FIB, and judge each VIP.

    The FIB is read on a worker thread (it waits on ``ip``, a separate process) while this
    thread reads the gobgpds one after the other: reading them side by side made a 64k-path
    read slower, both streams fighting for the interpreter lock (docs/benchmarks-cli.md).
    """
    rrs = targets.need_rrs()
    prefixes = (only,) if only else ()
    with ThreadPoolExecutor(max_workers=1) as pool:
        fib = pool.submit(read_kernel_fib, targets, only)
        rr_ribs = [read_paths(d, targets.timeout, prefixes=prefixes) for d in rrs]
        router_rib = (
            read_paths(targets.router, targets.timeout, prefixes=prefixes) if targets.router else None
        )
        nodes = read_node_map(rrs[0], targets.timeout)
        routes = fib.result()
    wanted = [only] if only else None
    rows = vip_rows(rr_ribs, routes, router_rib, vip_pools=targets.vip_pools, only=wanted, nodes=nodes)
    # a path that lost selection: the router's attributes (read for those VIPs only) say why
    lost = tuple(r.prefix for r in rows if r.status == DEGRADED and r.unselected)
    if lost and router_rib is not None and targets.router is not None:
        again = read_paths(targets.router, targets.timeout, prefixes=lost, with_attributes=True)
        redone = {
            r.prefix: r
            for r in vip_rows(rr_ribs, routes, again, vip_pools=targets.vip_pools, only=lost, nodes=nodes)
        }
        rows = [redone.get(r.prefix, r) for r in rows]
    return rows


def row_json(row: VipRow) -> dict[str, Any]:
    return {
        "prefix": row.prefix,
        "status": row.status,
        "speakers": addresses(row.speakers),
        "rr_paths": list(row.rr_paths),
        "rr_next_hops": addresses(row.rr_next_hops),
        "router_paths": row.router_paths,
        "router_paths_from": dict(row.router_paths_by_rr) if row.router_paths is not None else None,
        "router_next_hops": addresses(row.router_next_hops),
        "fib_next_hops": addresses(row.fib_next_hops),
        "problems": list(row.problems),
    }


def print_rows(rows: list[VipRow]) -> None:
    table = [("VIP", "STATUS", "SPEAKERS", "RR PATHS", "ROUTER PATHS", "FIB NEXT-HOPS")]
    for r in rows:
        table.append(
            (
                r.prefix,
                r.status,
                join(r.speakers),
                "+".join(str(n) for n in r.rr_paths),
                "-" if r.router_paths is None else str(r.router_paths),
                "(no route)" if r.fib_next_hops is None else join(r.fib_next_hops),
            )
        )
    print_table(table)
    if any(r.problems for r in rows):
        print()
        print_problems(rows)
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(rows).items() if n)
    print(f"\n{len(rows)} VIP(s){': ' + counts if counts else ''}")


def print_problems(rows: list[VipRow]) -> None:
    """One line per problem, each naming its VIP: easy to grep, easy to mail from cron."""
    for r in rows:
        for problem in r.problems:
            print(f"{r.prefix} {r.status}: {problem}")


def run_vips(args: argparse.Namespace) -> int:
    with no_cyclic_gc():
        rows = collect_rows(resolve(args), args.vip)
        if args.json:
            print_json([row_json(r) for r in rows])
        else:
            print_rows(rows)
        return 0
