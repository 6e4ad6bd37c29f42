"""N LB speakers x M VIPs through the RR manager's gobgpd to a converged router FIB.

How many speakers fit on 2 shared cores: one *speaker farm* namespace on the lab's bridge
holds N source addresses, node i's pod address (172.16.i.2, inside the RR's dynamic-neighbor
range). A few exabgp processes (``--farm-processes``, default 2: one per core) each run N/P
neighbor blocks, one per address, each announcing the same M VIPs with node i's address as
next-hop (10.0.0.(10+i)). To the RR they are N distinct speakers, each on its own node, so
the guard rails accept them (the M VIPs are the lab's services); to the router every VIP
has N next-hops. The RR and the router are the lab's real gobgpd + zebra, configured by the
real ``lbroute-rr run`` managers, guard rails included.

Measured per run, from the moment the farm starts: all N sessions established at the RR,
and the router's kernel FIB holding M VIP routes with N next-hops each. Then the resident
memory (VmRSS) of both gobgpds and zebra.

    python -m benchmarks.rr_scale --runs 16x250,32x500,64x1000
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.announcer import cpu_seconds, rss_kib
from benchmarks.machine import machine
from benchmarks.report import Progress, add_json, emit, new_parser
from lbroute import logs
from lbroute.gobgp.apipb import gobgp_pb2 as api
from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip
from lbroute.lab import daemons
from lbroute.lab.frr_router import FrrRib
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import ASN, MAX_LBS, POD_RANGE, ROUTER_IP, Node, Service, Topology

HERE = Path(__file__).parent
RESULTS = HERE / "results"
FARM_IP = "10.0.0.200"
PREFIX = "h4bench"


def vips(m: int) -> list[str]:
    base = int(ipaddress.ip_address("10.1.0.1"))
    return [f"{ipaddress.ip_address(base + k)}/32" for k in range(m)]


def farm_conf(speakers: list[int], m: int) -> str:
    """exabgp config: one neighbor block per speaker address, each with M static routes."""
    routes = vips(m)
    blocks = []
    for i in speakers:
        local = Node(i).pod_ip
        nh = Node(i).ip
        lines = "".join(f"        route {r} next-hop {nh};\n" for r in routes)
        blocks.append(
            f"""neighbor 10.0.0.2 {{
    router-id {local};
    local-address {local};
    local-as {ASN};
    peer-as {ASN};
    hold-time 30;
    family {{ ipv4 unicast; }}
    static {{
{lines}    }}
}}
"""
        )
    return "\n".join(blocks)


def fib_full(lab: Lab, n: int) -> tuple[int, int]:
    """(VIP routes with all N next-hops, VIP routes) in the router's kernel FIB."""
    routes = [r for r in read_fib(lab.topology.router_ns) if r.prefix.startswith("10.1.")]
    return sum(1 for r in routes if len(r.next_hops) == n), len(routes)


class Profile:
    """What each hop holds, every ``interval``, from the farm's start to a converged FIB.

    Per sample: speaker sessions up at the RR, paths the RR received from them, UPDATEs the
    RR received and sent, paths and UPDATEs the router's gobgpd received, the kernel FIB's
    full VIP routes, and every lab process's CPU seconds. Sessions that came up more than
    once (a flap) show as more distinct (neighbor, uptime) pairs than speakers.
    """

    PHASES = ("sessions up", "RR received", "router received", "FIB installed")

    def __init__(self, lab: Lab, n: int, m: int) -> None:
        self.lab, self.n, self.m = lab, n, m
        self.samples: list[dict[str, Any]] = []
        self.phases: dict[str, float] = {}
        self.uptimes: set[tuple[str, int]] = set()
        self.started = time.monotonic()
        self.speakers = {Node(i).pod_ip for i in range(1, n + 1)}
        # CPU before the farm starts: what each lab process had spent by then (the farm: none)
        self.cpu0 = {name: cpu_seconds(rec.pid) for name, rec in lab.state.processes.items()}

    def sample(self, rr: GobgpClient, router: GobgpClient | FrrRib) -> bool:
        """One sample; True once every phase is reached (the FIB holds every VIP with every next-hop)."""
        t = time.monotonic() - self.started
        speakers = [p for p in rr.list_peers_raw() if _neighbor(p) in self.speakers]
        up = [p for p in speakers if p.state.session_state == api.PeerState.SESSION_STATE_ESTABLISHED]
        self.uptimes |= {(_neighbor(p), p.timers.state.uptime.seconds) for p in up}
        towards_router = [p for p in rr.list_peers_raw() if _neighbor(p) == ROUTER_IP]
        row: dict[str, Any] = {
            "t": round(t, 3),
            "sessions_up": len(up),
            "rr_received": sum(a.state.received for p in up for a in p.afi_safis),
            "rr_updates_in": sum(p.state.messages.received.update for p in speakers),
            "rr_updates_out": sum(p.state.messages.sent.update for p in towards_router),
        }
        if isinstance(router, GobgpClient):
            peers = router.list_peers_raw()
            row["router_received"] = sum(a.state.received for p in peers for a in p.afi_safis)
            row["router_updates_in"] = sum(p.state.messages.received.update for p in peers)
        else:  # FRR's bgpd: paths received, through vtysh (its UPDATE count is not split out)
            row["router_received"] = sum(s.received for s in router.sessions())
        row["fib_full"], row["fib_routes"] = fib_full(self.lab, self.n)
        procs = self.lab.state.processes
        row["cpu_s"] = {name: round(cpu_seconds(rec.pid), 2) for name, rec in procs.items()}
        self.samples.append(row)
        paths = self.n * self.m
        reached = (
            len(up) == self.n,
            row["rr_received"] >= paths,
            row["router_received"] >= paths,
            row["fib_full"] == self.m,
        )
        for phase, done in zip(self.PHASES, reached, strict=True):
            if done and phase not in self.phases:
                self.phases[phase] = round(t, 2)
        return all(reached)

    def summary(self) -> dict[str, Any]:
        last = self.samples[-1]
        cpu = {k: round(v - self.cpu0.get(k, 0.0), 2) for k, v in last["cpu_s"].items()}
        return {
            "phases_s": self.phases,
            "sessions_established": len(self.uptimes),
            "updates": {k: last.get(k) for k in ("rr_updates_in", "rr_updates_out", "router_updates_in")},
            "cpu_s": dict(sorted(cpu.items(), key=lambda kv: -kv[1])),
            "wall_s": last["t"],
        }


def _neighbor(peer: api.Peer) -> str:
    return peer.state.neighbor_address or peer.conf.neighbor_address


def run_one(
    n: int,
    m: int,
    processes: int,
    timeout: float,
    interval: float = 0.5,
    router_kind: str = "gobgp",
    fib: str = "zebra",
) -> dict[str, Any]:
    lab = Lab(PREFIX)
    lab.down()  # a crashed earlier run leaves nothing in the way
    try:
        # speaker timers longer than the lab's 3 s: a busy exabgp must not miss keepalives
        # the farm's VIPs are the lab's services, so the RR's guard rails accept exactly them
        services = tuple(Service(f"v{k}", vip) for k, vip in enumerate(vips(m)))
        lab.up(
            Topology(PREFIX, 0, services=services),
            Scenario(speaker_timers=(30, 10), max_prefixes=m + 10, router=router_kind, fib=fib),
        )
        farm = lab.add_namespace("node200", f"{FARM_IP}/24")
        for i in range(1, n + 1):
            ip("addr", "add", f"{Node(i).pod_ip}/32", "dev", "eth0", netns=farm)
        ip("route", "add", str(POD_RANGE), "via", FARM_IP, netns=lab.topology.rr_ns(1))
        groups = [list(range(1 + k, n + 1, processes)) for k in range(processes)]
        profile = Profile(lab, n, m)
        started = profile.started = time.monotonic()
        for k, group in enumerate(groups):
            conf = lab.dir / f"farm{k}.conf"
            conf.write_text(farm_conf(group, m))
            lab.supervisor.spawn(
                f"exabgp-farm{k}", daemons.exabgp_argv(conf), farm, env=daemons.exabgp_env(), cwd=lab.dir
            )
        with contextlib.ExitStack() as stack:
            rr = stack.enter_context(GobgpClient(str(lab.socket("rr"))))
            router: GobgpClient | FrrRib = (
                stack.enter_context(GobgpClient(str(lab.socket("router"))))
                if router_kind == "gobgp"
                else FrrRib(lab.router_dir)
            )
            while not profile.sample(rr, router):
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"not converged in {timeout:.0f} s: {profile.samples[-1]}")
                time.sleep(interval)
        t_sessions = profile.phases["sessions up"]
        t_fib = profile.phases["FIB installed"]
        procs = lab.state.processes
        result = {
            "speakers": n,
            "vips": m,
            "router": router_kind,
            "fib": fib,
            "paths": n * m,
            "farm_processes": processes,
            "seconds_to_sessions": round(t_sessions, 2),
            "seconds_to_fib": round(t_fib, 2),
            "rss_kib": {
                "gobgpd_rr": rss_kib(procs["gobgpd-rr"].pid),
                "router_bgp_daemon": rss_kib(procs[lab.bgp_daemon("router")].pid),
                # no zebra with --fib resilient: the router's lbroute-rr writes the FIB itself
                "zebra": rss_kib(procs["zebra"].pid) if "zebra" in procs else None,
                "router_manager": rss_kib(procs["rr-manager-router"].pid) if router_kind == "gobgp" else None,
                "exabgp_farm": sum(rss_kib(procs[f"exabgp-farm{k}"].pid) for k in range(processes)),
            },
            "profile": profile.summary(),
            "samples": profile.samples,
        }
        return result
    finally:
        lab.down()


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per NxM: each run's seconds to a converged FIB, their median and max, and the phases and
    router memory of the slowest run (the one that says why)."""
    out = []
    for key in sorted({(r["speakers"], r["vips"]) for r in results}):
        mine = [r for r in results if (r["speakers"], r["vips"]) == key]
        slowest = max(mine, key=lambda r: r["seconds_to_fib"])
        seconds = [r["seconds_to_fib"] for r in mine]
        out.append(
            {
                "run": f"{key[0]}x{key[1]}",
                "n": len(mine),
                "seconds_to_fib": seconds,
                "median": round(statistics.median(seconds), 2),
                "max": max(seconds),
                "slowest_phases_s": slowest["profile"]["phases_s"],
                "slowest_cpu_s": slowest["profile"]["cpu_s"],
                "router_bgp_daemon_rss_mib": round(slowest["rss_kib"]["router_bgp_daemon"] / 1024),
            }
        )
    return out


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["paths"])
    labels = [f"{r['speakers']}x{r['vips']}" for r in results]
    x = [r["paths"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(x, [r["seconds_to_fib"] for r in results], "o", label="router FIB converged (each run)")
    left.plot(x, [r["seconds_to_sessions"] for r in results], "s", label="all speaker sessions up")
    left.axhline(10, color="grey", linestyle=":", label="goal at 64 x 1000: 10 s")
    left.set_xlabel("paths at the RR (speakers x VIPs)")
    left.set_ylabel("seconds from speaker start")
    left.set_title("time to converge")
    right.plot(x, [r["rss_kib"]["gobgpd_rr"] / 1024 for r in results], "o-", label="gobgpd (RR)")
    router = "bgpd" if results[0]["router"] == "frr" else "gobgpd"
    right.plot(
        x, [r["rss_kib"]["router_bgp_daemon"] / 1024 for r in results], "s-", label=f"{router} (router)"
    )
    if results[0]["fib"] == "zebra":
        right.plot(x, [r["rss_kib"]["zebra"] / 1024 for r in results], "^-", label="zebra (router)")
    right.set_xlabel("paths at the RR (speakers x VIPs)")
    right.set_ylabel("resident memory, MiB")
    right.set_title("memory after convergence")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
        for xi, label in sorted(set(zip(x, labels, strict=True))):
            ax.annotate(label, (xi, 0), textcoords="offset points", xytext=(0, 4), fontsize=7, ha="center")
    how = "FRR bgpd + zebra" if results[0]["router"] == "frr" else f"gobgpd, FIB by {results[0]['fib']}"
    fig.suptitle(f"lbroute RR: N speakers x M VIPs; router: {how} (2 shared cores, a fresh lab per run)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_profile(result: dict[str, Any], path: Path) -> None:
    """One run's timeline: what each hop held, and each process's CPU, from the farm's start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t = [s["t"] for s in samples]
    n = result["speakers"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot(t, [s["rr_received"] for s in samples], label="paths at the RR")
    top.plot(t, [s["router_received"] for s in samples], label="paths at the router's BGP daemon")
    top.plot(t, [s["fib_full"] * n for s in samples], label=f"FIB: next-hops of routes with all {n}")
    top.set_ylabel("paths")
    top.legend()
    names = sorted(samples[-1]["cpu_s"], key=lambda k: -samples[-1]["cpu_s"][k])
    base = [0.0] * len(t)
    for name in names:
        spent = [s["cpu_s"].get(name, 0.0) - samples[0]["cpu_s"].get(name, 0.0) for s in samples]
        top_line = [b + v for b, v in zip(base, spent, strict=True)]
        bottom.fill_between(t, base, top_line, label=name, alpha=0.8)
        base = top_line
    bottom.plot(t, [2 * x for x in t], "k--", linewidth=0.8, label="2 cores, busy")
    bottom.set_xlabel("seconds from the farm's start")
    bottom.set_ylabel("CPU seconds, cumulative")
    bottom.legend(fontsize=7, ncol=2)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    phases = ", ".join(f"{k} {v} s" for k, v in result["profile"]["phases_s"].items())
    fig.suptitle(f"{n} x {result['vips']} ({result['router']} router): {phases}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def runs(text: str) -> list[tuple[int, int]]:
    """``16x250,64x1000`` -> [(16, 250), (64, 1000)]: speakers x VIPs, each at least 1."""
    try:
        pairs = [tuple(int(v) for v in spec.split("x")) for spec in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give SPEAKERSxVIPS runs such as 16x250,64x1000")
    if any(p[0] > MAX_LBS for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_LBS} speakers (one per lab node)")
    return [(p[0], p[1]) for p in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("scale", __doc__)
    parser.add_argument("--runs", type=runs, default="16x250,32x500,64x1000", help="comma-separated NxM")
    parser.add_argument(
        "--speakers", type=int, help="with --vips: one run of SPEAKERS x VIPS instead of --runs"
    )
    parser.add_argument("--vips", type=int, help="with --speakers")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each NxM (a fresh lab each)")
    parser.add_argument("--farm-processes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--router", choices=("gobgp", "frr"), default="gobgp", help="the lab's router kind")
    parser.add_argument(
        "--fib", choices=("zebra", "resilient"), default="zebra", help="who writes the router's FIB (gobgp)"
    )
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between profile samples")
    add_json(parser)
    args = parser.parse_args(argv)
    if (args.speakers is None) != (args.vips is None):
        parser.error("--speakers and --vips go together (or give --runs NxM,...)")
    if args.speakers is not None:
        try:
            args.runs = runs(f"{args.speakers}x{args.vips}")
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
    logs.configure("warning")  # the lab's progress lines would go to stdout, before the JSON
    load = os.getloadavg()
    progress = Progress(len(args.runs) * args.repeat, "scale")
    results = []
    for n, m in args.runs:
        for _ in range(args.repeat):
            results.append(
                run_one(n, m, args.farm_processes, args.timeout, args.interval, args.router, args.fib)
            )
            phases = ", ".join(f"{k} {v} s" for k, v in results[-1]["profile"]["phases_s"].items())
            progress.step(f"{n}x{m}: {phases}")
    summary = summarize(results)
    RESULTS.mkdir(exist_ok=True)
    stem = "rr_scale" if args.router == "gobgp" else f"rr_scale_{args.router}"
    stem += "_resilient" if args.fib == "resilient" else ""
    out = {
        "machine": machine(load),
        "router": args.router,
        "fib": args.fib,
        "summary": summary,
        "runs": results,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=1) + "\n")
    plot(results, RESULTS / f"{stem}.png")
    plot_profile(
        max(results, key=lambda r: (r["paths"], r["seconds_to_fib"])), RESULTS / f"{stem}_profile.png"
    )
    emit(summary, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
