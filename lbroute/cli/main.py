"""``lbroute``: where every VIP's traffic goes, and the lab that shows it.

lbroute vips   [--rr TARGET] [--router-netns NS] [--lab PREFIX] [--json]
lbroute lab up [--lbs N] [--service NAME=VIP[@1,2]] [--prefix P]
lbroute lab scale N | status [--json] | probe [--count N] | down
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import grpc

from lbroute import logs
from lbroute.core.view import VipRow, vip_rows
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import describe
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import IpCommandError, netns_exec
from lbroute.lab.daemons import VENV_BIN
from lbroute.lab.lab import Lab, LabError
from lbroute.lab.topology import DEFAULT_VIP, Service, Topology, TopologyError, parse_service

EXIT_USAGE = 2


class TargetError(Exception):
    """A target that cannot be reached: says which and what to check."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lbroute", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None)
    sub = parser.add_subparsers(dest="command", required=True)

    vips = sub.add_parser("vips", help="per VIP: paths at the RR, next-hops in the router's FIB")
    vips.add_argument("--rr", default=os.environ.get("LBROUTE_RR"), help="RR gobgpd gRPC target")
    vips.add_argument("--router", default=os.environ.get("LBROUTE_ROUTER"), help="router gobgpd target")
    vips.add_argument(
        "--router-netns", default=os.environ.get("LBROUTE_ROUTER_NETNS"), help="netns of the router's FIB"
    )
    vips.add_argument("--lab", metavar="PREFIX", help="take all targets from the lab with this prefix")
    vips.add_argument("--json", action="store_true")

    lab = sub.add_parser("lab", help="the whole system in network namespaces").add_subparsers(
        dest="lab_cmd", required=True
    )
    prefix_default = os.environ.get("LBROUTE_LAB_PREFIX", "lbr")
    up = lab.add_parser("up", help="build the lab and wait for the router's FIB to converge")
    up.add_argument("--lbs", type=int, default=3)
    up.add_argument("--rrs", type=int, default=1, choices=(1, 2))
    up.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=VIP[@LB,..]",
        help=f"a service VIP and the LBs serving it (default: web={DEFAULT_VIP} on all)",
    )
    up.add_argument("--timeout", type=float, default=30.0)
    scale = lab.add_parser("scale", help="change the number of LBs and wait for the FIB to follow")
    scale.add_argument("lbs", type=int)
    scale.add_argument("--timeout", type=float, default=30.0)
    status = lab.add_parser("status", help="namespaces, processes and the router's FIB")
    status.add_argument("--json", action="store_true")
    probe = lab.add_parser("probe", help="send a bounded number of requests from the router to a VIP")
    probe.add_argument("--vip", default=DEFAULT_VIP.split("/")[0])
    probe.add_argument("--count", type=int, default=90)
    lab.add_parser("down", help="end every lab process and delete every lab namespace")
    for p in (up, scale, status, probe, lab.choices["down"]):
        p.add_argument("--prefix", default=prefix_default, help="namespace prefix (default %(default)s)")
    return parser


# --- vips ---------------------------------------------------------------------------------------


def _targets(args: argparse.Namespace) -> tuple[str, str | None, str | None]:
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


def _read_paths(target: str, what: str) -> list[Any]:
    try:
        with GobgpClient(target, timeout=3.0) as client:
            return client.list_paths()
    except grpc.RpcError as err:
        raise TargetError(
            f"{what} gobgpd at {target} did not answer ({describe(err)}); "
            "check that gobgpd runs and that its --api-hosts names this address"
        ) from None


def collect_vips(args: argparse.Namespace) -> list[VipRow]:
    rr_target, router_target, router_ns = _targets(args)
    rr_paths = _read_paths(rr_target, "RR")
    router_paths = _read_paths(router_target, "router") if router_target else None
    try:
        fib = read_fib(router_ns)
    except IpCommandError as err:
        where = f"namespace {router_ns!r}" if router_ns else "this host"
        raise TargetError(f"cannot read the kernel FIB in {where}: {err.stderr.strip()}") from None
    return vip_rows(rr_paths, fib, router_paths)


def _row_json(row: VipRow) -> dict[str, Any]:
    return {
        "prefix": row.prefix,
        "status": row.status,
        "rr_next_hops": sorted(row.rr_next_hops),
        "router_next_hops": sorted(row.router_next_hops) if row.router_next_hops is not None else None,
        "fib_next_hops": sorted(row.fib_next_hops),
    }


def print_vips(rows: list[VipRow], as_json: bool) -> None:
    if as_json:
        print(json.dumps([_row_json(r) for r in rows], indent=2))
        return
    table: list[tuple[str, ...]] = [("VIP", "STATUS", "RR PATHS (next-hops)", "ROUTER RIB", "ROUTER FIB")]
    for r in rows:
        router = ",".join(sorted(r.router_next_hops)) if r.router_next_hops is not None else "-"
        table.append(
            (r.prefix, r.status, ",".join(sorted(r.rr_next_hops)) or "-", router or "-",
             ",".join(sorted(r.fib_next_hops)) or "-")
        )  # fmt: skip
    print_table(table)


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# --- lab ----------------------------------------------------------------------------------------


def run_lab(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    match args.lab_cmd:
        case "up":
            services = tuple(parse_service(s) for s in args.service) or (Service("web", DEFAULT_VIP),)
            topo = Topology(args.prefix, args.lbs, services, args.rrs)
            seconds = lab.up(topo, timeout=args.timeout)
            print(f"lab {args.prefix} up: {args.lbs} LBs, router FIB converged in {seconds:.2f}s")
            print_fib(lab)
        case "scale":
            seconds = lab.scale(args.lbs, timeout=args.timeout)
            print(f"lab {args.prefix} scaled to {args.lbs} LBs; router FIB followed in {seconds:.2f}s")
            print_fib(lab)
        case "status":
            status = lab.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                print_status(status)
        case "probe":
            if not lab.is_up():
                raise LabError(f"lab {args.prefix!r} is not up")
            result = probe(lab, args.vip, args.count)
            print(json.dumps(result))
        case "down":
            removed = lab.down()
            print(f"lab {args.prefix} down: removed {len(removed)} namespaces")
    return 0


def probe(lab: Lab, vip: str, count: int) -> dict[str, Any]:
    argv = netns_exec(
        lab.topology.router_ns,
        str(VENV_BIN / "python"), "-m", "lbroute.lab.probe", "--host", vip, "--count", str(count),
    )  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def print_fib(lab: Lab) -> None:
    for prefix, hops in sorted(lab.router_fib().items()):
        print(f"  router FIB {prefix}: " + (", ".join(sorted(hops)) or "-"))


def print_status(status: dict[str, Any]) -> None:
    state = "up" if status["up"] else "down"
    print(f"lab {status['prefix']}: {state}, {status['lbs']} LBs, {status['rrs']} RR(s)")
    for name, proc in status["processes"].items():
        print(f"  {name:<22} pid {proc['pid']:<8} {'running' if proc['alive'] else 'EXITED'}")
    for prefix, hops in status["router_fib"].items():
        expected = status["expected"].get(prefix)
        mark = "" if expected == hops else f"   (expected {expected})"
        print(f"  router FIB {prefix}: {', '.join(hops)}{mark}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level or "warning")
    try:
        if args.command == "vips":
            print_vips(collect_vips(args), args.json)
            return 0
        return run_lab(args)
    except (TargetError, LabError, TopologyError) as err:
        print(f"lbroute: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
