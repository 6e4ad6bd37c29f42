"""``lbroute lab ...``: the whole system in network namespaces, with real daemons.

Each command prints a short report, or JSON with ``--json``. The long ones (``up``,
``scale``, ``restart``) show their phases on stderr when it is a terminal; otherwise the
phases are ``lab.phase`` log events (``--log-level info``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lbroute.lab import hold as hold_probe
from lbroute.lab import images, traffic
from lbroute.lab.dataplane import DRIVERS as DATAPLANE_DRIVERS
from lbroute.lab.dataplane import MAX_BACKENDS, Backends
from lbroute.lab.errors import LabError
from lbroute.lab.lab import Lab, Progress
from lbroute.lab.scenario import DEFAULT_BFD, FIB_MODES, ROUTER_KINDS, LabImages, Scenario
from lbroute.lab.topology import DEFAULT_VIP, MAX_LBS, VIP_POOL, VIP_POOL6, Service, Topology, parse_service

from . import lab_demo
from .argtypes import bfd_timers, bounded_int, bounded_seconds, fault_target, lab_name, lb_name, restart_time
from .output import print_json

PREFIX_DEFAULT = os.environ.get("LBROUTE_LAB_PREFIX", "lbr")
WAIT_MAX = 600.0  # seconds: the longest --timeout a lab command accepts


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = sub.add_parser(
        "lab", help="the whole system in network namespaces", description=__doc__.splitlines()[0]
    ).add_subparsers(dest="lab_cmd", required=True, metavar="COMMAND")
    up = lab.add_parser("up", help="build the lab and wait for the router's FIB to converge")
    up.add_argument(
        "--lbs",
        type=bounded_int(0, MAX_LBS),
        default=3,
        metavar="N",
        help=f"LB pods, each on a node of its own (0 to {MAX_LBS}, default %(default)s)",
    )
    up.add_argument(
        "--rrs", type=int, default=1, choices=(1, 2), help="route reflectors (default %(default)s)"
    )
    up.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=VIP[@LB,..]",
        help=f"a service VIP (an IPv4 /32 in {VIP_POOL} or an IPv6 /128 in {VIP_POOL6}) and the LBs "
        f"serving it; repeatable (default: web={DEFAULT_VIP} on all)",
    )
    up.add_argument(
        "--graceful-restart",
        type=restart_time,
        default=None,
        metavar="SECONDS",
        help="graceful restart between router and RRs with this restart time; 0 for none "
        "(default: 30 with one RR, none with two)",
    )
    up.add_argument(
        "--dataplane",
        choices=DATAPLANE_DRIVERS,
        default="",
        help="the seed's whole system: lbroute-dataplane in every LB pod with this driver, and "
        "backend (web) pods behind a web node (default: each LB pod answers itself)",
    )
    up.add_argument(
        "--backends",
        type=bounded_int(1, MAX_BACKENDS),
        default=3,
        metavar="N",
        help=f"with --dataplane: backend pods at start (1 to {MAX_BACKENDS}, default %(default)s)",
    )
    up.add_argument(
        "--router",
        choices=ROUTER_KINDS,
        default="gobgp",
        help="the upstream router: gobgp (gobgpd + zebra, driven by lbroute-rr) or frr (FRR's bgpd "
        "+ zebra, from a rendered frr.conf; docs/routers.md) (default %(default)s)",
    )
    up.add_argument(
        "--bfd",
        type=bfd_timers,
        default=DEFAULT_BFD,
        metavar="MSxN|off",
        help="BFD between the RRs and every LB pod (and the router and the RRs, with two), this "
        "interval in ms times this multiplier; off for none (default 300x3)",
    )
    up.add_argument(
        "--images",
        action="store_true",
        help="run each LB pod's exabgp + announcer and each RR's gobgpd + lbroute-rr from the "
        "images `make images` built from this tree (podman, inside the lab's namespaces)",
    )
    up.add_argument(
        "--fib",
        choices=FIB_MODES,
        default="zebra",
        help="the gobgp router's FIB: zebra's hash-threshold groups, or resilient next-hop groups "
        "that lbroute-rr writes (then the LBs drain make-before-break) (default %(default)s)",
    )
    up.add_argument(
        "--drain-seconds",
        type=bounded_seconds(600),
        default=None,
        metavar="SECONDS",
        help="the announcers' drain period (default 1)",
    )
    _timeout(up, "for the router's FIB to converge")
    up.set_defaults(handler=run_up)

    backends = lab.add_parser("backends", help="set the data plane's backends and wait for every LB's table")
    backends.add_argument(
        "count", type=bounded_int(1, MAX_BACKENDS), metavar="N", help="backends web1..webN from now on"
    )
    _timeout(backends, "for every LB's kernel to hold the new table")
    backends.set_defaults(handler=run_backends)

    scale = lab.add_parser("scale", help="change the number of LBs and wait for the FIB to follow")
    scale.add_argument(
        "lbs", type=bounded_int(0, MAX_LBS), metavar="N", help=f"LB pods from now on (0 to {MAX_LBS})"
    )
    scale.add_argument(
        "--kill", action="store_true", help="LBs that go are killed (SIGKILL), not drained: a pod that dies"
    )
    _timeout(scale, "for the router's FIB to follow")
    scale.set_defaults(handler=run_scale)

    status = lab.add_parser("status", help="namespaces, processes and the router's FIB")
    status.set_defaults(handler=run_status)

    probe = lab.add_parser("probe", help="send a bounded number of requests from the router to a VIP")
    probe.add_argument(
        "--vip",
        default=DEFAULT_VIP.split("/")[0],
        help="a VIP of the lab, IPv4 or IPv6 (default %(default)s)",
    )
    probe.add_argument(
        "--count",
        type=bounded_int(1, traffic.MAX_REQUESTS),
        default=90,
        metavar="N",
        help=f"requests, a new connection each (1 to {traffic.MAX_REQUESTS}, default %(default)s)",
    )
    probe.set_defaults(handler=run_probe)

    hold = lab.add_parser(
        "hold",
        help="hold N connections open from the client namespace to a VIP across a disruption; "
        "count per LB (with a data plane: through it, per backend) how many were lost",
    )
    hold.add_argument(
        "--vip", default=DEFAULT_VIP.split("/")[0], help="a VIP of the lab (default %(default)s)"
    )
    hold.add_argument(
        "--connections",
        type=bounded_int(1, hold_probe.MAX_CONNECTIONS),
        default=300,
        metavar="N",
        help=f"connections, each a new source port (1 to {hold_probe.MAX_CONNECTIONS}, default %(default)s)",
    )
    hold.add_argument(
        "--seconds",
        type=bounded_seconds(hold_probe.MAX_SECONDS),
        default=10.0,
        metavar="S",
        help="how long to hold them once the disruption is over (or, with none, once open), a line "
        "each way every 100 ms (default %(default)g)",
    )
    hold.add_argument(
        "--during",
        choices=hold_probe.DISRUPTIONS,
        default="none",
        help="what happens once they are open: an LB added, the last one killed or drained, the RR's "
        "or the router's gobgpd restarted (default %(default)s)",
    )
    hold.add_argument(
        "--close-after",
        type=bounded_seconds(hold_probe.MAX_SECONDS),
        default=None,
        metavar="S",
        help="the client closes every connection S seconds after all are open (say, within a drain "
        "period), whether the disruption is over or not",
    )
    hold.set_defaults(handler=run_hold)

    restart = lab.add_parser(
        "restart",
        help="kill -9 a BGP daemon (rr, rr2: gobgpd; router: gobgpd or FRR's bgpd) and start it again",
    )
    restart.add_argument("who", choices=("rr", "rr2", "router"))
    _timeout(restart, "for the FIB to recover")
    restart.set_defaults(handler=run_restart)

    down = lab.add_parser("down", help="end every lab process and delete every lab namespace")
    down.set_defaults(handler=run_down)

    health = []
    for verb, mode, text in (
        ("break", "fail", "make lbN's health check fail (the announcer withdraws after `fall` checks)"),
        ("heal", "ok", "make lbN's health check pass again"),
        ("flap", "flap", "make lbN's health check alternate between fail and pass on every probe"),
    ):
        p = lab.add_parser(verb, help=text)
        p.add_argument("lb", metavar="lbN", type=lb_name)
        p.set_defaults(handler=run_health, mode=mode)
        health.append(p)

    faults = []
    for verb, text in (
        ("hang", "make a host answer nothing from now on (lbN: LB node N and its pod; rr, rr2): "
         "every frame on its link dropped, in its own namespace"),
        ("unhang", "let a host hung by `lab hang` answer again"),
    ):  # fmt: skip
        p = lab.add_parser(verb, help=text)
        p.add_argument("who", metavar="lbN|rr|rr2", type=fault_target)
        if verb == "hang":
            p.add_argument(
                "--stop",
                action="store_true",
                help="stop its processes with SIGSTOP instead (by their recorded PIDs): its kernel "
                "still answers, TCP sessions stay open, as with a hung daemon",
            )
        p.set_defaults(handler=run_hang, hang=verb == "hang", stop=False)
        faults.append(p)
    link = lab.add_parser("link", help="take a host's link down (carrier lost, as a pulled cable) or up")
    link.add_argument("who", metavar="lbN|rr|rr2", type=fault_target)
    link.add_argument("state", choices=("down", "up"))
    link.set_defaults(handler=run_link)
    faults.append(link)

    demo = lab_demo.add_parser(lab)
    for p in (up, scale, backends, status, probe, hold, restart, down, *health, *faults, demo):
        p.add_argument(
            "--prefix",
            type=lab_name,
            default=PREFIX_DEFAULT,
            help="the lab's name, which prefixes its namespaces: 1-8 lowercase letters and digits "
            "($LBROUTE_LAB_PREFIX, default %(default)s)",
        )
        if p is not demo:
            p.add_argument("--json", action="store_true", help="machine-readable output")


def _timeout(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--timeout",
        type=bounded_seconds(WAIT_MAX),
        default=30.0,
        metavar="SECONDS",
        help=f"how long to wait {what} (default %(default)gs, at most {WAIT_MAX:g})",
    )


def progress(command: str) -> Progress | None:
    """Phases on stderr when a person watches; otherwise they stay log events."""
    if not sys.stderr.isatty():
        return None

    def report(phase: str, seconds: float) -> None:
        print(f"{command}: {phase} ({seconds:.1f}s)", file=sys.stderr, flush=True)

    return report


def run_up(args: argparse.Namespace) -> int:
    services = tuple(parse_service(s) for s in args.service) or (Service("web", DEFAULT_VIP),)
    topo = Topology(args.prefix, args.lbs, services, args.rrs)
    lab = Lab(args.prefix, progress=None if args.json else progress(f"lab {args.prefix} up"))
    built = None
    if args.images:
        refs = images.built_refs()  # this tree's, or a LabError saying to run `make images`
        built = LabImages(announcer=refs["announcer"], control_plane=refs["control-plane"])
    scenario = Scenario(
        graceful_restart=args.graceful_restart,
        router=args.router,
        fib=args.fib,
        drain_seconds=args.drain_seconds,
        images=built,
        dataplane=args.dataplane,
        backends=args.backends,
        bfd=args.bfd,
    )
    seconds = lab.up(topo, scenario, timeout=args.timeout)
    report: dict[str, Any] = {
        "prefix": args.prefix,
        "lbs": args.lbs,
        "rrs": args.rrs,
        "router": args.router,
        "fib": args.fib,
        "seconds": round(seconds, 3),
    }
    if built:
        report["images"] = {"announcer": built.announcer, "control-plane": built.control_plane}
    if args.json:
        print_json({**report, "router_fib": _fib_json(lab)})
        return 0
    print(
        f"lab {args.prefix} up: {args.lbs} LBs, {args.router} router, {args.fib} FIB, "
        f"FIB converged in {seconds:.2f}s"
    )
    if built:
        print(f"  LB pods from {built.announcer}, RRs from {built.control_plane}")
    print_fib(lab)
    return 0


def run_scale(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix, progress=None if args.json else progress(f"lab {args.prefix} scale"))
    seconds = lab.scale(args.lbs, timeout=args.timeout, kill=args.kill)
    if args.json:
        print_json(
            {
                "prefix": args.prefix,
                "lbs": args.lbs,
                "seconds": round(seconds, 3),
                "router_fib": _fib_json(lab),
            }
        )
        return 0
    print(f"lab {args.prefix} scaled to {args.lbs} LBs; router FIB followed in {seconds:.2f}s")
    print_fib(lab)
    return 0


def run_backends(args: argparse.Namespace) -> int:
    lab = _up(args.prefix)
    lab.set_backends(Backends(tuple(range(1, args.count + 1))), timeout=args.timeout)
    room = lab.dataplane
    assert room is not None
    table = room.backends().table()
    if args.json:
        print_json({"prefix": args.prefix, "backends": room.backends().addresses(), "buckets": len(table)})
        return 0
    print(f"lab {args.prefix}: {args.count} backends; every LB's kernel holds the new table")
    return 0


def run_status(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    if not lab.exists():
        raise LabError(
            f"no lab {args.prefix!r} in {lab.root}; `lbroute lab up --prefix {args.prefix}` starts one"
        )
    status = lab.status()
    if args.json:
        print_json(status)
        return 0
    state = "up" if status["up"] else "down"
    print(
        f"lab {status['prefix']}: {state}, {status['lbs']} LBs, {status['rrs']} RR(s), "
        f"{status['router']} router"
    )
    for name, proc in status["processes"].items():
        print(f"  {name:<22} pid {proc['pid']:<8} {'running' if proc['alive'] else 'EXITED'}")
    for name, box in status["containers"].items():
        print(f"  {name:<22} container {box['id']:<12} {'running' if box['running'] else 'EXITED'}")
    for kind, names in status["faults"].items():
        if names:
            print(f"  {kind.replace('_', ' ')}: {', '.join(names)}")
    for prefix, hops in status["router_fib"].items():
        expected = status["expected"].get(prefix)
        mark = "" if expected == hops else f"   (expected {expected})"
        print(f"  router FIB {prefix}: {', '.join(hops)}{mark}")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    traffic.check_request(args.vip, args.count)
    lab = _up(args.prefix)
    result = traffic.probe(lab.topology.router_ns, args.vip, args.count)
    if args.json:
        print_json(result)
        return 0
    print(f"{result['sent']} requests from {lab.topology.router_ns} to {args.vip}, a new connection each:")
    for lb, count in result["answers"].items():
        print(f"  {lb}: {count} answers")
    print(f"  failed: {result['failed']}" + (f" {result['failures']}" if result["failed"] else ""))
    return 0


def run_hold(args: argparse.Namespace) -> int:
    hold_probe.check_hold(args.vip, args.connections, args.seconds, args.close_after)
    lab = _up(args.prefix)
    lab.progress = None if args.json else progress(f"lab {args.prefix} hold")
    disrupt, leaving = hold_probe.disruption(lab, args.during)
    result = hold_probe.hold_during(
        lab, args.vip, args.connections, args.seconds, disrupt, close_after=args.close_after, leaving=leaving
    )
    report = {"prefix": args.prefix, "fib": lab.scenario.fib, "during": args.during, **result}
    if args.json:
        print_json(report)
        return 0
    answers = result["answered_by"]
    through = f", through {lab.scenario.dataplane} to the backends" if answers == "backend" else ""
    print(
        f"{result['held']} of {result['connections']} connections held from {lab.topology.client_ns} to "
        f"{args.vip}{through} for {result['held_seconds']:g}s ({lab.scenario.fib} FIB, "
        f"during: {args.during}, which took {result['disruption_seconds']:g}s):"
    )
    for name, c in (result["by_lb"] if answers == "lb" else result["by_backend"]).items():
        mark = "  (left)" if name == leaving else ""
        print(f"  {name}: {c['held']} held, {c['lost']} lost{mark}")
    if answers == "lb":
        print(f"  lost on surviving LBs: {result['lost_on_surviving']} of {result['held_on_surviving']}")
    else:
        print(
            f"  lost: {result['lost']} of {result['held']}"
            + (f" {result['lost_by_kind']}" if result["lost"] else "")
        )
    if leaving:
        print(f"  lost on {leaving}, which left: {result['lost_on_leaving']}")
    if result["open_failures"]:
        print(f"  not opened: {result['open_failures']}")
    return 0


def run_restart(args: argparse.Namespace) -> int:
    lab = _up(args.prefix)
    lab.progress = None if args.json else progress(f"lab {args.prefix} restart {args.who}")
    whole, settled = lab.restart_and_recover(args.who, args.timeout)
    if args.json:
        print_json(
            {
                "prefix": args.prefix,
                "restarted": lab.bgp_daemon(args.who),
                "fib_whole_seconds": round(whole, 3),
                "settled_seconds": round(settled, 3),
                "router_fib": _fib_json(lab),
            }
        )
        return 0
    print(
        f"lab {args.prefix}: {lab.bgp_daemon(args.who)} restarted; FIB whole {whole:.2f}s and router "
        f"sessions back, no stale path, {settled:.2f}s after it answered"
    )
    print_fib(lab)
    return 0


def run_health(args: argparse.Namespace) -> int:
    Lab(args.prefix).set_health(args.lb, args.mode)
    if args.json:
        print_json({"prefix": args.prefix, "lb": f"lb{args.lb}", "health": args.mode})
        return 0
    print(f"lab {args.prefix}: lb{args.lb} health check now answers {args.mode!r}")
    return 0


def run_hang(args: argparse.Namespace) -> int:
    lab = _up(args.prefix)
    if args.hang:
        ns = lab.hang(args.who, stop=args.stop)
        what = (
            f"{args.who} hung: its processes stopped (SIGSTOP)"
            if args.stop
            else f"{args.who} hung: every frame on {ns}'s eth0 dropped, both ways"
        )
        changed = True
    else:
        changed = lab.unhang(args.who)
        what = f"{args.who} answers again" if changed else f"{args.who} was not hung"
    if args.json:
        print_json({"prefix": args.prefix, "target": args.who, "hung": args.hang, "changed": changed})
        return 0
    print(f"lab {args.prefix}: {what}")
    return 0


def run_link(args: argparse.Namespace) -> int:
    lab = _up(args.prefix)
    lab.set_link(args.who, args.state == "up")
    if args.json:
        print_json({"prefix": args.prefix, "target": args.who, "link": args.state})
        return 0
    print(f"lab {args.prefix}: {args.who}'s link {args.state}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    lab = Lab(args.prefix)
    made = lab.exists()
    removed = lab.down()  # with no lab here: ends and deletes nothing
    if args.json:
        print_json({"prefix": args.prefix, "existed": made, "removed_namespaces": removed})
    elif made:
        print(f"lab {args.prefix} down: removed {len(removed)} namespaces")
    else:
        print(f"lab {args.prefix}: nothing to take down (no lab of that name in {lab.root})")
    return 0


def print_fib(lab: Lab) -> None:
    for prefix, hops in sorted(lab.router_fib().items()):
        print(f"  router FIB {prefix}: " + (", ".join(sorted(hops)) or "-"))


def _fib_json(lab: Lab) -> dict[str, Any]:
    return {prefix: sorted(hops) for prefix, hops in sorted(lab.router_fib().items())}


def _up(prefix: str) -> Lab:
    lab = Lab(prefix)
    if not lab.is_up():
        raise LabError(f"lab {prefix!r} is not up; `lbroute lab up --prefix {prefix}` starts it")
    return lab
