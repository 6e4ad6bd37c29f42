"""``lbroute fib``: the router's kernel routing table, read through netlink (iproute2), namespace-aware."""

from __future__ import annotations

import argparse
from typing import Any

from lbroute.core.rib import FibRoute, prefix_order

from .argtypes import vip_prefix
from .output import addresses, join, print_json, print_table
from .targets import add_target_args, read_kernel_fib, resolve


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fib", help="the router's kernel FIB (main table), in its network namespace")
    p.add_argument("--vip", type=vip_prefix, metavar="PREFIX", help="only the route for exactly this prefix")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, gobgpd=False)
    p.set_defaults(handler=run_fib)


def run_fib(args: argparse.Namespace) -> int:
    routes = sorted(read_kernel_fib(resolve(args), args.vip), key=lambda r: prefix_order(r.prefix))
    if args.json:
        print_json([route_json(r) for r in routes])
        return 0
    table = [("PREFIX", "PROTOCOL", "NEXT-HOPS")]
    table += [(r.prefix, r.protocol or "-", join(r.next_hops, empty="(directly connected)")) for r in routes]
    print_table(table)
    return 0


def route_json(r: FibRoute) -> dict[str, Any]:
    return {"prefix": r.prefix, "protocol": r.protocol or None, "next_hops": addresses(r.next_hops)}
