"""``make demo``: the walking skeleton, end to end, with real daemons in network namespaces.

Brings the lab up, shows the router's ECMP route and the operator's view, scales
3 -> 1 -> 4 while the route follows, kills the route reflector's gobgpd under a request
loop, sends a bounded number of requests from the router to the VIP, shows which LB
answered each share, and takes everything down — also on failure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from lbroute import logs
from lbroute.cli import lab_cmd
from lbroute.cli.main import main as lbroute_main
from lbroute.lab.lab import Lab, LabError
from lbroute.lab.topology import Topology

REQUESTS = 120
RESTART_REQUESTS = 120


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def show_kernel_route(lab: Lab) -> None:
    out = subprocess.run(
        ["ip", "-n", lab.topology.router_ns, "route", "show", "10.1.1.1"], capture_output=True, text=True
    ).stdout
    print(f"$ ip -n {lab.topology.router_ns} route show 10.1.1.1\n{out.rstrip()}", flush=True)


def run(prefix: str) -> int:
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
        lbroute_main(["vips", "--lab", prefix])

        for n in (1, 4):
            banner(f"scale to {n} LB{'s' if n > 1 else ''}")
            seconds = lab.scale(n)
            print(f"router FIB followed in {seconds:.2f}s")
            show_kernel_route(lab)

        banner(
            "kill -9 the route reflector's gobgpd under traffic (graceful restart keeps the router's paths)"
        )

        result, (whole, settled) = lab_cmd.probe_during(
            lab, "10.1.1.1", RESTART_REQUESTS, 0.1, lambda: lab_cmd.restart_and_recover(lab, "rr", 30)
        )
        print(
            f"FIB whole {whole:.2f}s after the new gobgpd answered; "
            f"router session back, nothing stale, after {settled:.2f}s"
        )
        restart_failed = result["failed"]
        print(f"  {result['sent']} requests across the restart, one every 100 ms: {restart_failed} failed")

        banner(f"{REQUESTS} requests from the router namespace to 10.1.1.1, a new connection each")
        result = lab_cmd.probe(lab, "10.1.1.1", REQUESTS)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="lbr")
    args = parser.parse_args(argv)
    logs.configure("warning")
    return run(args.prefix)


if __name__ == "__main__":
    raise SystemExit(main())
