"""Benchmark: requests served per LB per second while LBs come and go (the seed's Figure 4.14).

Method. A lab of 1 LB; a bounded client in the router's namespace (``lbroute.lab.traffic``'s
request loop: a new TCP connection per request, so a new ECMP hash each, at most ``--rate``
a second and never more than the loop's bound) logs every request as it ends, answered by
which LB or failed. Meanwhile the LB count follows ``--counts`` (default 1,2,3,4,3,2,1), each
held ``--step`` s after the router's FIB has followed; a scale-down drains the leaving LB (the
lab's 1 s drain period) as a preStop hook would. The plot shows the LB count on the router
over time, the requests each LB answered per second, and every failed request.

On 2 shared cores the client, the LBs and the daemons compete for CPU, so absolute requests/s
say little: the summary gives each stable phase's shares per LB (beside 1/N) and the failures.
Results: ``benchmarks/results/traffic.json`` and ``traffic.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.lab import traffic
from lbroute.lab.lab import Lab
from lbroute.lab.topology import DEFAULT_VIP, Topology

RESULTS = Path(__file__).parent / "results"
VIP = DEFAULT_VIP.split("/")[0]
PLOT_NOTE = "2 shared cores: client, LBs and daemons compete, so read shares and failures, not req/s"


def parse_log(text: str) -> list[tuple[float, str]]:
    """The request loop's log: (monotonic s, LB name, or ``!Error`` for a failed request)."""
    out = []
    for line in text.splitlines():
        stamp, _, answer = line.partition(" ")
        if answer:
            out.append((float(stamp), answer))
    return out


def per_second(requests: list[tuple[float, str]], t0: float) -> dict[str, list[int]]:
    """Requests each LB answered in each whole second since ``t0``, and ``failed`` ones."""
    if not requests:
        return {}
    seconds = int(max(t for t, _ in requests) - t0) + 1
    series: dict[str, list[int]] = {}
    for t, answer in requests:
        key = "failed" if answer.startswith("!") else answer
        series.setdefault(key, [0] * seconds)[int(t - t0)] += 1
    return dict(sorted(series.items()))


def phase_summary(requests: list[tuple[float, str]], start: float, end: float, lbs: int) -> dict[str, Any]:
    """Answers per LB between ``start`` and ``end`` (a stable phase), as shares beside 1/``lbs``."""
    inside = [a for t, a in requests if start <= t < end]
    answered = Counter(a for a in inside if not a.startswith("!"))
    total = sum(answered.values())
    shares = {lb: round(n / total, 3) for lb, n in sorted(answered.items())} if total else {}
    return {
        "lbs": lbs,
        "seconds": round(end - start, 2),
        "requests": len(inside),
        "failed": len(inside) - total,
        "shares": shares,
        "even_share": round(1 / lbs, 3),
        "max_over_min": round(max(answered.values()) / min(answered.values()), 2)
        if len(answered) == lbs
        else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    lab = Lab(args.prefix)
    work = tempfile.TemporaryDirectory(prefix="lbroute-traffic-")
    log = Path(work.name) / "requests.log"
    # the loop's bound: the rate for the schedule's time and its changes' (a few s each), with room
    planned = len(args.counts) * (args.step + 6) + 10
    count = min(traffic.MAX_REQUESTS, int(args.rate * planned))
    changes: list[dict[str, Any]] = []
    try:
        lab.up(Topology(args.prefix, args.counts[0]), timeout=60)
        loop = traffic.logged(lab.topology.router_ns, VIP, count, 1 / args.rate, log)
        try:
            t0 = time.monotonic()
            changes.append({"lbs": args.counts[0], "command_s": 0.0, "fib_s": 0.0})
            for lbs in args.counts[1:]:
                time.sleep(args.step)  # the phase's length: pacing, not a wait for a condition
                command = time.monotonic()
                lab.scale(lbs)
                changes.append(
                    {
                        "lbs": lbs,
                        "command_s": round(command - t0, 3),
                        "fib_s": round(time.monotonic() - t0, 3),
                    }
                )
                note(f"{lbs} LBs at {changes[-1]['fib_s']:.1f} s")
            time.sleep(args.step)
            end = time.monotonic()
        finally:
            if loop.poll() is None:
                loop.send_signal(signal.SIGTERM)  # the loop we started, by its own handle
            try:
                loop.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                loop.kill()
                loop.communicate()
    finally:
        lab.down()
    requests = parse_log(log.read_text())
    work.cleanup()
    ends = [c["command_s"] for c in changes[1:]] + [end - t0]
    phases = [
        phase_summary(requests, t0 + c["fib_s"], t0 + stop, c["lbs"])
        for c, stop in zip(changes, ends, strict=True)
    ]
    in_changes = [
        {"to_lbs": c["lbs"], "failed": sum(1 for t, a in requests
                                             if a.startswith("!") and c["command_s"] <= t - t0 < c["fib_s"])}
        for c in changes[1:]
    ]  # fmt: skip
    return {
        "what": "requests from the router's namespace to the VIP while the LB count changes",
        "vip": VIP,
        "rate_limit_per_s": args.rate,
        "request_bound": count,
        "step_s": args.step,
        "counts": args.counts,
        "machine": machine(load_before),
        "note": PLOT_NOTE,
        "requests": len(requests),
        "failed": sum(1 for _, a in requests if a.startswith("!")),
        "phases": phases,
        "failed_during_changes": in_changes,
        "changes": changes,
        "per_second": per_second(requests, t0),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["per_second"]
    seconds = max((len(v) for v in series.values()), default=0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(1, 2))
    changes = result["changes"]
    xs = [c["fib_s"] for c in changes] + [seconds]
    ys = [c["lbs"] for c in changes] + [changes[-1]["lbs"]]
    top.step(xs, ys, where="post", color="black")
    for c in changes[1:]:
        top.axvspan(c["command_s"], c["fib_s"], color="tab:orange", alpha=0.3, lw=0)
    top.set_ylabel("LBs in the router's FIB")
    top.set_ylim(0, max(ys) + 1)
    top.set_title("Requests per LB per second as LBs come and go (the seed's Fig. 4.14)")
    for name, counts in series.items():
        if name != "failed":
            bottom.plot(range(len(counts)), counts, label=name, lw=1.2)
    failed = series.get("failed", [])
    marks = [(s, n) for s, n in enumerate(failed) if n]
    if marks:
        bottom.scatter(
            [s for s, _ in marks], [n for _, n in marks], color="red", marker="x", label="failed", zorder=3
        )
    bottom.set_xlabel("s since the client started")
    bottom.set_ylabel("requests answered per s")
    bottom.legend(fontsize=8, ncol=5, loc="upper right")
    bottom.text(0.01, 0.97, f"{PLOT_NOTE}\nfailed: {result['failed']} of {result['requests']}; "
                f"load (1 min) {result['machine']['loadavg_1m_before_after']} before/after",
                transform=bottom.transAxes, fontsize=8, va="top")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: LB counts such as 1,2,3,2,1") from None
    if len(values) < 2 or not all(1 <= v <= 16 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: at least two LB counts, each 1 to 16")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("traffic", __doc__)
    parser.add_argument("--prefix", default="btrf")
    parser.add_argument("--counts", type=counts, default=[1, 2, 3, 4, 3, 2, 1], help="LB counts in turn")
    parser.add_argument("--step", type=float, default=10.0, help="s each count is held (1 to 120)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per s at most (1 to 200)")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the last results")
    add_json(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.step <= 120 or not 1 <= args.rate <= 200:
        parser.error("--step must be 1 to 120 s and --rate 1 to 200 requests/s")
    if args.plot_only:
        plot(json.loads((RESULTS / "traffic.json").read_text()), RESULTS / "traffic.png")
        return 0
    logs.configure("warning")
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "traffic.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, RESULTS / "traffic.png")
    emit({k: v for k, v in result.items() if k not in ("per_second", "changes")}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
