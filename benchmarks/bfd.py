"""Benchmark: a silently failed LB node -> its next-hop gone from the router's FIB, hold timer only vs BFD.

    python -m benchmarks.bfd [--prefix bbfd] [--runs 30] [--lbs 3] [--how stop|drop]
    python -m benchmarks.bfd --soak 600 [--prefix bbfd]

For each mode (no BFD: the speakers' 3 s BGP hold timer alone; BFD 300 ms x 3, the default,
between the RR's gobgpd and each pod's FRR bfdd) one lab with ``--lbs`` LB pods and one RR.
Each run picks the next LB in turn, waits until the router's FIB holds every node and (BFD)
that pod's BFD session at the RR is up, then hangs it: ``Lab.hang(stop=True)`` stops the
pod's exabgp, bfdd and responder with SIGSTOP (the node's kernel still answers, the TCP
session stays open: nothing tells the RR), or (``--how drop``) every frame on the node's
link is dropped. The main thread reads the router namespace's FIB route for the VIP every
couple of ms until the LB's next-hop is gone: *hang -> gone*. Then ``Lab.unhang`` and the
next run (on another LB, while this one reconnects).

``--soak SECONDS`` is the false-positive run instead: one lab with BFD at the default timers
(and ``--rrs 2``: router-RR BFD too), both cores kept busy by two spinning processes this
script starts and ends, and nothing hung: every BFD expiry gobgpd logs and every speaker or
router session that stops being established is counted.

Writes ``benchmarks/results/bfd.json`` and ``bfd.png`` (``bfd_soak.json`` for ``--soak``);
every lab and process it starts is ended, crash or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpError
from lbroute.kernel.fib import read_fib
from lbroute.lab.lab import Lab, LabError
from lbroute.lab.scenario import DEFAULT_BFD, Scenario
from lbroute.lab.topology import DEFAULT_VIP, Node, Topology
from lbroute.polling import eventually

RESULTS = Path(__file__).parent / "results"
VIP = DEFAULT_VIP
MODES: tuple[tuple[str, tuple[int, int] | None], ...] = (("hold_timer", None), ("bfd", DEFAULT_BFD))


def fib_hops(lab: Lab) -> frozenset[str]:
    routes = read_fib(lab.topology.router_ns, prefix=VIP)
    return routes[0].next_hops if routes else frozenset()


def speakers(lab: Lab, who: str = "rr") -> dict[str, Any]:
    """The LB speaker sessions at ``who``, by pod address."""
    with GobgpClient(str(lab.socket(who)), timeout=2.0) as rr:
        return {s.neighbor: s for s in rr.list_sessions(who) if s.group == "lb-speakers"}


def ready(lab: Lab, whole: frozenset[str], node: Node, bfd: bool) -> None:
    hops = fib_hops(lab)
    assert whole <= hops, f"router FIB {VIP}: {sorted(hops)}, want {sorted(whole)}"
    if bfd:
        try:
            session = speakers(lab).get(node.pod_ip)
        except GobgpError as err:
            raise AssertionError(f"RR: {err}") from None
        assert session is not None and session.established and session.bfd_up, session


def hang_once(lab: Lab, node: Node, how: str, timeout: float) -> dict[str, Any]:
    who = f"lb{node.index}"
    before = time.monotonic()
    lab.hang(who, stop=how == "stop")
    hung = time.monotonic()
    polls = 0

    def gone() -> float:
        nonlocal polls
        polls += 1
        hops = fib_hops(lab)
        assert node.ip not in hops, f"{node.ip} still in the router's FIB"
        return time.monotonic()

    try:
        seen = eventually(gone, timeout, interval=0.002, what=f"{who}'s next-hop gone", context=lab.logs_tail)
    finally:
        lab.unhang(who)
    return {
        "lb": node.index,
        "hang_call_s": round(hung - before, 4),
        "hang_to_gone_s": round(seen - hung, 4),
        "polls": polls,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def bring_up(prefix: str, lbs: int, bfd: tuple[int, int] | None, rrs: int = 1) -> Lab:
    """A fresh lab; one that fails to come up is taken down again, one already there is left alone."""
    lab = Lab(prefix)
    if lab.is_up():
        raise LabError(f"lab {prefix!r} is already up; `lbroute lab down --prefix {prefix}` removes it")
    try:
        lab.up(Topology(prefix, lbs, rrs=rrs), Scenario(bfd=bfd), timeout=60)
    except BaseException:
        lab.down()
        raise
    return lab


def run_mode(args: argparse.Namespace, bfd: tuple[int, int] | None) -> list[dict[str, Any]]:
    nodes = [Node(i) for i in range(1, args.lbs + 1)]
    whole = frozenset(n.ip for n in nodes)
    runs: list[dict[str, Any]] = []
    lab = bring_up(args.prefix, args.lbs, bfd)
    try:
        for k in range(args.runs):
            node = nodes[k % len(nodes)]
            # exabgp reconnects after its unhang two runs ago: seconds (its TCP session has to end)
            eventually(
                lambda node=node: ready(lab, whole, node, bfd is not None),  # type: ignore[misc]
                90,
                what="FIB whole, the next LB's BFD up",
                context=lab.logs_tail,
            )
            run = hang_once(lab, node, args.how, 30) | {"run": k + 1}
            runs.append(run)
            note(json.dumps({"bfd": bfd} | run))
    finally:
        lab.down()
    return runs


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        # nearest rank: with n = 30 the p99 is the largest value
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import random

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = result["modes"]
    labels = ["hold timer only (3 s)" if m["bfd"] is None else "BFD 300 ms x 3" for m in modes.values()]
    data = [[r["hang_to_gone_s"] for r in m["runs"]] for m in modes.values()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    left.boxplot(data, tick_labels=labels, showfliers=False)
    rng = random.Random(1)
    for i, (values, color) in enumerate(zip(data, ("tab:red", "tab:blue"), strict=False), 1):
        left.scatter(
            [i + rng.uniform(-0.12, 0.12) for _ in values], values, s=14, alpha=0.7, zorder=3, color=color
        )
    left.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    left.set_ylabel("s from the hang until the next-hop left the router FIB")
    left.set_title(f"silent LB failure ({result['how']}) -> next-hop gone")
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3, axis="y")
    for values, label, color in zip(data, labels, ("tab:red", "tab:blue"), strict=False):
        ordered = sorted(values)
        right.step(
            ordered,
            [(i + 1) / len(ordered) for i in range(len(ordered))],
            where="post",
            label=label,
            color=color,
        )
    right.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    right.set_xlabel("s from the hang until the next-hop left the router FIB")
    right.set_ylabel("fraction of runs")
    right.set_title("cumulative distribution")
    right.set_xlim(left=0)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle(f"{result['lbs']} LBs, one RR, n = {result['runs']} per mode (2 shared cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def spinners(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that keep a core busy until ended (by these PIDs)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def soak(args: argparse.Namespace) -> int:
    lab = bring_up(args.prefix, args.lbs, DEFAULT_BFD, rrs=args.rrs)
    rr_names = [lab.topology.rr_name(j) for j in range(1, args.rrs + 1)]
    pods = {Node(i).pod_ip for i in range(1, args.lbs + 1)}
    busy: list[subprocess.Popen[bytes]] = []
    drops: list[dict[str, Any]] = []
    polls = 0
    load: list[float] = []
    try:

        def all_up() -> None:
            for rr in rr_names:
                _all_up(lab, rr, pods)

        eventually(all_up, 60, what="every BFD session up", context=lab.logs_tail)
        expired_before = _expiries(lab)
        busy = spinners(2)
        started = time.monotonic()
        was_up = {rr: set(pods) for rr in rr_names}
        router_up = True
        while time.monotonic() - started < args.soak:
            polls += 1
            for rr in rr_names:
                try:
                    up = {a for a, s in speakers(lab, rr).items() if s.established and s.bfd_up}
                except GobgpError as err:
                    up = set()
                    drops.append(
                        {"t": round(time.monotonic() - started, 2), "at": rr, "error": str(err)[:120]}
                    )
                for address in was_up[rr] - up:
                    drops.append({"t": round(time.monotonic() - started, 2), "at": rr, "peer": address})
                was_up[rr] = up
            sessions = lab.router.sessions()
            now_up = all(s.established for s in sessions)
            if router_up and not now_up:
                drops.append({"t": round(time.monotonic() - started, 2), "at": "router", "peer": "an RR"})
            router_up = now_up
            if polls % 10 == 0:
                load.append(os.getloadavg()[0])
            time.sleep(1.0)  # pacing the poll, not waiting for a condition
        elapsed = time.monotonic() - started
        expired = _expiries(lab)
    finally:
        for p in busy:
            p.send_signal(signal.SIGTERM)
            p.wait(10)
        lab.down()
    result = {
        "what": "BFD at the default timers, both cores busy, nothing hung: BFD expiries and session drops",
        "bfd": list(DEFAULT_BFD),
        "lbs": args.lbs,
        "rrs": args.rrs,
        "seconds": round(elapsed, 1),
        "spinners": 2,
        "polls": polls,
        "gobgpd_bfd_expiries": {k: expired.get(k, 0) - expired_before.get(k, 0) for k in expired},
        "sessions_dropped": drops,
        "loadavg_1m": {
            "min": round(min(load), 2) if load else None,
            "median": round(statistics.median(load), 2) if load else None,
            "max": round(max(load), 2) if load else None,
        },
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bfd_soak.json").write_text(json.dumps(result, indent=2) + "\n")
    emit(result, args.json)
    return 0


def _all_up(lab: Lab, rr: str, pods: set[str]) -> None:
    up = {a for a, s in speakers(lab, rr).items() if s.established and s.bfd_up}
    assert up == pods, f"BFD up at {rr}: {sorted(up)}"


def _expiries(lab: Lab) -> dict[str, int]:
    """gobgpd's "Expired" BFD log lines so far, per gobgpd of the lab."""
    out = {}
    for name, record in lab.state.processes.items():
        if name.startswith("gobgpd-"):
            text = Path(record.log).read_text(errors="replace")
            out[name] = sum(1 for line in text.splitlines() if "msg=Expired" in line and "Topic=bfd" in line)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("bfd", __doc__)
    parser.add_argument("--prefix", default="bbfd")
    parser.add_argument("--runs", type=int, default=30, help="hangs per mode")
    parser.add_argument("--lbs", type=int, default=3)
    parser.add_argument(
        "--how", choices=("stop", "drop"), default="stop", help="SIGSTOP, or drop every frame"
    )
    parser.add_argument("--soak", type=float, default=0, help="seconds of the false-positive run instead")
    parser.add_argument("--rrs", type=int, choices=(1, 2), default=2, help="RRs in the --soak lab")
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    if args.soak:
        return soak(args)
    load_before = os.getloadavg()
    modes: dict[str, Any] = {}
    for name, bfd in MODES:
        mode_load = os.getloadavg()[0]
        runs = run_mode(args, bfd)
        modes[name] = {
            "bfd": list(bfd) if bfd else None,
            "loadavg_1m_before_after": [round(mode_load, 2), round(os.getloadavg()[0], 2)],
            "summary": summary([r["hang_to_gone_s"] for r in runs])
            | {"under_1s": sum(1 for r in runs if r["hang_to_gone_s"] < 1.0)},
            "runs": runs,
        }
    result = {
        "what": "silent LB failure (lab hang) -> its next-hop gone from the router's kernel FIB",
        "how": "SIGSTOP of the pod's processes"
        if args.how == "stop"
        else "every frame on the node's link dropped",
        "vip": VIP,
        "lbs": args.lbs,
        "runs": args.runs,
        "speaker_hold_time_s": 3,
        "machine": machine(load_before),
        "modes": modes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bfd.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS / "bfd.png")
    emit({n: m["summary"] for n, m in modes.items()} | {"machine": result["machine"]}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
