"""Benchmark: held-open connections reset by each change, with nft-nat and with nft-dsr.

    python -m benchmarks.dataplane_held [--prefix dph] [--runs 3] [--connections 100]

For each driver and each router FIB (zebra's ordinary hash-threshold ECMP, and the resilient
next-hop groups of ``--fib resilient``), one lab (3 LBs, 3 backends) and,
``runs`` times, each change in turn while the lab's hold probe holds ``connections``
connections open from the client namespace behind the router, through the data plane to the
backends: an LB killed, an LB added, an LB drained, an LB added back, a backend added, a
backend removed, the RR's gobgpd restarted. Counts the connections lost (reset, ended by the
other side, moved or unanswered) per change. Writes ``benchmarks/results/dataplane_held.json``
and ``dataplane_held.png``; every lab is taken down. Not a test: numbers on a shared 2-core
machine, reported as measured.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.lab.dataplane import Backends
from lbroute.lab.hold import disruption, hold_during
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.state import DEFAULT_STATE_ROOT
from lbroute.lab.topology import Topology

RESULTS = Path(__file__).parent / "results"
VIP = "10.1.1.1"
DRIVERS = ("nft-nat", "nft-dsr")
FIBS = ("zebra", "resilient")
CHANGES = ("LB kill", "LB add", "LB drain", "backend add", "backend remove", "RR restart")
INTERVAL, TIMEOUT = 0.3, 3.0  # a line each way every 0.3 s; an echo 3 s late loses its connection
HOLD_AFTER = 1.2  # held on this long (four rounds) once the change is over


def steps(lab: Lab) -> list[tuple[str | None, Callable[[], object]]]:
    """(what is measured, the change) in order; None: a change that only restores the lab. The
    LBs' and the RR's are lbroute.lab.hold's disruptions (each picks its LB count when it runs)."""

    def the_labs(kind: str) -> Callable[[], object]:
        return lambda: disruption(lab, kind)[0]()

    return [
        ("LB kill", the_labs("kill")),
        ("LB add", the_labs("add")),
        ("LB drain", the_labs("drain")),
        (None, the_labs("add")),
        ("backend add", lambda: lab.set_backends(Backends((1, 2, 3, 4)))),
        ("backend remove", lambda: lab.set_backends(Backends((1, 2, 3)))),
        ("RR restart", the_labs("restart-rr")),
    ]


def run_driver(driver: str, fib: str, prefix: str, runs: int, connections: int) -> dict[str, list[int]]:
    """Per change, the connections lost in each run (of those that opened: a connection that
    could not open before the change is left out, and counted in ``not_opened``)."""
    lab = Lab(prefix, DEFAULT_STATE_ROOT)
    lost: dict[str, list[int]] = {c: [] for c in CHANGES}
    lost["not_opened"] = []
    lost["backend remove: lost on the backends that stay"] = []
    try:
        lab.up(Topology(prefix, 3), Scenario(dataplane=driver, backends=3, fib=fib), timeout=60)
        for run in range(runs):
            for what, change in steps(lab):
                if what is None:
                    change()
                    continue
                result = hold_during(
                    lab, VIP, connections, HOLD_AFTER, change, interval=INTERVAL, timeout=TIMEOUT
                )
                lost[what].append(result["lost"])
                lost["not_opened"].append(sum(result["open_failures"].values()))
                if what == "backend remove":
                    elsewhere = sum(v["lost"] for k, v in result["by_backend"].items() if k != "web4")
                    lost["backend remove: lost on the backends that stay"].append(elsewhere)
                per_backend = {k: v["lost"] for k, v in result["by_backend"].items() if v["lost"]}
                lost_now = f"{result['lost']} of {connections} lost {result['lost_by_kind']} {per_backend}"
                note(f"{driver} {fib} run {run + 1} {what}: {lost_now}")
    finally:
        lab.down()
    return lost


def plot(results: dict[str, dict[str, list[int]]], connections: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.4))
    series = list(results)
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(CHANGES))]
        values = [results[name][c] for c in CHANGES]
        means = [statistics.mean(v) for v in values]
        low = [m - min(v) for m, v in zip(means, values, strict=True)]
        high = [max(v) - m for m, v in zip(means, values, strict=True)]
        ax.bar(xs, means, width, yerr=[low, high], capsize=3, label=name)
        for x, m in zip(xs, means, strict=True):
            ax.text(x, m + 1, f"{m:.0f}", ha="center", fontsize=7)
    ax.set_xticks(range(len(CHANGES)), CHANGES)
    ax.set_ylabel(f"connections lost (of {connections} held)")
    ax.set_title("Held-open connections lost per change (bars: mean; whiskers: min-max)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("dataplane", __doc__)
    parser.add_argument("--prefix", default="dph")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=100)
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    started = time.monotonic()
    load_before = os.getloadavg()
    results = {
        f"{d}, {f}": run_driver(d, f, args.prefix, args.runs, args.connections) for f in FIBS for d in DRIVERS
    }
    out: dict[str, Any] = {
        "connections": args.connections,
        "runs": args.runs,
        "lbs": 3,
        "backends": 3,
        "fibs": {"zebra": "hash-threshold (zebra's ordinary multipath)", "resilient": "--fib resilient"},
        "lost": results,
        "seconds": round(time.monotonic() - started, 1),
        "load_average_1m": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dataplane_held.json").write_text(json.dumps(out, indent=1) + "\n")
    plot(results, args.connections, RESULTS / "dataplane_held.png")
    emit(out["lost"], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
