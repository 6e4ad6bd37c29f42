"""``lbroute lab ...``: the whole system in network namespaces, with real daemons."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lbroute.kernel.ip import netns_exec
from lbroute.lab.daemons import VENV_BIN
from lbroute.lab.lab import Lab, LabError
from lbroute.lab.topology import DEFAULT_VIP, Service, Topology, parse_service
from lbroute.polling import eventually

from .argtypes import lab_name, restart_time
from .output import print_json

T = TypeVar("T")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = sub.add_parser("lab", help="the whole system in network namespaces").add_subparsers(
        dest="lab_cmd", required=True
    )
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
    up.add_argument(
        "--graceful-restart",
        type=restart_time,
        default=None,
        metavar="SECONDS",
        help="graceful restart between router and RRs with this restart time; 0 for none "
        "(default: 30 with one RR, none with two)",
    )
    up.add_argument("--timeout", type=float, default=30.0)
    up.set_defaults(handler=run_up)

    scale = lab.add_parser("scale", help="change the number of LBs and wait for the FIB to follow")
    scale.add_argument("lbs", type=int)
    scale.add_argument("--timeout", type=float, default=30.0)
    scale.set_defaults(handler=run_scale)

    status = lab.add_parser("status", help="namespaces, processes and the router's FIB")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)

    probe_p = lab.add_parser("probe", help="send a bounded number of requests from the router to a VIP")
    probe_p.add_argument("--vip", default=DEFAULT_VIP.split("/")[0])
    probe_p.add_argument("--count", type=int, default=90)
    probe_p.set_defaults(handler=run_probe)

    restart = lab.add_parser("restart", help="kill -9 a gobgpd (rr, rr2, router) and start it again")
    restart.add_argument("who", choices=("rr", "rr2", "router"))
    restart.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the FIB to recover")
    restart.set_defaults(handler=run_restart)

    down = lab.add_parser("down", help="end every lab process and delete every lab namespace")
    down.set_defaults(handler=run_down)

    health_parsers = []
    for verb, mode, text in (
        ("break", "fail", "make lbN's health check fail (the announcer withdraws after `fall` checks)"),
        ("heal", "ok", "make lbN's health check pass again"),
        ("flap", "flap", "make lbN's health check alternate between fail and pass on every probe"),
    ):
        p = lab.add_parser(verb, help=text)
        p.add_argument("lb", metavar="lbN", type=_lb_index)
        p.set_defaults(handler=run_health, mode=mode)
        health_parsers.append(p)

    prefix_default = os.environ.get("LBROUTE_LAB_PREFIX", "lbr")
    for p in (up, scale, status, probe_p, restart, down, *health_parsers):
        p.add_argument(
            "--prefix",
            type=lab_name,
            default=prefix_default,
            help="the lab's name, which prefixes its namespaces: 1-8 lowercase letters and digits "
            "($LBROUTE_LAB_PREFIX, default %(default)s)",
        )


def run_up(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    services = tuple(parse_service(s) for s in args.service) or (Service("web", DEFAULT_VIP),)
    topo = Topology(args.prefix, args.lbs, services, args.rrs)
    seconds = lab.up(topo, timeout=args.timeout, graceful_restart=args.graceful_restart)
    print(f"lab {args.prefix} up: {args.lbs} LBs, router FIB converged in {seconds:.2f}s")
    print_fib(lab)
    return 0


def run_scale(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    seconds = lab.scale(args.lbs, timeout=args.timeout)
    print(f"lab {args.prefix} scaled to {args.lbs} LBs; router FIB followed in {seconds:.2f}s")
    print_fib(lab)
    return 0


def run_status(args: argparse.Namespace) -> int:
    status = Lab(args.prefix).status()
    if args.json:
        print_json(status)
        return 0
    state = "up" if status["up"] else "down"
    print(f"lab {status['prefix']}: {state}, {status['lbs']} LBs, {status['rrs']} RR(s)")
    for name, proc in status["processes"].items():
        print(f"  {name:<22} pid {proc['pid']:<8} {'running' if proc['alive'] else 'EXITED'}")
    for prefix, hops in status["router_fib"].items():
        expected = status["expected"].get(prefix)
        mark = "" if expected == hops else f"   (expected {expected})"
        print(f"  router FIB {prefix}: {', '.join(hops)}{mark}")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    if not lab.is_up():
        raise LabError(f"lab {args.prefix!r} is not up")
    print(json.dumps(probe(lab, args.vip, args.count)))
    return 0


def run_restart(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    if not lab.is_up():
        raise LabError(f"lab {args.prefix!r} is not up")
    whole, settled = restart_and_recover(lab, args.who, args.timeout)
    print(
        f"lab {args.prefix}: gobgpd-{args.who} restarted; FIB whole {whole:.2f}s and router "
        f"sessions back, no stale path, {settled:.2f}s after it answered"
    )
    print_fib(lab)
    return 0


def _lb_index(text: str) -> int:
    digits = text[2:] if text.startswith("lb") else text
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an LB name such as lb2")
    return int(digits)


def run_health(args: argparse.Namespace) -> int:
    Lab(args.prefix).set_health(args.lb, args.mode)
    print(f"lab {args.prefix}: lb{args.lb} health check now answers {args.mode!r}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    made = lab.exists()
    removed = lab.down()  # with no lab here: ends and deletes nothing
    if made:
        print(f"lab {args.prefix} down: removed {len(removed)} namespaces")
    else:
        print(f"lab {args.prefix}: nothing to take down (no lab of that name in {lab.root})")
    return 0


def probe(lab: Lab, vip: str, count: int) -> dict[str, Any]:
    """Requests from inside the router's namespace to a lab VIP; a new connection for each."""
    argv = netns_exec(
        lab.topology.router_ns,
        str(VENV_BIN / "python"), "-m", "lbroute.lab.probe", "--host", vip, "--count", str(count),
    )  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def restart_and_recover(lab: Lab, who: str, timeout: float) -> tuple[float, float]:
    """``kill -9`` and restart the gobgpd of ``who``; returns the seconds from the new one
    answering until the FIB was whole, and until the router was settled (nothing stale)."""
    answered = lab.restart(who)
    lab.wait_converged(timeout)
    whole = time.monotonic() - answered
    lab.wait_settled(timeout)
    return whole, time.monotonic() - answered


def probe_during(
    lab: Lab, vip: str, count: int, interval: float, disruption: Callable[[], T], *, warm_up: int = 20
) -> tuple[dict[str, Any], T]:
    """``count`` requests to ``vip``, one every ``interval`` s, from the router's namespace;
    once ``warm_up`` of them are sent, ``disruption()`` runs. Returns the probe's result and
    what ``disruption`` returned. The request loop is ended on any failure."""
    with tempfile.TemporaryDirectory(prefix="lbroute-probe-") as tmp:
        progress = Path(tmp) / "progress"
        argv = netns_exec(
            lab.topology.router_ns, str(VENV_BIN / "python"), "-m", "lbroute.lab.probe", "--host", vip,
            "--count", str(count), "--interval", str(interval), "--progress-file", str(progress),
        )  # fmt: skip
        loop = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:

            def under_way() -> None:
                sent = int(progress.read_text() or 0) if progress.exists() else 0
                assert sent >= warm_up, f"the request loop has sent {sent}"

            eventually(under_way, 30, what="the request loop under way")
            outcome = disruption()
            out, _ = loop.communicate(timeout=count * (interval + 2.5) + 30)
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.communicate()
    result: dict[str, Any] = json.loads(out)
    return result, outcome


def print_fib(lab: Lab) -> None:
    for prefix, hops in sorted(lab.router_fib().items()):
        print(f"  router FIB {prefix}: " + (", ".join(sorted(hops)) or "-"))
