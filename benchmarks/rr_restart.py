"""Benchmark: the RR's gobgpd killed and restarted -> router FIB outage, with and without graceful restart.

    python -m benchmarks.rr_restart [--prefix brst] [--runs 10] [--lbs 3] [--reuse-lab]

For each mode (graceful restart between router and RR off, and on with a 30 s restart
time) the script restarts the RR's gobgpd ``runs`` times: ``kill -9`` (``Lab.kill``), then
a fresh gobgpd at once (``Lab.start``, which returns when the new API socket appears:
*answered*). Each run starts from a settled lab (router session up, no stale path, FIB
whole). A thread reads the router namespace's FIB route for the VIP as often as ``ip``
answers (~2 ms) and keeps every (time, next-hops) sample, from before the kill until the
FIB is whole again and the router is settled; the main thread polls the router's and the
RR's gobgpd meanwhile.

Per run: kill -> answered; FIB outage (the sample intervals that began with a next-hop
missing, summed, and the longest contiguous stretch); answered -> FIB whole again;
answered -> settled (the router's session with the RR back, no stale path); answered ->
every LB speaker established at the RR again; sample count and median sampling interval.

By default every run gets a lab of its own, so that each measures one restart and nothing
a previous one left behind; ``--reuse-lab`` restarts one lab per mode every ``--spacing``
seconds to see what does carry over (it found exabgp's ever-growing reconnect backoff and
the re-arm damping, both fixed since). Writes
``benchmarks/results/rr_restart.json`` (per run and summary), ``rr_restart.png`` and every
FIB sample in ``rr_restart_samples.jsonl.gz`` (``rr_restart_reused.*`` with
``--reuse-lab``; ``*_frr`` with ``--router frr``, FRR's bgpd as the router); every lab is
taken down, crash or not.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpError
from lbroute.kernel.fib import read_fib
from lbroute.lab.fib_sampler import FibSampler, Sample
from lbroute.lab.lab import Lab, LabError
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import DEFAULT_VIP, Node, Topology
from lbroute.polling import eventually, until

RESULTS = Path(__file__).parent / "results"
VIP = DEFAULT_VIP
MODES = (("gr_off", 0), ("gr_on", 30))
METRICS = (
    "kill_to_answered_s",
    "fib_outage_s",
    "fib_longest_gap_s",
    "answered_to_fib_whole_s",
    "answered_to_settled_s",
    "answered_to_speakers_s",
)


def fib_whole(lab: Lab, whole: frozenset[str]) -> None:
    routes = read_fib(lab.topology.router_ns, prefix=VIP)
    hops = routes[0].next_hops if routes else frozenset()
    assert whole <= hops, f"router FIB {VIP}: {sorted(hops)}, want {sorted(whole)}"


def outage(samples: list[Sample], whole: frozenset[str]) -> dict[str, Any]:
    """Total and longest time the FIB missed a next-hop: a sample missing one counts until the next
    sample. Also when the FIB was first short of a next-hop and when it was last whole again."""
    total = longest = stretch = 0.0
    first_lost: float | None = None
    back: float | None = None
    for (t, hops), (t_next, _) in itertools.pairwise(samples):
        if whole <= hops:
            stretch = 0.0
            continue
        if first_lost is None:
            first_lost = t
        total += t_next - t
        stretch += t_next - t
        longest = max(longest, stretch)
        back = t_next
    return {"total": total, "longest": longest, "first_lost": first_lost, "back": back}


def restart_once(lab: Lab, whole: frozenset[str], speakers: set[str], timeout: float) -> dict[str, Any]:
    """One RR gobgpd restart in a settled lab; returns the run's record."""
    rr_ip = lab.topology.rr_ip(1)
    router = lab.router  # gobgpd over its API socket, or FRR's bgpd through vtysh
    with FibSampler(lab.topology.router_ns, VIP) as sampler:
        until(lambda: len(sampler.samples) >= 10, 5, what="FIB sampler running")
        killed = time.monotonic()
        lab.kill("rr")
        dead = time.monotonic()
        answered = lab.start("rr")
        seen: dict[str, float] = {}
        with GobgpClient(str(lab.socket("rr")), timeout=2.0) as rr:

            def recovered() -> None:
                now = time.monotonic()
                sessions = {s.neighbor: s for s in router.sessions()}
                session = sessions.get(rr_ip)
                if session is None or not session.established:
                    seen.setdefault("router_session_down", now)
                elif "router_session_down" in seen and not any(p.stale for p in router.paths()):
                    seen.setdefault("settled", now)
                if "speakers" not in seen:
                    try:
                        up = {s.neighbor for s in rr.list_sessions("rr") if s.established}
                    except GobgpError:  # the new gobgpd answers before its BGP is started
                        up = set()
                    if speakers <= up:
                        seen["speakers"] = now
                hops = sampler.latest()
                assert "settled" in seen, (
                    f"router session with the RR: {session.state if session else 'none'}"
                )
                assert "speakers" in seen, "LB speakers not all back at the RR"
                assert hops is not None and whole <= hops, f"router FIB {VIP}: {sorted(hops or ())}"

            eventually(recovered, timeout, what="FIB whole and router settled", context=lab.logs_tail)
    samples = sampler.samples
    gap = outage(samples, whole)
    intervals = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    return {
        "kill_to_answered_s": answered - killed,
        "kill_to_dead_s": dead - killed,
        "fib_outage_s": gap["total"],
        "fib_longest_gap_s": gap["longest"],
        "kill_to_fib_lost_s": None if gap["first_lost"] is None else gap["first_lost"] - killed,
        "answered_to_fib_whole_s": 0.0 if gap["back"] is None else max(0.0, gap["back"] - answered),
        "answered_to_settled_s": seen["settled"] - answered,
        "answered_to_speakers_s": seen["speakers"] - answered,
        "router_session_seen_down_after_kill_s": seen["router_session_down"] - killed,
        "samples": len(samples),
        "median_sample_interval_ms": statistics.median(intervals) * 1000,
        "loadavg_1m": os.getloadavg()[0],
        # ms since the kill, and the next-hops as node numbers: the raw data, kept apart
        "fib_samples": [[round((t - killed) * 1000, 1), node_numbers(hops)] for t, hops in samples],
    }


def node_numbers(hops: frozenset[str]) -> list[int]:
    return sorted(int(h.rsplit(".", 1)[1]) - 10 for h in hops)  # node i is 10.0.0.(10+i)


def settle(lab: Lab, whole: frozenset[str], timeout: float) -> None:
    lab.wait_settled(timeout)
    eventually(lambda: fib_whole(lab, whole), timeout, what="FIB whole", context=lab.logs_tail)


def bring_up(prefix: str, lbs: int, graceful_restart: int, router: str = "gobgp") -> Lab:
    """A fresh lab; one that fails to come up is taken down again, one already there is left alone."""
    lab = Lab(prefix)
    if lab.is_up():
        raise LabError(f"lab {prefix!r} is already up; `lbroute lab down --prefix {prefix}` removes it")
    try:
        scenario = Scenario(graceful_restart=graceful_restart, router=router)
        lab.up(Topology(prefix, lbs, rrs=1), scenario, timeout=30)
    except BaseException:
        lab.down()
        raise
    return lab


def run_mode(args: argparse.Namespace, graceful_restart: int) -> list[dict[str, Any]]:
    whole = frozenset(Node(i).ip for i in range(1, args.lbs + 1))
    speakers = {Node(i).pod_ip for i in range(1, args.lbs + 1)}
    runs: list[dict[str, Any]] = []
    lab: Lab | None = None
    try:
        last_kill = 0.0
        for k in range(args.runs):
            if lab is None or not args.reuse_lab:
                if lab is not None:
                    lab.down()
                    lab = None
                lab = bring_up(args.prefix, args.lbs, graceful_restart, args.router)
            else:
                time.sleep(max(0.0, last_kill + args.spacing - time.monotonic()))  # pacing, not waiting
            settle(lab, whole, 30)
            last_kill = time.monotonic()
            run = restart_once(lab, whole, speakers, args.timeout)
            run["run"] = k + 1
            runs.append(rounded(run))
            note(json.dumps({"graceful_restart": graceful_restart} | brief(run)))
    finally:
        if lab is not None:
            lab.down()
    return runs


def brief(run: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in run.items() if k != "fib_samples"}


def rounded(run: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import random

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = result["modes"]
    labels = [
        "GR off" if m["graceful_restart"] == 0 else f"GR on ({m['graceful_restart']} s)"
        for m in modes.values()
    ]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    panels = (
        ("fib_outage_s", "s the VIP missed a next-hop", "router FIB outage"),
        (
            "answered_to_settled_s",
            "s from new gobgpd answering",
            "router settled (session up, no stale path)",
        ),
    )
    rng = random.Random(1)
    for ax, (metric, ylabel, title) in zip(axes, panels, strict=False):
        data = [[r[metric] for r in m["runs"]] for m in modes.values()]
        ax.boxplot(data, tick_labels=labels, showfliers=False)
        for i, (values, color) in enumerate(zip(data, ("tab:red", "tab:blue"), strict=False), 1):
            jitter = [i + rng.uniform(-0.12, 0.12) for _ in values]
            ax.scatter(jitter, values, s=14, alpha=0.7, zorder=3, color=color)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, axis="y")
    right = axes[2]
    for m, color in zip(modes.values(), ("tab:red", "tab:blue"), strict=False):
        x = [r["run"] for r in m["runs"]]
        label = "GR off" if m["graceful_restart"] == 0 else "GR on"
        for metric, style, what in (
            ("answered_to_settled_s", "o-", "settled"),
            ("answered_to_fib_whole_s", "s--", "FIB whole"),
            ("answered_to_speakers_s", "^:", "speakers at RR"),
        ):
            values = [r[metric] for r in m["runs"]]
            right.plot(x, values, style, color=color, markersize=4, label=f"{label}: {what}")
    right.set_xlabel("run")
    right.set_ylabel("s from new gobgpd answering")
    right.set_title(
        "per run (" + ("one lab, " if result["reuse_lab"] else "a fresh lab each, ") + "in order)"
    )
    right.set_ylim(bottom=0)
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.suptitle(f"RR gobgpd kill -9 + restart, {result['lbs']} LBs (2 shared cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("restart", __doc__)
    parser.add_argument("--prefix", default="brst")
    parser.add_argument("--runs", type=int, default=10, help="restarts per mode")
    parser.add_argument("--lbs", type=int, default=3)
    parser.add_argument("--reuse-lab", action="store_true", help="one lab per mode instead of one per run")
    parser.add_argument("--spacing", type=float, default=15, help="s between restarts with --reuse-lab")
    parser.add_argument("--timeout", type=float, default=60, help="s for one restart to recover")
    parser.add_argument(
        "--router", choices=("gobgp", "frr"), default="gobgp", help="the lab's router kind (frr: *_frr files)"
    )
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    load_before = os.getloadavg()
    modes: dict[str, Any] = {}
    for name, graceful_restart in MODES:
        mode_load = os.getloadavg()[0]
        runs = run_mode(args, graceful_restart)
        modes[name] = {
            "graceful_restart": graceful_restart,
            "loadavg_1m_before_after": [round(mode_load, 2), round(os.getloadavg()[0], 2)],
            "summary": {m: summary([r[m] for r in runs]) for m in METRICS}
            | {
                "runs_losing_a_next_hop": sum(1 for r in runs if r["fib_outage_s"] > 0),
                "median_sample_interval_ms": round(
                    statistics.median(r["median_sample_interval_ms"] for r in runs), 2
                ),
            },
            "runs": runs,
        }
    result = {
        "what": "RR gobgpd kill -9 and immediate restart -> router kernel FIB and sessions",
        "router": args.router,
        "vip": VIP,
        "lbs": args.lbs,
        "reuse_lab": args.reuse_lab,
        "spacing_s": args.spacing if args.reuse_lab else None,
        "machine": machine(load_before),
        "modes": modes,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = ("rr_restart_reused" if args.reuse_lab else "rr_restart") + (
        "" if args.router == "gobgp" else f"_{args.router}"
    )
    # every FIB sample, one run a line: [ms since the kill, next-hops as node numbers]
    lines = [
        json.dumps(
            {"mode": name, "run": r["run"], "fib_samples": r.pop("fib_samples")}, separators=(",", ":")
        )
        for name, m in modes.items()
        for r in m["runs"]
    ]
    with gzip.open(RESULTS / f"{stem}_samples.jsonl.gz", "wt") as out:  # ~1 MB as plain text
        out.write("\n".join(lines) + "\n")
    result["samples_file"] = f"{stem}_samples.jsonl.gz"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS / f"{stem}.png")
    emit({n: {"summary": m["summary"]} for n, m in modes.items()} | {"machine": result["machine"]}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
