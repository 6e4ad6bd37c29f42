"""``lbroute bench NAME [--json] [options]``: one command for every benchmark.

The benchmarks live in the checkout's ``benchmarks/`` package (not in the installed
programs): each module has ``main(argv) -> int`` and takes ``--json``. This module only
maps a name to its module, imported when it is run (so the layers contract, which covers
the installed rooms, sees no import of ``benchmarks``), and passes the rest of the command
line on unchanged. docs/benchmarks.md describes each one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from .errors import EXIT_USAGE


class Benchmark(NamedTuple):
    module: str  # in the ``benchmarks`` package
    about: str  # one line for ``lbroute bench --help``


# NAME -> implementation; one line each
BENCHMARKS: dict[str, Benchmark] = {
    "convergence": Benchmark("convergence", "random LB-count changes and announce/withdraw -> router FIB"),
    "traffic": Benchmark("traffic", "requests served per LB per second while LBs come and go (Fig. 4.14)"),
    "scale": Benchmark("rr_scale", "N speakers x M VIPs to a converged router FIB"),
    "restart": Benchmark("rr_restart", "the RR's gobgpd restarted -> router FIB outage, with/without GR"),
    "cli": Benchmark("cli_vips", "`lbroute vips --json` over a 64k-path RIB"),
    "hold": Benchmark("hold", "held connections across next-hop changes, hash-threshold vs resilient FIB"),
    "bfd": Benchmark("bfd", "a silently failed LB node -> next-hop gone, hold timer vs BFD"),
    "announcer": Benchmark(
        "announcer", "health failure -> next-hop out of the FIB; the announcer's RSS and CPU"
    ),
    "dataplane": Benchmark("dataplane_held", "held connections reset by each change, nft-nat vs nft-dsr"),
    "dataplane_throughput": Benchmark(
        "dataplane_throughput", "requests/s and latency: nft-nat, nft-dsr, a userspace proxy"
    ),
    "failover": Benchmark(
        "failover", "drain, health, exabgp/announcer kill, hang (hold, BFD), pod deleted -> next-hop gone"
    ),
    "flows": Benchmark(
        "flows", "ECMP evenness over the LBs; flows moved when one leaves/joins, zebra vs resilient"
    ),
    "faults": Benchmark("faults", "each fault -> time until the router's FIB is the serving LBs' again"),
    "soak": Benchmark("soak", "N random scale/break/heal/kill/restart events, the invariant after each"),
}


# the git checkout this lbroute runs from, when it runs from one (``make setup``'s editable install)
CHECKOUT = Path(__file__).resolve().parents[2]


def names() -> str:
    return ", ".join(BENCHMARKS)


def listing() -> str:
    width = max(len(n) for n in BENCHMARKS)
    return "benchmarks:\n" + "\n".join(f"  {n:<{width}}  {b.about}" for n, b in BENCHMARKS.items())


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="run one benchmark of the lab (from a checkout: needs benchmarks/ and root)",
        description="Run one benchmark; `lbroute bench NAME --help` gives its options. "
        "Results go to benchmarks/results/.",
        epilog=listing(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the benchmark (below)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="its options, e.g. --json")
    p.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    if args.name not in BENCHMARKS:
        what = "no benchmark given" if args.name is None else f"unknown benchmark {args.name!r}"
        print(f"lbroute bench: {what}; choose one of: {names()}", file=sys.stderr)
        return EXIT_USAGE
    bench = BENCHMARKS[args.name]
    try:
        module = load(bench.module, CHECKOUT)
    except ModuleNotFoundError as err:
        print(f"lbroute bench: {err}", file=sys.stderr)
        return EXIT_USAGE
    run: Callable[[list[str]], int] = module.main
    return run(list(args.options))


def load(module: str, checkout: Path) -> ModuleType:
    """``benchmarks.<module>``, from the path or else from the checkout this lbroute runs from;
    a ``ModuleNotFoundError`` with a readable message when neither has it."""
    qualified = f"benchmarks.{module}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as err:
        if err.name not in ("benchmarks", qualified):
            raise  # a dependency of the benchmark is missing: its own message says which
    if not (checkout / "benchmarks" / "__init__.py").is_file():
        raise ModuleNotFoundError(
            f"the benchmarks are not installed here (no benchmarks/ package beside {checkout / 'lbroute'}); "
            "run lbroute bench from a git checkout after `make setup`",
            name="benchmarks",
        )
    sys.path.append(str(checkout))
    return importlib.import_module(qualified)
