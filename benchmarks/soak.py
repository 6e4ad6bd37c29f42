"""Benchmark: a soak. N random events on one lab, the invariant checked after each.

    python -m benchmarks.soak [--events 1000] [--seed 1] [--prefix bsoak] [--fib resilient] [--json]

One lab (3 LBs to start, between 2 and 4) takes ``--events`` events drawn at random (seeded)
from those that apply to it now: scale up, scale down (drained), break an LB's health, heal
one, ``kill -9`` an announcer (done once exabgp has respawned it), ``kill -9`` an exabgp,
start a killed exabgp again, restart (``kill -9``) the RR's gobgpd, restart the router's
gobgpd. After each event the invariant
(``Lab.wait_invariant``: the router's FIB next-hops for every VIP are those of the LBs the lab
left running, healthy and announcing) must hold within ``--deadline`` seconds of the event's
action returning (a scale waits for its own drain first); the time recorded runs from the
action's start. A miss is counted, with the stale, missing and foreign next-hops the last
look found, and the soak then waits up to ``--recover`` s more before it goes on (or stops).

Requests: a bounded request loop from the router's namespace to the first VIP runs across
each event (``--requests`` requests, one every 50 ms, the event starting after the fifth)
whenever some LB serves the VIP both before and after it; its failures are counted. With
no LB healthy, requests fail by design and are not sent.

Writes ``benchmarks/results/soak.json`` (counts, per event kind the time to the invariant,
every event) and ``soak.png``; ``--json`` prints the summary as JSON too. The lab is taken
down at the end, crash or not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import add_json, new_parser
from lbroute import logs
from lbroute.lab.faults import kill_announcer
from lbroute.lab.lab import InvariantError, Lab, LabError
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import PREFIX_RE, Topology
from lbroute.lab.traffic import probe_during

RESULTS = Path(__file__).parent / "results"
MIN_LBS, START_LBS, MAX_LBS = 2, 3, 4
KINDS = (
    "scale_up",
    "scale_down",
    "break",
    "heal",
    "kill_announcer",
    "kill_exabgp",
    "start_exabgp",
    "restart_rr",
    "restart_router",
)


def broken(lab: Lab) -> list[int]:
    return [n.index for n in lab.topology.nodes if (lab.dir / f"lb{n.index}" / "health").exists()]


def speaking(lab: Lab) -> list[int]:
    return [n.index for n in lab.topology.nodes if lab.supervisor.is_running(f"exabgp-lb{n.index}")]


def choices(lab: Lab) -> dict[str, list[int]]:
    """Each event kind that applies now -> its possible targets (LB numbers; [0] for none)."""
    lbs = lab.topology.lbs
    bad, up = broken(lab), speaking(lab)
    out = {
        "scale_up": [0] if lbs < MAX_LBS else [],
        "scale_down": [0] if lbs > MIN_LBS else [],
        "break": [i for i in range(1, lbs + 1) if i not in bad],
        "heal": bad,
        "kill_announcer": [i for i in up if lab.announcer_pid(i) is not None],
        "kill_exabgp": up if len(up) > 1 else [],
        "start_exabgp": [i for i in range(1, lbs + 1) if i not in up],
        "restart_rr": [0],
        "restart_router": [0],
    }
    return {k: v for k, v in out.items() if v}


def restart(lab: Lab, who: str, deadline: float) -> None:
    lab.restart(who)
    lab.wait_settled(deadline)


def apply(lab: Lab, kind: str, target: int, deadline: float) -> None:
    actions: dict[str, Callable[[], object]] = {
        "scale_up": lambda: lab.scale(lab.topology.lbs + 1, timeout=deadline),
        "scale_down": lambda: lab.scale(lab.topology.lbs - 1, timeout=deadline),
        "break": lambda: lab.set_health(target, "fail"),
        "heal": lambda: lab.set_health(target, "ok"),
        "kill_announcer": lambda: kill_announcer(lab, target, deadline),
        "kill_exabgp": lambda: lab.kill_speaker(target),
        "start_exabgp": lambda: lab.start_speaker(target),
        # the FIB can look right before the router has noticed: the restart is over once the
        # router has its sessions back and no stale path
        "restart_rr": lambda: restart(lab, "rr", deadline),
        "restart_router": lambda: restart(lab, "router", deadline),
    }
    actions[kind]()


def serves_vip(lab: Lab, vip: str) -> bool:
    return bool(lab.serving_fib().get(vip))


def one_event(lab: Lab, k: int, rng: random.Random, args: argparse.Namespace) -> dict[str, Any]:
    options = choices(lab)
    kind = rng.choice(sorted(options))
    target = rng.choice(options[kind])
    vip = lab.topology.services[0].vip
    event: dict[str, Any] = {"event": k, "kind": kind, "target": target, "lbs": lab.topology.lbs}
    before = serves_vip(lab, vip)

    def disruption() -> float:
        began = time.monotonic()
        apply(lab, kind, target, args.deadline)
        event["action_s"] = round(time.monotonic() - began, 3)
        lab.wait_invariant(args.deadline)
        return time.monotonic() - began

    # requests only when some LB serves the VIP before and (by the lab's own account) after
    after_serving = _serving_after(lab, kind, target, vip)
    try:
        if before and after_serving and args.requests:
            result, seconds = probe_during(
                lab.topology.router_ns, vip.split("/")[0], args.requests, 0.05, disruption, warm_up=5
            )
            event["requests"] = result["sent"]
            event["failed_requests"] = result["failed"]
        else:
            seconds = disruption()
        event["seconds"] = round(seconds, 3)
    except InvariantError as err:
        event["seconds"] = None
        event["deadline_miss"] = True
        event["diff"] = err.diff.counts()
        event["detail"] = str(err.diff)
        print(f"event {k} {kind} {target}: {err}", file=sys.stderr, flush=True)
        lab.wait_invariant(args.recover)  # then on; an InvariantError here ends the soak
    return event


def _serving_after(lab: Lab, kind: str, target: int, vip: str) -> bool:
    """Whether some LB will still serve ``vip`` once this event is done (before doing it)."""
    serving = set(lab.serving())
    if kind in ("break", "kill_exabgp"):
        serving.discard(target)
    if kind == "scale_down":
        serving.discard(lab.topology.lbs)
    if kind == "scale_up":
        serving.add(lab.topology.lbs + 1)
    topo = lab.topology.with_lbs(lab.topology.lbs + (kind == "scale_up"))
    return any(s.vip == vip and s.served_by(i) for s in topo.services for i in serving)


def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
    per_kind: dict[str, Any] = {}
    for kind in KINDS:
        times = [e["seconds"] for e in events if e["kind"] == kind and e["seconds"] is not None]
        if times or any(e["kind"] == kind for e in events):
            per_kind[kind] = {
                "count": sum(1 for e in events if e["kind"] == kind),
                "median_s": round(statistics.median(times), 3) if times else None,
                "max_s": round(max(times), 3) if times else None,
            }
    misses = [e for e in events if e.get("deadline_miss")]
    return {
        "events": len(events),
        "deadline_misses": len(misses),
        "stale_next_hops": sum(e["diff"]["stale"] for e in misses),
        "missing_next_hops": sum(e["diff"]["missing"] for e in misses),
        "foreign_next_hops": sum(e["diff"]["foreign"] for e in misses),
        "requests": sum(e.get("requests", 0) for e in events),
        "failed_requests": sum(e.get("failed_requests", 0) for e in events),
        "time_to_invariant": per_kind,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Time to the invariant per event kind, every event a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in result["summary"]["time_to_invariant"]]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for x, kind in enumerate(kinds):
        times = [e["seconds"] for e in result["events"] if e["kind"] == kind and e["seconds"] is not None]
        jitter = [x + (i % 7 - 3) * 0.04 for i in range(len(times))]
        ax.scatter(jitter, times, s=12, alpha=0.6)
    ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right")
    ax.set_ylabel("s from the event's start until the invariant held")
    s = result["summary"]
    ax.set_title(
        f"soak: {s['events']} events, {s['deadline_misses']} deadline misses, "
        f"{s['failed_requests']}/{s['requests']} requests failed (fib {result['fib']})"
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = new_parser("soak", __doc__)
    parser.add_argument("--events", type=int, default=1000, help="events to apply (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="the random events' seed (default %(default)s)")
    parser.add_argument("--prefix", default="bsoak", help="the lab's name (default %(default)s)")
    parser.add_argument("--fib", choices=("resilient", "zebra"), default="resilient")
    parser.add_argument("--deadline", type=float, default=10.0, help="s for the invariant after an event")
    parser.add_argument("--recover", type=float, default=30.0, help="s more after a miss before giving up")
    parser.add_argument("--requests", type=int, default=20, help="requests across each event (0: none)")
    add_json(parser)
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error(f"--events {args.events}: give 1 or more")
    if not PREFIX_RE.fullmatch(args.prefix):
        parser.error(f"--prefix {args.prefix!r}: 1-8 lowercase letters and digits, starting with a letter")
    if not 0 <= args.requests <= 200:
        parser.error(f"--requests {args.requests}: between 0 and 200")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logs.configure("warning")
    load_before = os.getloadavg()
    rng = random.Random(args.seed)
    lab = Lab(args.prefix)
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    stopped: str | None = "interrupted"
    try:
        lab.up(Topology(args.prefix, START_LBS), Scenario(fib=args.fib))
        for k in range(args.events):
            events.append(one_event(lab, k, rng, args))
        stopped = None
    except LabError as err:
        stopped = str(err)
        print(f"soak stopped after {len(events)} events: {err}", file=sys.stderr)
        return 2
    finally:
        lab.down()
        if events:
            result = {
                "what": "random scale/break/heal/kill/restart events on one lab, the invariant after each",
                "seed": args.seed,
                "fib": args.fib,
                "deadline_s": args.deadline,
                "requests_per_event": args.requests,
                "wall_s": round(time.monotonic() - started, 1),
                "completed": stopped is None,
                "stopped_by": stopped,
                "machine": machine(load_before),
                "summary": summarize(events),
                "events": events,
            }
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
            plot(result, RESULTS / "soak.png")
            if args.json:
                print(json.dumps(result["summary"] | {"machine": result["machine"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
