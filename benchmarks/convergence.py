"""Benchmark: lab bring-up to converged ECMP, and exabgp announce/withdraw -> router kernel FIB.

Method. The lab runs as in ``make demo`` (3 LBs). A separate exabgp speaker in lb1's pod
(second pod address 172.16.1.3, next-hop node1) takes commands from a FIFO through
``benchmarks/exabgp_pipe.py``. For each sample the script writes one ``announce route``
line, records the time, and polls the router namespace's FIB (``ip -j route``, ~2 ms a
poll) until the VIP appears; then the same for ``withdraw``. Bring-up is timed by
``Lab.up`` itself: from the first namespace created to the FIB holding every next-hop.

Results go to ``benchmarks/results/convergence.json`` and ``convergence.png``
(``convergence_frr.*`` with ``--router frr``: FRR's bgpd as the router). One run,
medians and distributions; the machine (2 cores) is noisy.

``--events N`` measures the seed's Figure 4.15 instead: N random LB-count changes (1 to
``--max-lbs``, each different from the last, one right after the other), each timed by
``Lab.scale`` from the command until the router's kernel FIB holds exactly the next-hops of
the new count; a scale-down includes the leaving LBs' drain (the lab's 1 s drain period).
Results: ``convergence_events.json`` and ``.png``, p50/p90/p99/max per direction.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.report import Progress, add_json, emit, new_parser
from lbroute import logs
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import ASN, Topology
from lbroute.polling import until

RESULTS = Path(__file__).parent / "results"
BENCH_ADDR = "172.16.1.3"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def bench_speaker(lab: Lab) -> tuple[Path, Path]:
    """Start the FIFO-driven exabgp in lb1's pod; returns (fifo, answers file)."""
    topo = lab.topology
    ns = topo.lb_ns(1)
    ip("addr", "add", f"{BENCH_ADDR}/24", "dev", "eth0", netns=ns)
    work = lab.dir / "bench"
    work.mkdir(parents=True, exist_ok=True)
    fifo, answers = work / "commands.fifo", work / "answers.log"
    os.mkfifo(fifo)
    conf = work / "exabgp.conf"
    conf.write_text(
        f"""process bench {{
    run {daemons.VENV_BIN / "python"} -m benchmarks.exabgp_pipe {fifo} {answers};
    encoder json;
}}
neighbor {topo.rr_ip(1)} {{
    router-id {BENCH_ADDR};
    local-address {BENCH_ADDR};
    local-as {ASN};
    peer-as {ASN};
    hold-time 3;
    family {{ ipv4 unicast; }}
    api {{ processes [ bench ]; }}
}}
"""
    )
    lab.supervisor.spawn(  # recorded like every lab process, so lab down ends it
        "exabgp-bench",
        daemons.exabgp_argv(conf),
        ns,
        env={**daemons.exabgp_env(), "PYTHONPATH": str(Path(__file__).parents[1])},
        cwd=work,
    )
    return fifo, answers


def fib_has(lab: Lab, prefix: str) -> bool:
    return bool(read_fib(lab.topology.router_ns, prefix=prefix))


def measure_updates(lab: Lab, samples: int) -> tuple[list[float], list[float]]:
    fifo, _ = bench_speaker(lab)
    announce: list[float] = []
    withdraw: list[float] = []
    with open(fifo, "w") as commands:
        # warm-up: the session comes up, the first route may wait for it
        commands.write("announce route 10.1.200.1/32 next-hop 10.0.0.11\n")
        commands.flush()
        until(lambda: fib_has(lab, "10.1.200.1/32"), 30, what="bench session", context=lab.logs_tail)
        for i in range(samples):
            prefix = f"10.1.{201 + i // 250}.{1 + i % 250}/32"
            for verb, bucket, want in (("announce", announce, True), ("withdraw", withdraw, False)):
                start = time.perf_counter()
                commands.write(f"{verb} route {prefix} next-hop 10.0.0.11\n")
                commands.flush()
                until(
                    lambda p=prefix, w=want: fib_has(lab, p) is w,  # type: ignore[misc]
                    10,
                    interval=0,
                    what=f"{verb} {prefix}",
                )
                bucket.append(time.perf_counter() - start)
    return announce, withdraw


def percentiles(values: list[float]) -> dict[str, float]:
    """n, p50/p90/p99/max in seconds (nearest rank), of a non-empty list."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 3)

    return {"n": len(ordered), "p50_s": rank(0.5), "p90_s": rank(0.9), "p99_s": rank(0.99),
            "max_s": round(ordered[-1], 3)}  # fmt: skip


def lb_changes(events: int, max_lbs: int, start: int, seed: int) -> list[int]:
    """``events`` LB counts in 1..max_lbs, each different from the one before (``start`` first)."""
    rng = random.Random(seed)
    counts, current = [], start
    for _ in range(events):
        current = rng.choice([n for n in range(1, max_lbs + 1) if n != current])
        counts.append(current)
    return counts


def measure_events(args: argparse.Namespace, scenario: Scenario) -> dict[str, object]:
    load_before = os.getloadavg()
    events: list[dict[str, float | int]] = []
    lab = Lab(args.prefix)
    try:
        lab.up(Topology(args.prefix, 3), scenario)
        before = 3
        progress = Progress(args.events, "convergence")
        for i, after in enumerate(lb_changes(args.events, args.max_lbs, before, args.seed), 1):
            seconds = lab.scale(after)
            events.append({"from": before, "to": after, "seconds": round(seconds, 4)})
            progress.step(f"event {i}/{args.events}: {before} -> {after} LBs, FIB after {seconds:.3f} s")
            before = after
    finally:
        lab.down()
    up = [float(e["seconds"]) for e in events if e["to"] > e["from"]]
    down = [float(e["seconds"]) for e in events if e["to"] < e["from"]]
    return {
        "what": "random LB-count change (lab scale) -> router kernel FIB holds the new next-hops",
        "router": args.router,
        "max_lbs": args.max_lbs,
        "seed": args.seed,
        "machine": machine(load_before),
        "scale_up": percentiles(up) if up else {"n": 0},
        "scale_down_drain_included": percentiles(down) if down else {"n": 0},
        "seed_thesis": "Figure 4.15: most updates within 6 s, none above 10 s (20 h, a change every 60 s)",
        "events": events,
    }


def plot_events(result: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = result["events"]
    assert isinstance(events, list)
    up = [e["seconds"] for e in events if e["to"] > e["from"]]
    down = [e["seconds"] for e in events if e["to"] < e["from"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max([*up, *down, 1.0])
    bins = [top * i / 30 for i in range(31)]
    ax.hist(
        [up, down],
        bins=bins,
        label=[f"scale-up (n={len(up)})", f"scale-down, drain included (n={len(down)})"],
    )
    ax.axvline(6, color="grey", linestyle="--", label="seed: most within 6 s")
    ax.axvline(10, color="black", linestyle=":", label="seed: at most 10 s")
    ax.set_xlim(0, max(top * 1.05, 10.5))
    ax.set_xlabel("s, LB-count change -> router kernel FIB")
    ax.set_ylabel("changes")
    ax.set_title("ECMP update delay, random LB-count changes (seed's Fig. 4.15)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot(result: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    raw = result["raw"]
    assert isinstance(raw, dict)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ms = {k: [v * 1000 for v in raw[k]] for k in ("announce", "withdraw")}
    axes[0].boxplot(list(ms.values()), tick_labels=list(ms.keys()), showfliers=True)
    axes[0].set_ylabel("ms, exabgp API command -> router kernel FIB")
    axes[0].set_title(f"Update latency (n={len(ms['announce'])} each)")
    axes[1].bar(range(1, len(raw["bring_up"]) + 1), raw["bring_up"], color="tab:green")
    axes[1].set_xlabel("run")
    axes[1].set_ylabel("s, first namespace -> converged ECMP FIB")
    axes[1].set_title("Lab bring-up, 3 LBs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("convergence", __doc__)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--bring-ups", type=int, default=5)
    parser.add_argument("--prefix", default="bconv")
    parser.add_argument("--router", choices=("gobgp", "frr"), default="gobgp", help="the lab's router kind")
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory for the results")
    parser.add_argument(
        "--events", type=int, default=0, help="N random LB-count changes instead (the seed's Figure 4.15)"
    )
    parser.add_argument("--max-lbs", type=int, default=4, help="LB counts 1 to this with --events")
    parser.add_argument("--seed", type=int, default=15, help="of the random LB counts")
    add_json(parser)
    args = parser.parse_args(argv)
    scenario = Scenario(router=args.router)
    logs.configure("warning")
    if args.events:
        if not 1 <= args.events <= 10_000 or not 2 <= args.max_lbs <= 16:
            parser.error("--events must be 1 to 10000 and --max-lbs 2 to 16")
        events = measure_events(args, scenario)
        args.results.mkdir(exist_ok=True)
        stem = "convergence_events" if args.router == "gobgp" else f"convergence_events_{args.router}"
        (args.results / f"{stem}.json").write_text(json.dumps(events, indent=2) + "\n")
        plot_events(events, args.results / f"{stem}.png")
        emit({k: v for k, v in events.items() if k != "events"}, args.json)
        return 0
    load_before = os.getloadavg()
    bring_up: list[float] = []
    for _ in range(args.bring_ups):
        lab = Lab(args.prefix)
        try:
            bring_up.append(lab.up(Topology(args.prefix, 3), scenario))
        finally:
            lab.down()
    lab = Lab(args.prefix)
    try:
        lab.up(Topology(args.prefix, 3), scenario)
        announce, withdraw = measure_updates(lab, args.samples)
    finally:
        lab.down()
    result = {
        "router": args.router,
        "machine": machine(load_before),
        "bring_up_s": {
            "n": len(bring_up),
            "median": round(statistics.median(bring_up), 3),
            "min": round(min(bring_up), 3),
            "max": round(max(bring_up), 3),
        },
        "announce": summary(announce),
        "withdraw": summary(withdraw),
        "raw": {"bring_up": bring_up, "announce": announce, "withdraw": withdraw},
    }
    args.results.mkdir(exist_ok=True)
    stem = "convergence" if args.router == "gobgp" else f"convergence_{args.router}"
    (args.results / f"{stem}.json").write_text(json.dumps(result, indent=2))
    plot(result, args.results / f"{stem}.png")
    emit({k: v for k, v in result.items() if k != "raw"}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
