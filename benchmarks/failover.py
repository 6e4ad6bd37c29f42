"""Benchmark: each way an LB goes away -> its next-hop gone from the router's kernel FIB.

    lbroute bench failover [--runs 10] [--kinds drain,health,...] [--json]

One VIP on 3 LBs; each run takes one LB away and times, from the moment the benchmark acts,
until the router's FIB route for the VIP (sampled in a thread as fast as ``ip`` answers,
``lbroute.lab.fib_sampler``) no longer holds that LB's node; then the LB is brought back and
the FIB is whole again before the next run. The kinds:

- ``drain``: the LB scaled away (``lab scale``): the announcer's drain protocol withdraws
  first, then the pod stops (docs/decisions/make-before-break-drain.md).
- ``health``: the LB's health check starts failing (``lab break``; interval 0.2 s, fall 3).
- ``exabgp_kill``: the pod's exabgp ``kill -9``: its kernel closes the BGP session.
- ``announcer_kill``: the announcer ``kill -9``: exabgp respawns it and the route must *stay*
  (recorded: whether the next-hop left the FIB at all, and for how long).
- ``hang_hold``: the pod's processes SIGSTOPped: only the hold timer (the lab's 3 s) ends it.
- ``hang_bfd``: the same with BFD 300 ms x 3 between the RR and the pod (a lab of its own).
- ``pod_deleted``: the pod deleted in the (fake, HTTP-level) Kubernetes API: the rr manager
  removes its explicit MD5 peer (a lab of its own, with ``kube_api``).

Results: ``benchmarks/results/failover.json`` and ``failover.png``. Every lab is taken down,
crash or not; traffic stays inside the lab's namespaces (FIB reads only).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bfd import summary
from benchmarks.machine import machine
from benchmarks.report import Progress, add_json, new_parser, publish
from lbroute import logs
from lbroute.gobgp.client import GobgpClient
from lbroute.lab.errors import LabError
from lbroute.lab.faults import kill_announcer
from lbroute.lab.fib_sampler import FibSampler
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import DEFAULT_BFD, Scenario
from lbroute.lab.topology import Node, Topology
from lbroute.polling import eventually
from tests.fakes.kube_api import FakeKubeApi
from tests.support.kube_objects import lb_pod

LBS = 3
LEAVER = Node(LBS)  # the LB that goes away: ``lab scale`` removes the last one
KINDS = ("drain", "health", "exabgp_kill", "announcer_kill", "hang_hold", "hang_bfd", "pod_deleted")
# the lab each kind runs on: its scenario's fields
LABS: dict[str, dict[str, Any]] = {"plain": {}, "bfd": {"bfd": DEFAULT_BFD}, "kube": {}}
LAB_OF = {"hang_bfd": "bfd", "pod_deleted": "kube"}
TIMEOUT = 30.0  # s for one LB to leave or to come back; the hold timer is 3 s
PEEKED = 1.0  # s the FIB is watched after an announcer kill's respawn, for a late departure


class Run:
    """One kind's act and undo on one lab."""

    def __init__(self, lab: Lab, kube: FakeKubeApi | None) -> None:
        self.lab, self.kube = lab, kube

    def act(self, kind: str) -> None:
        lab, i = self.lab, LEAVER.index
        match kind:
            case "drain":
                lab.scale(LBS - 1, timeout=TIMEOUT)
            case "health":
                lab.set_health(i, "fail")
            case "exabgp_kill":
                lab.kill_speaker(i)
            case "announcer_kill":
                kill_announcer(lab, i, TIMEOUT)
            case "hang_hold" | "hang_bfd":
                lab.hang(f"lb{i}", stop=True)
            case "pod_deleted":
                assert self.kube is not None
                self.kube.delete("pods", f"lb{i}", namespace="lb")

    def undo(self, kind: str) -> None:
        lab, i = self.lab, LEAVER.index
        match kind:
            case "drain":
                lab.scale(LBS, timeout=TIMEOUT)
            case "health":
                lab.set_health(i, "ok")
            case "exabgp_kill":
                lab.start_speaker(i)
            case "hang_hold" | "hang_bfd":
                lab.unhang(f"lb{i}")
            case "pod_deleted":
                assert self.kube is not None
                self.kube.put("pods", lb_pod(i))


def whole(lab: Lab) -> None:
    """Every LB's node in the VIP's FIB route again (after an unhang exabgp takes seconds)."""
    vip = lab.topology.services[0].vip
    got = lab.router_fib().get(vip, frozenset())
    want = frozenset(Node(i).ip for i in range(1, LBS + 1))
    assert got == want, f"router FIB {vip}: {sorted(got)}, want {sorted(want)}"


def time_one(run: Run, kind: str) -> dict[str, Any]:
    lab = run.lab
    eventually(lambda: whole(lab), 90, what="the FIB whole before the run", context=lab.logs_tail)
    if kind == "hang_bfd":  # after the last unhang the BFD session takes a moment to come up again
        eventually(lambda: bfd_up(lab), 90, what=f"lb{LEAVER.index}'s BFD session up", context=lab.logs_tail)
    vip = lab.topology.services[0].vip
    gone = LEAVER.ip
    with FibSampler(lab.topology.router_ns, vip) as fib:
        began = time.monotonic()
        try:
            run.act(kind)
            if kind == "announcer_kill":  # it must stay: watch a moment longer after the respawn
                until = time.monotonic() + PEEKED
                eventually(lambda: _past(until), PEEKED + 5, interval=0.05, what="the peek")
            else:

                def left() -> None:
                    latest = fib.latest()
                    assert latest is not None and gone not in latest, f"{gone} still in the FIB"

                eventually(left, TIMEOUT, interval=0.002, what=f"{kind}: {gone} gone", context=lab.logs_tail)
        finally:
            run.undo(kind)
    samples = [(t, hops) for t, hops in fib.samples if t >= began]
    absent = [t for t, hops in samples if gone not in hops]
    row: dict[str, Any] = {"kind": kind, "loadavg_1m": round(os.getloadavg()[0], 2), "samples": len(samples)}
    if kind == "announcer_kill":
        row["left"] = bool(absent)
        row["absent_s"] = round(absent_seconds(samples, gone), 4)
    else:
        row["to_gone_s"] = round(absent[0] - began, 4)
    return row


def bfd_up(lab: Lab) -> None:
    with GobgpClient(str(lab.socket("rr")), timeout=2.0) as rr:
        sessions = {s.neighbor: s for s in rr.list_sessions("rr", advertised=False)}
    session = sessions.get(LEAVER.pod_ip)
    assert session is not None and session.established and session.bfd_up, session


def _past(t: float) -> None:
    assert time.monotonic() >= t, "not yet"


def absent_seconds(samples: list[tuple[float, frozenset[str]]], hop: str) -> float:
    """How long ``hop`` was missing, summed over the samples' intervals."""
    return sum(b[0] - a[0] for a, b in itertools.pairwise(samples) if hop not in a[1])


@contextmanager
def lab_for(name: str, prefix: str) -> Iterator[Run]:
    lab = Lab(f"{prefix}{name[0]}")
    if lab.is_up():
        raise LabError(
            f"lab {lab.prefix!r} is already up; `lbroute lab down --prefix {lab.prefix}` removes it"
        )
    kube = FakeKubeApi().start() if name == "kube" else None
    try:
        fields = dict(LABS[name])
        if kube is not None:
            for i in range(1, LBS + 1):
                kube.put("pods", lb_pod(i))
            fields["kube_api"] = kube.url
        lab.up(Topology(lab.prefix, LBS), Scenario(**fields), timeout=60)
        yield Run(lab, kube)
    finally:
        lab.down()
        if kube is not None:
            kube.stop()


def run(
    kinds: list[str], runs: int, prefix: str, progress: Callable[[str], None]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for name in LABS:
        mine = [k for k in kinds if LAB_OF.get(k, "plain") == name]
        if not mine:
            continue
        with lab_for(name, prefix) as lab_run:
            for k in range(runs):
                for kind in mine:  # interleaved: the same load for each kind
                    row = time_one(lab_run, kind) | {"run": k + 1}
                    out[kind].append(row)
                    progress(json.dumps(row))
    return out


def summarize(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, mine in rows.items():
        if kind == "announcer_kill":
            out[kind] = {
                "n": len(mine),
                "left": sum(r["left"] for r in mine),
                "absent_s_max": max(r["absent_s"] for r in mine),
            }
        elif mine:
            out[kind] = summary([r["to_gone_s"] for r in mine])
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [k for k in result["summary"] if k != "announcer_kill"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    data = [[r["to_gone_s"] for r in result["runs"][k]] for k in timed]
    ax.boxplot(data, orientation="horizontal", showfliers=False)
    for y, values in enumerate(data, start=1):
        ax.plot(values, [y] * len(values), "o", alpha=0.5, markersize=4)
    ax.set_yticks(range(1, len(timed) + 1), [f"{k} (n={len(d)})" for k, d in zip(timed, data, strict=True)])
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", linestyle=":", label="1 s")
    ax.set_xlabel("seconds from the act to the LB's next-hop gone from the router's kernel FIB (log)")
    kill = result["summary"].get("announcer_kill")
    said = f"; announcer kill -9: next-hop left the FIB in {kill['left']} of {kill['n']}" if kill else ""
    ax.set_title(
        f"failover, {LBS} LBs, 2 shared cores (load {result['machine']['loadavg_1m_before_after']}){said}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def kinds_arg(text: str) -> list[str]:
    wanted = [k for k in text.split(",") if k]
    unknown = [k for k in wanted if k not in KINDS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(KINDS)}")
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("failover", __doc__)
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind")
    parser.add_argument("--kinds", type=kinds_arg, default=list(KINDS), help="comma-separated; default all")
    parser.add_argument("--prefix", default="bfo", help="the labs' prefix (one letter is added per lab)")
    add_json(parser)
    args = parser.parse_args(argv)
    logs.configure("warning")
    load = os.getloadavg()
    progress = Progress(len(args.kinds) * args.runs, "failover")
    rows = run(args.kinds, args.runs, args.prefix, progress.step)
    result = {
        "what": "an LB taken away -> its next-hop gone from the router's kernel FIB route for the VIP",
        "lbs": LBS,
        "runs_per_kind": args.runs,
        "machine": machine(load),
        "summary": summarize(rows),
        "runs": rows,
    }
    publish("failover", result, plot, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
