"""Benchmark: health failure -> next-hop out of the router's kernel FIB; announcer RSS and idle CPU.

    python -m benchmarks.announcer [--prefix h3] [--trials 40] [--idle-seconds 30]

Brings up a 3-LB lab, breaks lb2's health check ``trials`` times (heals it in between) and
times each failure from the moment the check starts failing (the health file is written)
until the router's FIB has no route via node 2. Then leaves the lab alone for
``idle-seconds`` and reads each announcer's RSS and CPU time from /proc. Writes
``benchmarks/results/announcer.json``, ``announcer.csv`` and ``announcer.png``; the lab is
always taken down. Not a test: numbers on a shared 2-core machine, reported as measured.
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.report import add_json, emit, new_parser
from lbroute import logs
from lbroute.kernel.fib import read_fib
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.state import DEFAULT_STATE_ROOT
from lbroute.lab.topology import Node, Topology
from lbroute.polling import until

RESULTS = Path(__file__).parent / "results"
VIP = "10.1.1.1/32"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def hops(lab: Lab) -> frozenset[str]:
    routes = read_fib(lab.topology.router_ns, prefix=VIP)
    return routes[0].next_hops if routes else frozenset()


def time_one_failure(lab: Lab, node: Node) -> float:
    started = time.monotonic()
    lab.set_health(node.index, "fail")
    while node.ip in hops(lab):
        if time.monotonic() - started > 10:
            raise RuntimeError("the next-hop did not leave the FIB within 10 s")
        time.sleep(0.001)  # polling the FIB: ~1.6 ms per read on top
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(prefix: str, trials: int, idle_seconds: float) -> dict[str, Any]:
    lab = Lab(prefix, DEFAULT_STATE_ROOT)
    node = Node(2)
    samples: list[float] = []
    try:
        lab.up(Topology(prefix, 3), timeout=60)
        everyone = frozenset(Node(i).ip for i in (1, 2, 3))
        for _ in range(trials):
            # start at a random point of the 0.2 s check cycle, as a real failure would
            time.sleep(random.uniform(0, daemons.CHECK["interval"]))
            samples.append(time_one_failure(lab, node))
            lab.set_health(node.index, "ok")
            until(lambda: hops(lab) == everyone, 15, what="lb2 back in the FIB")
        pids = {f"lb{i}": lab.announcer_pid(i) for i in (1, 2, 3)}
        before = {lb: cpu_seconds(pid) for lb, pid in pids.items() if pid}
        started = time.monotonic()
        time.sleep(idle_seconds)  # the idle window being measured
        wall = time.monotonic() - started
        idle = {
            lb: {
                "pid": pid,
                "rss_kib": rss_kib(pid),
                "cpu_percent": round(100 * (cpu_seconds(pid) - before[lb]) / wall, 2),
            }
            for lb, pid in pids.items()
            if pid
        }
    finally:
        lab.down()
    ms = [s * 1000 for s in samples]
    return {
        "what": "health failure (check starts failing) -> next-hop gone from the router's kernel FIB",
        "check": daemons.CHECK,
        "budget_ms": 1000 * (daemons.CHECK["fall"] * daemons.CHECK["interval"] + 0.5),
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(percentile(ms, 0.9), 1),
        "min_ms": round(min(ms), 1),
        "max_ms": round(max(ms), 1),
        "samples_ms": [round(v, 2) for v in ms],
        "idle_seconds": idle_seconds,
        "announcers_idle": idle,
        "machine": {"cpus": os.cpu_count(), "load_1m_at_end": round(os.getloadavg()[0], 2)},
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ms = sorted(result["samples_ms"])
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(10, 4))
    hist.hist(ms, bins=20, color="#4c72b0")
    hist.set_xlabel("health failure -> next-hop out of FIB (ms)")
    hist.set_ylabel("trials")
    cdf.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], drawstyle="steps-post")
    cdf.axvline(result["budget_ms"], color="red", linestyle="--", label="fall x interval + 0.5 s")
    cdf.axvline(result["median_ms"], color="grey", linestyle=":", label=f"median {result['median_ms']} ms")
    cdf.set_xlabel("ms")
    cdf.set_ylabel("fraction of trials")
    cdf.legend(loc="lower right")
    check = result["check"]
    fig.suptitle(
        f"n={result['n']}, check every {check['interval']} s, fall {check['fall']}: "
        f"median {result['median_ms']} ms, p90 {result['p90_ms']} ms, max {result['max_ms']} ms"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("announcer", __doc__)
    parser.add_argument("--prefix", default="h3")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    result = run(args.prefix, args.trials, args.idle_seconds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "announcer.json").write_text(json.dumps(result, indent=2) + "\n")
    with open(RESULTS / "announcer.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["trial", "failure_to_fib_ms"])
        writer.writerows(enumerate(result["samples_ms"], 1))
    plot(result, RESULTS / "announcer.png")
    summary = {k: v for k, v in result.items() if k != "samples_ms"}
    emit(summary, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
