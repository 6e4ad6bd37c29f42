"""Benchmark: how evenly the router's ECMP spreads flows over the LBs, and how many flows on the
LBs that stay are moved when one LB leaves or joins: zebra's hash-threshold FIB against the
resilient FIB (docs/decisions/resilient-fib.md).

    lbroute bench flows [--runs 3] [--connections 300] [--json]

Each run is a fresh lab of 3 LBs. From its client namespace (behind the router, so the
router hashes each flow as it forwards it) the lab's hold probe opens ``--connections``
connections to the VIP, each a new source port, each answered by the LB it reached
(``lbroute.lab.hold``). **Evenness**: connections per LB against 1/N, as Pearson's
chi-square statistic (N-1 degrees of freedom; above the 5 % critical value the split is
less even than chance makes it) and the max/min ratio. **Flows moved**: then an LB joins
(``add``: a 4th) or leaves (``kill``: lb3 ended as a pod that dies); a held connection whose
packets the router sends to another LB is lost (reset: the new LB has no such connection),
so the connections lost on the LBs that stay are the flows the change moved among them.
The ideal is 0 for both: only the leaving LB's own flows have to move, and a joining LB
can take new flows without taking held ones. Hash-threshold (the kernel's ECMP, N equal
slices of the hash space) cannot: 3 -> 2 moves 1/4 of the staying LBs' flows when the leaving
LB's slice is the first or the last, none when it is the middle one; 3 -> 4 moves 1/2
(``HASH_THRESHOLD_MOVES``, plotted beside the runs).

Results: ``benchmarks/results/flows.json`` and ``flows.png``; every lab taken down, crash or not.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import Progress, add_json, new_parser, publish
from lbroute import logs
from lbroute.lab.hold import disruption, hold_during
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Topology

VIP = "10.1.1.1"
LBS = 3
HOLD_SECONDS = 3.0  # held on this long once the change is over
MODES = ("zebra", "resilient")
CHANGES = ("kill", "add")
# what hash-threshold moves of the staying LBs' flows: 3 -> 2 with the last slice leaving keeps
# all of the first third and half of the second (1/4 of their 2/3 moves); 3 -> 4 keeps 3/4, 1/2
# and 1/4 of the thirds (1/2 moves)
HASH_THRESHOLD_MOVES = {"kill": 0.25, "add": 0.5}
# Pearson's chi-square at 5 %, by degrees of freedom (N LBs - 1)
CRITICAL_5PCT = {1: 3.841, 2: 5.991, 3: 7.815, 4: 9.488}


def evenness(counts: list[int]) -> dict[str, Any]:
    """``counts`` per LB against an even split: the chi-square statistic, its 5 % critical
    value, and max/min."""
    expected = sum(counts) / len(counts)
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    df = len(counts) - 1
    return {
        "per_lb": counts,
        "chi2": round(chi2, 2),
        "df": df,
        "critical_5pct": CRITICAL_5PCT.get(df),
        "max_over_min": round(max(counts) / min(counts), 3) if min(counts) else None,
    }


def one(prefix: str, fib: str, change: str, connections: int) -> dict[str, Any]:
    lab = Lab(prefix)
    try:
        lab.up(Topology(prefix, LBS), Scenario(fib=fib))
        action, leaving = disruption(lab, change, timeout=30)
        report = hold_during(lab, VIP, connections, HOLD_SECONDS, action, leaving=leaving)
    finally:
        lab.down()
    before = {name: t["held"] for name, t in report["by_lb"].items()}
    surviving = report["held_on_surviving"]
    return {
        "fib": fib,
        "change": change,
        "held": report["held"],
        "evenness": evenness([before[name] for name in sorted(before)]),
        "moved_on_surviving": report["lost_on_surviving"],
        "held_on_surviving": surviving,
        "moved_share": round(report["lost_on_surviving"] / surviving, 3) if surviving else None,
        "lost_on_leaving": report["lost_on_leaving"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fib in MODES:
        for change in CHANGES:
            mine = [r for r in rows if r["fib"] == fib and r["change"] == change]
            if not mine:
                continue
            out[f"{fib} {change}"] = {
                "n": len(mine),
                "moved_share_median": statistics.median(r["moved_share"] for r in mine),
                "moved_share_max": max(r["moved_share"] for r in mine),
                "chi2_median": statistics.median(r["evenness"]["chi2"] for r in mine),
                "max_over_min_median": statistics.median(r["evenness"]["max_over_min"] or 0 for r in mine),
            }
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, fib in enumerate(MODES):
        for j, change in enumerate(CHANGES):
            shares = [r["moved_share"] for r in rows if r["fib"] == fib and r["change"] == change]
            x = j * 3 + k
            left.bar(x, statistics.median(shares) if shares else 0, color=f"C{k}", alpha=0.6,
                     label=fib if j == 0 else None)  # fmt: skip
            left.plot([x] * len(shares), shares, "ko", markersize=4)
    left.set_xticks(
        [0.5, 3.5], [f"an LB leaves (kill), {LBS} -> {LBS - 1}", f"an LB joins (add), {LBS} -> {LBS + 1}"]
    )
    left.set_ylabel("share of the staying LBs' flows moved")
    for j, change in enumerate(CHANGES):
        theory = HASH_THRESHOLD_MOVES[change]
        left.plot(
            [j * 3 - 0.4, j * 3 + 0.4],
            [theory, theory],
            "k:",
            label="hash-threshold, in theory" if j == 0 else None,
        )
    left.set_title("flows moved on the LBs that stay (each run a dot)")
    left.legend(fontsize=8)
    shares_by_lb = [r["evenness"]["per_lb"] for r in rows]
    for counts in shares_by_lb:
        total = sum(counts)
        right.plot(range(1, len(counts) + 1), [c / total for c in counts], "o-", alpha=0.4)
    right.axhline(1 / LBS, color="grey", linestyle=":", label=f"1/{LBS}")
    right.set_xticks(range(1, LBS + 1), [f"lb{i}" for i in range(1, LBS + 1)])
    right.set_ylabel("share of new connections")
    right.set_title(f"ECMP evenness, {LBS} LBs (each run a line)")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"flows: {result['connections']} connections per run, 2 shared cores", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("flows", __doc__)
    parser.add_argument("--runs", type=int, default=3, help="labs per FIB mode and change")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--prefix", default="bflw")
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    load = os.getloadavg()
    rows = []
    progress = Progress(args.runs * len(MODES) * len(CHANGES), "flows")
    for k in range(args.runs):
        for fib in MODES:  # interleaved: both modes under the same load
            for change in CHANGES:
                row = one(args.prefix, fib, change, args.connections) | {"run": k + 1}
                rows.append(row)
                progress.step(json.dumps(row))
    result = {
        "what": "ECMP evenness over the LBs, and flows moved on the staying LBs when one leaves or joins",
        "lbs": LBS,
        "connections": args.connections,
        "machine": machine(load),
        "summary": summarize(rows),
        "runs": rows,
    }
    publish("flows", result, plot, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
