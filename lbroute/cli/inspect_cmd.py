"""``lbroute vips``: per VIP, what the RR and router hold and what the router's kernel forwards on."""

from __future__ import annotations

import argparse
import os
from typing import Any

import grpc

from lbroute.core.rib import Path
from lbroute.core.view import VipRow, vip_rows
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import describe
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import IpCommandError
from lbroute.lab.lab import Lab

from .errors import TargetError
from .output import join, print_json, print_table


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vips = sub.add_parser("vips", help="per VIP: paths at the RR and router, next-hops in the router's FIB")
    add_target_args(vips)
    vips.add_argument("--json", action="store_true")
    vips.set_defaults(handler=run_vips)


def add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rr", default=os.environ.get("LBROUTE_RR"), help="RR gobgpd gRPC target ($LBROUTE_RR)")
    p.add_argument(
        "--router", default=os.environ.get("LBROUTE_ROUTER"), help="router gobgpd target ($LBROUTE_ROUTER)"
    )
    p.add_argument(
        "--router-netns",
        default=os.environ.get("LBROUTE_ROUTER_NETNS"),
        help="network namespace of the router's FIB ($LBROUTE_ROUTER_NETNS); default: this host's",
    )
    p.add_argument("--lab", metavar="PREFIX", help="take every target from the lab with this prefix")


def targets(args: argparse.Namespace) -> tuple[str, str | None, str | None]:
    """(RR target, router target or None, router netns or None)."""
    if args.lab:
        lab = Lab(args.lab)
        if not lab.is_up():
            raise TargetError(
                f"lab {args.lab!r} is not up; start it with `lbroute lab up --prefix {args.lab}`"
            )
        return f"unix://{lab.socket('rr')}", f"unix://{lab.socket('router')}", lab.topology.router_ns
    if not args.rr:
        raise TargetError(
            "no RR target: pass --rr unix:///path/gobgp.sock (or set LBROUTE_RR), or --lab PREFIX"
        )
    return args.rr, args.router, args.router_netns


def read_paths(target: str, what: str) -> list[Path]:
    try:
        with GobgpClient(target, timeout=3.0) as client:
            return client.list_paths()
    except grpc.RpcError as err:
        raise TargetError(
            f"{what} gobgpd at {target} did not answer ({describe(err)}); "
            "check that gobgpd runs and that its --api-hosts names this address"
        ) from None


def collect_vips(args: argparse.Namespace) -> list[VipRow]:
    rr_target, router_target, router_ns = targets(args)
    rr_paths = read_paths(rr_target, "RR")
    router_paths = read_paths(router_target, "router") if router_target else None
    try:
        fib = read_fib(router_ns)
    except IpCommandError as err:
        where = f"namespace {router_ns!r}" if router_ns else "this host"
        raise TargetError(f"cannot read the kernel FIB in {where}: {err.stderr.strip()}") from None
    return vip_rows(rr_paths, fib, router_paths)


def row_json(row: VipRow) -> dict[str, Any]:
    return {
        "prefix": row.prefix,
        "status": row.status,
        "rr_next_hops": sorted(row.rr_next_hops),
        "router_next_hops": sorted(row.router_next_hops) if row.router_next_hops is not None else None,
        "fib_next_hops": sorted(row.fib_next_hops),
    }


def run_vips(args: argparse.Namespace) -> int:
    rows = collect_vips(args)
    if args.json:
        print_json([row_json(r) for r in rows])
        return 0
    table: list[tuple[str, ...]] = [("VIP", "STATUS", "RR PATHS (next-hops)", "ROUTER RIB", "ROUTER FIB")]
    for r in rows:
        table.append(
            (r.prefix, r.status, join(r.rr_next_hops), join(r.router_next_hops), join(r.fib_next_hops))
        )
    print_table(table)
    return 0
