"""``lbroute vips``: per VIP, who announces it, what the RR and router hold, where the kernel forwards."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lbroute.core.nexthop_groups import GroupView
from lbroute.core.rib import FibRoute
from lbroute.core.view import DEGRADED, VipRow, status_counts, vip_rows
from lbroute.lab.configs import pod_dir
from lbroute.lab.lab import Lab

from .argtypes import vip_prefix
from .fib_cmd import group_json, read_groups
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
        fib = pool.submit(_fib_and_groups, targets, only)
        rr_ribs = [read_paths(d, targets.timeout, prefixes=prefixes) for d in rrs]
        router_rib = (
            read_paths(targets.router, targets.timeout, prefixes=prefixes) if targets.router else None
        )
        nodes = read_node_map(rrs[0], targets.timeout)
        routes, groups = fib.result()
    wanted = [only] if only else None
    pools = targets.vip_pools
    rows = vip_rows(rr_ribs, routes, router_rib, vip_pools=pools, only=wanted, groups=groups, nodes=nodes)
    # a path that lost selection: the router's attributes (read for those VIPs only) say why
    lost = tuple(r.prefix for r in rows if r.status == DEGRADED and r.unselected)
    if lost and router_rib is not None and targets.router is not None:
        again = read_paths(targets.router, targets.timeout, prefixes=lost, with_attributes=True)
        redone = {
            r.prefix: r
            for r in vip_rows(rr_ribs, routes, again, vip_pools=pools, only=lost, groups=groups, nodes=nodes)
        }
        rows = [redone.get(r.prefix, r) for r in rows]
    return rows


def _fib_and_groups(targets: Targets, only: str | None) -> tuple[list[FibRoute], dict[int, GroupView]]:
    routes = read_kernel_fib(targets, only)
    return routes, read_groups(targets, routes)


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
        "draining": addresses(row.draining),
        "fib_group": group_json(row.fib_group),
        "problems": list(row.problems),
    }


def print_rows(rows: list[VipRow]) -> None:
    """With a resilient FIB (or a drain under way) two more columns: the buckets each FIB
    next-hop holds, in the order of FIB NEXT-HOPS, and the next-hops whose LBs drain."""
    resilient = any(r.draining or (r.fib_group and r.fib_group.resilient) for r in rows)
    header = ("VIP", "STATUS", "SPEAKERS", "RR PATHS", "ROUTER PATHS", "FIB NEXT-HOPS")
    table: list[tuple[str, ...]] = [(*header, "BUCKETS", "DRAINING") if resilient else header]
    for r in rows:
        cells: tuple[str, ...] = (
            r.prefix,
            r.status,
            join(r.speakers),
            "+".join(str(n) for n in r.rr_paths),
            "-" if r.router_paths is None else str(r.router_paths),
            "(no route)" if r.fib_next_hops is None else join(r.fib_next_hops),
        )
        if resilient:
            cells += (_buckets(r), join(r.draining))
        table.append(cells)
    print_table(table)
    if any(r.problems for r in rows):
        print()
        print_problems(rows)
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(rows).items() if n)
    print(f"\n{len(rows)} VIP(s){': ' + counts if counts else ''}")


def _buckets(row: VipRow) -> str:
    group = row.fib_group
    if group is None or group.resilient is None:
        return "-"
    held = {m.gateway: m.buckets for m in group.members}
    return "/".join(str(held.get(hop, 0)) for hop in addresses(row.fib_next_hops) or ())


def print_problems(rows: list[VipRow]) -> None:
    """One line per problem, each naming its VIP: easy to grep, easy to mail from cron."""
    for r in rows:
        for problem in r.problems:
            print(f"{r.prefix} {r.status}: {problem}")


def lab_dataplane(targets: Targets) -> dict[str, list[dict[str, Any]]]:
    """In a lab with a data plane: per VIP, what each LB pod's controller says it holds
    (its status file: backends, table generation and digest), LB by LB."""
    if not targets.lab:
        return {}
    lab = Lab(targets.lab)
    room = lab.dataplane
    if room is None:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for node in lab.topology.nodes:
        status = room.status(pod_dir(lab.dir, node))
        for s in status.services if status else ():
            out.setdefault(f"{s.vip}/32", []).append(
                {
                    "lb": f"lb{node.index}",
                    "driver": status.driver if status else "",
                    "generation": status.generation if status else 0,
                    "digest": s.digest,
                    "backends": list(s.backends),
                    "draining": list(s.draining),
                    "in_sync": bool(status and status.in_sync),
                }
            )
    return out


def print_dataplane(per_vip: dict[str, list[dict[str, Any]]]) -> None:
    table = [("VIP", "LB", "DRIVER", "GEN", "TABLE", "IN SYNC", "BACKENDS", "DRAINING")]
    for vip, lbs in sorted(per_vip.items()):
        for e in lbs:
            table.append(
                (
                    vip,
                    e["lb"],
                    e["driver"],
                    str(e["generation"]),
                    e["digest"],
                    "yes" if e["in_sync"] else "NO",
                    ",".join(e["backends"]) or "-",
                    ",".join(e["draining"]) or "-",
                )
            )
    print()
    print_table(table)


def run_vips(args: argparse.Namespace) -> int:
    with no_cyclic_gc():
        targets = resolve(args)
        rows = collect_rows(targets, args.vip)
        dataplane = lab_dataplane(targets)
        if args.json:
            out = [row_json(r) for r in rows]
            for row in out:
                if dataplane:
                    row["dataplane"] = dataplane.get(row["prefix"], [])
            print_json(out)
        else:
            print_rows(rows)
            if dataplane:
                print_dataplane({v: e for v, e in dataplane.items() if not args.vip or v == args.vip})
        return 0
