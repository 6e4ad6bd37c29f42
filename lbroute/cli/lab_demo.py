"""``lbroute lab demo`` (``make demo``): the walking skeleton, end to end, with real daemons.

Brings the lab up, shows the router's ECMP route and the operator's view, scales
3 -> 1 -> 4 while the route follows, kills the route reflector's gobgpd under a request
loop, sends a bounded number of requests from the router to the VIP, shows which LB
answered each share, and takes everything down — also on failure.

It lives with the CLI because it shows the CLI (``lbroute vips``); the lab it drives
knows nothing of either.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from lbroute.lab import traffic
from lbroute.lab.errors import LabError
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Topology

from .targets import lab_targets
from .vips_cmd import collect_rows, print_rows

REQUESTS = 120
RESTART_REQUESTS = 120
VIP = "10.1.1.1"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="the whole system end to end: up, scale 3 -> 1 -> 4, an RR restart under traffic, down",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.set_defaults(handler=run_demo)
    return p


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def show_kernel_route(lab: Lab) -> None:
    out = subprocess.run(
        ["ip", "-n", lab.topology.router_ns, "route", "show", VIP], capture_output=True, text=True
    ).stdout
    print(f"$ ip -n {lab.topology.router_ns} route show {VIP}\n{out.rstrip()}", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    prefix = args.prefix
    lab = Lab(prefix)
    if lab.is_up():
        print(
            f"demo: lab {prefix!r} is already up; run `make lab-down LAB_PREFIX={prefix}` first",
            file=sys.stderr,
        )
        return 2
    try:
        banner("lab up: router, route reflector, 3 nodes each with an LB pod")
        seconds = lab.up(Topology(prefix, 3))
        print(f"router FIB converged {seconds:.2f}s after the first namespace was created")
        show_kernel_route(lab)

        banner("operator view: lbroute vips")
        print_rows(collect_rows(lab_targets(lab, [])))

        for n in (1, 4):
            banner(f"scale to {n} LB{'s' if n > 1 else ''}")
            seconds = lab.scale(n)
            print(f"router FIB followed in {seconds:.2f}s")
            show_kernel_route(lab)

        banner(
            "kill -9 the route reflector's gobgpd under traffic (graceful restart keeps the router's paths)"
        )
        result, (whole, settled) = traffic.probe_during(
            lab.topology.router_ns, VIP, RESTART_REQUESTS, 0.1, lambda: lab.restart_and_recover("rr", 30)
        )
        print(
            f"FIB whole {whole:.2f}s after the new gobgpd answered; "
            f"router session back, nothing stale, after {settled:.2f}s"
        )
        restart_failed = result["failed"]
        print(f"  {result['sent']} requests across the restart, one every 100 ms: {restart_failed} failed")

        banner(f"{REQUESTS} requests from the router namespace to {VIP}, a new connection each")
        result = traffic.probe(lab.topology.router_ns, VIP, REQUESTS)
        for lb, count in result["answers"].items():
            print(f"  {lb}: {count:4d} answers  {'#' * (count // 2)}")
        print(f"  failed: {result['failed']}")
        return 0 if result["failed"] == 0 and restart_failed == 0 else 1
    except LabError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    finally:
        banner("lab down")
        removed = lab.down()
        print(f"removed {len(removed)} namespaces; every recorded process ended")
