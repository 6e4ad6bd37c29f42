"""``lbroute rib``: the paths each gobgpd holds, at the RR(s), the router, or both."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lbroute.core.rib import Path, address_order, prefix_order

from .argtypes import vip_prefix
from .errors import TargetError
from .output import print_json, print_table
from .targets import Daemon, add_target_args, no_cyclic_gc, read_paths, resolve


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rib", help="the BGP paths at the RR(s) and the router")
    p.add_argument("--vip", type=vip_prefix, metavar="PREFIX", help="only this VIP")
    p.add_argument(
        "--at", choices=("rr", "router"), help="only the RR(s), or only the router (default: both)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, fib=False)
    p.set_defaults(handler=run_rib)


def run_rib(args: argparse.Namespace) -> int:
    with no_cyclic_gc():
        targets = resolve(args)
        daemons: tuple[Daemon, ...]
        if args.at == "rr":
            daemons = targets.need_rrs()
        elif args.at == "router":
            if targets.router is None:
                raise TargetError(
                    "no router target: pass --router TARGET or --router-vtysh DIR (or set LBROUTE_ROUTER "
                    "or LBROUTE_ROUTER_VTYSH), or --lab PREFIX"
                )
            daemons = (targets.router,)
        else:
            daemons = targets.need_daemons()
        prefixes = (args.vip,) if args.vip else ()
        with ThreadPoolExecutor(max_workers=len(daemons)) as pool:
            futures = [pool.submit(read_paths, d, targets.timeout, prefixes=prefixes) for d in daemons]
            held = [
                (d.name, sorted(f.result(), key=_path_order)) for d, f in zip(daemons, futures, strict=True)
            ]
        if args.json:
            print_json([path_json(at, p) for at, paths in held for p in paths])
            return 0
        table = [("AT", "PREFIX", "NEXT-HOP", "FROM", "PATH-ID", "BEST", "STALE")]
        for at, paths in held:
            table += [
                (
                    at,
                    p.prefix,
                    p.next_hop or "-",
                    p.source or "local",
                    str(p.path_id),
                    "*" if p.best else "",
                    "stale" if p.stale else "",
                )
                for p in paths
            ]
        print_table(table)
        return 0


def path_json(at: str, p: Path) -> dict[str, Any]:
    return {
        "at": at,
        "prefix": p.prefix,
        "next_hop": p.next_hop,
        "source": p.source or None,
        "path_id": p.path_id,
        "best": p.best,
        # held from a neighbor whose session is down, under graceful restart, until it is back
        "stale": p.stale,
    }


def _path_order(p: Path) -> tuple[object, ...]:
    return prefix_order(p.prefix), address_order(p.next_hop), address_order(p.source), p.path_id
