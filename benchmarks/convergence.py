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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from benchmarks.machine import machine
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--bring-ups", type=int, default=5)
    parser.add_argument("--prefix", default="bconv")
    parser.add_argument("--router", choices=("gobgp", "frr"), default="gobgp", help="the lab's router kind")
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory for the results")
    args = parser.parse_args()
    scenario = Scenario(router=args.router)
    logs.configure("warning")
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
    print(json.dumps({k: v for k, v in result.items() if k != "raw"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
