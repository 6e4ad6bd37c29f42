"""Benchmark: held-open connections across next-hop changes, zebra's hash-threshold FIB against
the resilient FIB; and exabgp announce/withdraw -> router kernel FIB in both modes.

Method (docs/benchmarks-hold.md). For each FIB mode and each disruption, a fresh lab of 3 LBs;
from its client namespace (behind the router) the hold probe opens 300 connections to the VIP,
each a new source port, each sending a line every 100 ms and waiting for its echo. Once all
are held, the disruption runs: ``add`` (a 4th LB), ``kill`` (lb3's exabgp and data plane,
SIGKILL), ``drain`` (lb3 drained by the lab's scale down, as a preStop hook would), ``drain,
ending within`` (the same with a 4 s drain period and connections the client closes 2 s in),
``restart-rr`` (the RR's gobgpd, kill -9), ``restart-router`` (the router's gobgpd, kill -9),
``restart-manager`` (the router's lbroute-rr, kill -9). The connections are held until 3 s
after the disruption is over (the lab's command returned: the FIB has followed); with
``ending within`` the client closes them 2 s in. Each is lost (reset, closed by the LB, or an
echo over 2 s late) or survives. Counted per LB: lost on the LBs that stay, lost on the LB that
leaves. ``--runs`` labs per cell. Then the latency of ``benchmarks/convergence.py``, in both
modes, interleaved, on the same machine at the same time.

Results go to ``benchmarks/results/hold.json`` and ``hold.png``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.lab.hold import disruption, hold_during
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Topology
from lbroute.polling import until

from .convergence import measure_updates, summary

RESULTS = Path(__file__).parent / "results"
VIP = "10.1.1.1"
CONNECTIONS = 300
HOLD_SECONDS = 3.0  # held on this long once the disruption is over
MODES = ("zebra", "resilient")


def _restart_manager(lab: Lab) -> None:
    log = lab.dir / "logs" / "rr-manager-router.log"
    mark = log.stat().st_size
    lab.restart_manager("router")
    # the new manager has looked at gobgpd (and the kernel) once it has made a pass
    done = b"rr.fib.pass.done" if lab.scenario.fib == "resilient" else b"rr.reconcile.done"
    until(lambda: done in log.read_bytes()[mark:], 30, what="the restarted manager's first pass")


# name -> (the lab's disruption (lbroute.lab.hold's, or the manager's restart), lab scenario
# fields, close_after, hold seconds)
Disruption = tuple[str, dict[str, Any], float | None, float]
DISRUPTIONS: dict[str, Disruption] = {
    "add": ("add", {}, None, HOLD_SECONDS),
    "kill": ("kill", {}, None, HOLD_SECONDS),
    "drain": ("drain", {"drain_seconds": 4.0}, None, HOLD_SECONDS),
    "drain, ending within": ("drain", {"drain_seconds": 4.0}, 2.0, HOLD_SECONDS),
    "restart-rr": ("restart-rr", {}, None, HOLD_SECONDS),
    "restart-router": ("restart-router", {}, None, HOLD_SECONDS),
    "restart-manager": ("restart-manager", {}, None, HOLD_SECONDS),
}


def one(prefix: str, fib: str, name: str) -> dict[str, Any]:
    kind, scenario, close_after, seconds = DISRUPTIONS[name]
    lab = Lab(prefix)
    try:
        lab.up(Topology(prefix, 3), Scenario(fib=fib, **scenario))
        action: Callable[[], object]
        if kind == "restart-manager":
            action, leaving = (lambda: _restart_manager(lab)), None
        else:
            action, leaving = disruption(lab, kind, timeout=30)
        result = hold_during(lab, VIP, CONNECTIONS, seconds, action, close_after=close_after, leaving=leaving)
    finally:
        lab.down()
    return {k: result[k] for k in ("held", "by_lb", "lost", "lost_by_kind", "lost_on_surviving",
                                    "held_on_surviving", "lost_on_leaving", "leaving", "open_failures",
                                    "disruption_seconds", "held_seconds", "held_after_seconds")}  # fmt: skip


def latency(prefix: str, samples: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {m: {"announce": [], "withdraw": []} for m in MODES}
    for _ in range(rounds):
        for fib in MODES:
            lab = Lab(prefix)
            try:
                lab.up(Topology(prefix, 3), Scenario(fib=fib))
                announce, withdraw = measure_updates(lab, samples)
            finally:
                lab.down()
            out[fib]["announce"] += announce
            out[fib]["withdraw"] += withdraw
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["disruptions"])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [3, 2, 1.4]})
    width = 0.38
    for k, (key, title) in enumerate(
        (("lost_on_surviving", "on the LBs that stay"), ("lost_on_leaving", "on the LB that leaves"))
    ):
        ax = axes[k]
        shown = names if k == 0 else [n for n in names if DISRUPTIONS[n][1]]
        for j, fib in enumerate(MODES):
            runs = [result["disruptions"][n][fib]["runs"] for n in shown]
            means = [statistics.mean(r[key] for r in rs) for rs in runs]
            lows = [m - min(r[key] for r in rs) for m, rs in zip(means, runs, strict=True)]
            highs = [max(r[key] for r in rs) - m for m, rs in zip(means, runs, strict=True)]
            xs = [i + (j - 0.5) * width for i in range(len(shown))]
            bars = ax.bar(xs, means, width, yerr=[lows, highs], capsize=3, label=f"{fib}",
                          color="tab:red" if fib == "zebra" else "tab:blue")  # fmt: skip
            ax.bar_label(bars, labels=[f"{m:.0f}" for m in means], padding=2, fontsize=8)
        ax.set_xticks(range(len(shown)), shown, rotation=25, ha="right")
        ax.set_ylabel(f"connections lost (of {CONNECTIONS} held)")
        ax.set_title(f"Held connections lost {title} (mean, min-max of {result['runs']})")
        top = max(max(r[key] for r in result["disruptions"][n][f]["runs"]) for n in shown for f in MODES)
        ax.set_ylim(0, max(top, 1) * 1.3)  # room for the legend above the bars
        ax.legend(loc="upper right")
    lat = result["latency"]
    data = [[v * 1000 for v in lat[fib][kind]["raw"]] for kind in ("announce", "withdraw") for fib in MODES]
    labels = [f"{kind}\n{fib}" for kind in ("announce", "withdraw") for fib in MODES]
    axes[2].boxplot(data, tick_labels=labels, showfliers=True)
    axes[2].set_ylabel("ms, exabgp API command -> router kernel FIB")
    axes[2].set_title("Update latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("hold", __doc__)
    parser.add_argument("--runs", type=int, default=3, help="labs per disruption and mode")
    parser.add_argument("--samples", type=int, default=25, help="announce/withdraw pairs per latency lab")
    parser.add_argument("--latency-rounds", type=int, default=2)
    parser.add_argument("--prefix", default="bhold")
    parser.add_argument("--plot-only", action="store_true", help="plot the committed results again")
    add_json(parser)
    args = parser.parse_args(argv)
    if args.plot_only:
        plot(json.loads((RESULTS / "hold.json").read_text()), RESULTS / "hold.png")
        return 0
    logs.configure("warning")
    load_before = os.getloadavg()
    disruptions: dict[str, dict[str, Any]] = {}
    for name in DISRUPTIONS:
        disruptions[name] = {}
        for fib in MODES:
            runs = [one(args.prefix, fib, name) for _ in range(args.runs)]
            disruptions[name][fib] = {
                "runs": runs,
                "lost_on_surviving": [r["lost_on_surviving"] for r in runs],
                "held_on_surviving": [r["held_on_surviving"] for r in runs],
                "lost_on_leaving": [r["lost_on_leaving"] for r in runs],
                "held_on_leaving": [r["by_lb"].get(r["leaving"], {}).get("held", 0) for r in runs],
            }
            cell = disruptions[name][fib]
            note(name, fib, cell["lost_on_surviving"], cell["lost_on_leaving"])
    load_mid = os.getloadavg()
    raw = latency(args.prefix, args.samples, args.latency_rounds)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg_1m_before_middle_after": [
                round(load_before[0], 2),
                round(load_mid[0], 2),
                round(os.getloadavg()[0], 2),
            ],
        },
        "connections": CONNECTIONS,
        "hold_seconds": HOLD_SECONDS,
        "interval_seconds": 0.1,
        "runs": args.runs,
        "disruptions": disruptions,
        "latency": {
            fib: {
                kind: {**summary(raw[fib][kind]), "raw": raw[fib][kind]} for kind in ("announce", "withdraw")
            }
            for fib in MODES
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hold.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / "hold.png")
    emit({f: {k: {x: v for x, v in s.items() if x != "raw"} for k, s in lat.items()}
          for f, lat in result["latency"].items()}, args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
