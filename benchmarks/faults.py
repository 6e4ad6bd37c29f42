"""Benchmark: the fault suite's time to the invariant, each fault a few times.

    python -m benchmarks.faults [--runs 3] [--prefix bflt] [--json]

Runs every fault of ``lbroute.lab.faults`` (the ones tests/integration/test_faults.py runs)
``--runs`` times on one lab of three LBs with zebra's FIB, and the router's gobgpd restart
also on a lab with the resilient FIB; per fault and phase, the seconds from the fault's start
until the invariant held (``Lab.wait_invariant``). A zebra restart does not recover (see
docs/decisions/fault-suite.md): it runs once, last, and is recorded as a miss. Writes
``benchmarks/results/faults.json``; every lab is taken down, crash or not.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from benchmarks.report import add_json, new_parser
from lbroute import logs
from lbroute.lab.faults import FAULTS, run_fault
from lbroute.lab.lab import InvariantError, Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import PREFIX_RE, Topology

RESULTS = Path(__file__).parent / "results"
RECOVERING = [f for f in FAULTS if f != "zebra_restart"]


def runs_on(prefix: str, fib: str, faults: list[str], runs: int) -> dict[str, list[dict[str, float]]]:
    lab = Lab(prefix)
    out: dict[str, list[dict[str, float]]] = {}
    try:
        lab.up(Topology(prefix, 3), Scenario(fib=fib))
        for _ in range(runs):
            for fault in faults:
                out.setdefault(fault, []).append(run_fault(lab, fault).seconds)
    finally:
        lab.down()
    return out


def zebra_restart_once(prefix: str) -> dict[str, Any]:
    lab = Lab(prefix)
    try:
        lab.up(Topology(prefix, 3), Scenario())
        return {"seconds": run_fault(lab, "zebra_restart").seconds}
    except InvariantError as err:
        return {"deadline_miss": True, "diff": err.diff.counts(), "detail": str(err.diff)}
    finally:
        lab.down()


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    phases = sorted({p for r in runs for p in r})
    return {
        p: {
            "n": len([r[p] for r in runs if p in r]),
            "median_s": round(statistics.median(r[p] for r in runs if p in r), 3),
            "max_s": round(max(r[p] for r in runs if p in r), 3),
        }
        for p in phases
    }


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("faults", __doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each fault (default %(default)s)")
    parser.add_argument("--prefix", default="bflt", help="the labs' name (default %(default)s)")
    add_json(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error(f"--runs {args.runs}: between 1 and 100")
    if not PREFIX_RE.fullmatch(args.prefix):
        parser.error(f"--prefix {args.prefix!r}: 1-8 lowercase letters and digits, starting with a letter")
    logs.configure("warning")
    load_before = os.getloadavg()
    zebra = runs_on(args.prefix, "zebra", RECOVERING, args.runs)
    resilient = runs_on(args.prefix, "resilient", ["router_restart"], args.runs)
    result = {
        "what": "each fault -> seconds from its start until the router's FIB = the serving LBs' nodes",
        "lbs": 3,
        "runs": args.runs,
        "machine": machine(load_before),
        "zebra_fib": {f: {"summary": summary(r), "runs": r} for f, r in zebra.items()},
        "resilient_fib": {f: {"summary": summary(r), "runs": r} for f, r in resilient.items()},
        "zebra_restart": zebra_restart_once(args.prefix),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        brief = {k: {f: v["summary"] for f, v in result[k].items()} for k in ("zebra_fib", "resilient_fib")}
        print(json.dumps(brief | {"zebra_restart": result["zebra_restart"], "machine": result["machine"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
