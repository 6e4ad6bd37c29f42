"""``lbroute fib``: the router's kernel routing table, read through netlink (iproute2), namespace-aware.

A route on a next-hop group names it: hash-threshold (zebra's) or resilient (lbroute-rr's
``fib: {mode: resilient}``). A resilient group is shown with the buckets each next-hop holds
and which next-hop is draining (kept at the smallest weight while its LB drains).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from lbroute.core.nexthop_groups import GroupView
from lbroute.core.rib import FibRoute, prefix_order
from lbroute.kernel.ip import IpCommandError
from lbroute.kernel.nexthops import Kernel

from .argtypes import vip_prefix
from .errors import TargetError
from .output import addresses, join, print_json, print_table
from .targets import Targets, add_target_args, read_kernel_fib, resolve


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fib", help="the router's kernel FIB (main table), in its network namespace")
    p.add_argument("--vip", type=vip_prefix, metavar="PREFIX", help="only the route for exactly this prefix")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, gobgpd=False)
    p.set_defaults(handler=run_fib)


def read_groups(targets: Targets, routes: Iterable[FibRoute]) -> dict[int, GroupView]:
    """The next-hop groups the routes use (none read when no route uses one)."""
    if not any(r.nhid is not None for r in routes):
        return {}
    try:
        return Kernel(targets.router_netns).views()
    except IpCommandError as err:
        where = f"network namespace {targets.router_netns!r}" if targets.router_netns else "this host"
        raise TargetError(
            f"cannot read the next-hop groups in {where} ({err.stderr.strip()}); "
            "check `ip netns list` and that lbroute runs as root"
        ) from None


def run_fib(args: argparse.Namespace) -> int:
    targets = resolve(args)
    routes = sorted(read_kernel_fib(targets, args.vip), key=lambda r: prefix_order(r.prefix))
    groups = read_groups(targets, routes)
    if args.json:
        print_json([route_json(r, groups.get(r.nhid) if r.nhid is not None else None) for r in routes])
        return 0
    table = [("PREFIX", "PROTOCOL", "NEXT-HOPS", "GROUP")]
    table += [
        (
            r.prefix,
            r.protocol or "-",
            join(r.next_hops, empty="(directly connected)"),
            group_cell(groups.get(r.nhid)) if r.nhid is not None else "-",
        )
        for r in routes
    ]
    print_table(table)
    shown = {r.nhid: [p.prefix for p in routes if p.nhid == r.nhid] for r in routes if r.nhid in groups}
    for nhid, prefixes in shown.items():
        view = groups[nhid]
        if view.resilient is not None:
            print()
            print_group(view, prefixes)
    return 0


def group_cell(view: GroupView | None) -> str:
    return "-" if view is None else f"{view.kind} {view.id}"


def print_group(view: GroupView, prefixes: list[str]) -> None:
    """A resilient group: its parameters, then per next-hop its weight and buckets."""
    r = view.resilient
    assert r is not None
    print(
        f"group {view.id} ({', '.join(prefixes)}): resilient, {r.buckets} buckets, "
        f"idle_timer {r.idle_timer}s, unbalanced_timer {r.unbalanced_timer}s"
    )
    rows = [("  NEXT-HOP", "WEIGHT", "BUCKETS", "")]
    rows += [
        (f"  {m.gateway}", str(m.weight), str(m.buckets), "draining" if m.draining else "")
        for m in view.members
    ]
    print_table(rows)


def group_json(view: GroupView | None) -> dict[str, Any] | None:
    if view is None:
        return None
    r = view.resilient
    return {
        "id": view.id,
        "type": view.kind,
        "protocol": view.protocol,
        "buckets": r.buckets if r else None,
        "idle_timer": r.idle_timer if r else None,
        "unbalanced_timer": r.unbalanced_timer if r else None,
        "next_hops": [
            {"gateway": m.gateway, "weight": m.weight, "buckets": m.buckets, "draining": m.draining}
            for m in view.members
        ],
    }


def route_json(r: FibRoute, group: GroupView | None = None) -> dict[str, Any]:
    return {
        "prefix": r.prefix,
        "protocol": r.protocol or None,
        "next_hops": addresses(r.next_hops),
        "nhid": r.nhid,
        "group": group_json(group),
    }
