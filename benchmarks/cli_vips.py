"""How long ``lbroute vips --json`` takes over a 64k-path RIB, end to end (goal: 0.5 s).

The RIB is built in a real lab (4 LBs), all the way down: the RR originates VIPS prefixes
with one path per node (add-path ids 1-4, next-hops the four node IPs) over one
AddPathStream, reflects them to the router (64k paths there too), and the router's zebra
installs VIPS four-way ECMP routes in its kernel. So ``vips`` reads what it would read in
production: the RR's RIB, the router's RIB and a large kernel FIB.

Each run is the operator's command in a fresh process (interpreter start included), timed
from outside. The same session also times the phases in-process (which part costs what)
and the old way of reading a RIB (decoded protobuf attributes, a helper thread per
stream), to show what the optimisation bought. Results go to benchmarks/results/.

    .venv/bin/python -m benchmarks.cli_vips --prefix h5 [--runs 20] [--vips 16384]
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.cli.targets import no_cyclic_gc
from lbroute.cli.vips_cmd import row_json
from lbroute.core.bgp import Family
from lbroute.core.rib import Path as BgpPath
from lbroute.core.view import VipRow, vip_rows
from lbroute.gobgp.apipb import common_pb2 as common
from lbroute.gobgp.apipb import gobgp_pb2 as api
from lbroute.gobgp.apipb import gobgp_pb2_grpc as rpc
from lbroute.gobgp.client import GobgpClient, family_pb
from lbroute.kernel.fib import read_fib
from lbroute.lab.lab import Lab
from lbroute.lab.topology import VIP_POOL, Node, Topology
from lbroute.polling import Timeout, eventually

RESULTS = Path(__file__).parent / "results"
GOAL_SECONDS = 0.5
QUIET_WITHIN = 120.0  # s the lab's daemons get to settle before the timing starts anyway
LBS = 4
FIRST_VIP = (10 << 24) | (1 << 16) | (64 << 8)  # 10.1.64.0: inside the lab's VIP pool 10.1.0.0/16


def vip_prefixes(count: int) -> list[str]:
    return [
        f"{(a >> 24) & 255}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/32"
        for a in range(FIRST_VIP, FIRST_VIP + count)
    ]


def build_rib(lab: Lab, vips: int) -> float:
    """Originate the paths at the RR; return seconds until the router's FIB holds every VIP."""
    hops = [Node(i).ip for i in range(1, LBS + 1)]
    prefixes = vip_prefixes(vips)
    started = time.monotonic()
    with GobgpClient(str(lab.socket("rr")), timeout=300) as rr:
        rr.add_paths(BgpPath(p, hop, path_id=i) for p in prefixes for i, hop in enumerate(hops, 1))

    def router_fib_full() -> None:
        routes = read_fib(lab.topology.router_ns)
        full = sum(1 for r in routes if len(r.next_hops) == LBS)
        assert full >= vips, f"{full} of {vips} four-way routes in the router's FIB"

    eventually(router_fib_full, 600, interval=1.0, what="router FIB with every VIP", context=lab.logs_tail)
    return time.monotonic() - started


def wait_quiet(lab: Lab, below: float = 0.05, within: float = QUIET_WITHIN) -> tuple[float, float]:
    """Wait until the lab's daemons have digested the new RIB: together under 5 % of one core,
    for at most ``within`` seconds; then the timing goes ahead on a busy lab, and the result
    says so. Returns (seconds waited, the daemons' last share of a core)."""
    pids = [record.pid for record in lab.state.processes.values()]
    last = [_cpu_seconds(pids), time.monotonic()]
    started = last[1]
    share = [1.0]

    def quiet() -> None:
        used, now = _cpu_seconds(pids), time.monotonic()
        if now - last[1] < 2.0:
            raise AssertionError("sampling")
        share[0] = (used - last[0]) / (now - last[1])
        last[:] = [used, now]
        assert share[0] < below, f"lab daemons busy: {share[0]:.0%} of a core"

    try:
        eventually(quiet, within, interval=0.5, what="a quiet lab")
    except Timeout:
        note(f"the lab's daemons still use {share[0]:.0%} of a core after {within:.0f} s: timing anyway")
    return time.monotonic() - started, share[0]


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def time_cli(lab: Lab, runs: int) -> list[dict[str, float]]:
    """The operator's command, each run a new process; wall time and the child's CPU time."""
    argv = [str(Path(sys.executable).parent / "lbroute"), "vips", "--lab", lab.prefix, "--json"]
    env = {**os.environ, "LBROUTE_STATE_ROOT": str(lab.root)}
    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append(
            {
                "wall": round(wall, 4),
                "user": round(after.ru_utime - before.ru_utime, 4),
                "sys": round(after.ru_stime - before.ru_stime, 4),
                "load1": os.getloadavg()[0],
            }
        )
        note(f"  run {len(out):2d}: {wall:.3f} s")
    return out


def check_output(lab: Lab, vips: int) -> dict[str, int]:
    """The answer being timed is the right one: every VIP present, every one OK."""
    argv = [sys.executable, "-m", "lbroute.cli.main", "vips", "--lab", lab.prefix, "--json"]
    rows = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    assert len(rows) >= vips and statuses.get("OK") == len(rows), statuses
    return {"rows": len(rows), **statuses}


BASELINE = "baseline: "  # phases that time the way things were, for comparison
FLOOR = "floor: "  # what no change to our code can take away


def stream_only(client: GobgpClient) -> int:
    """The router's RIB as ``list_paths`` asks for it, every message received and parsed by
    gRPC and protobuf, and nothing read from it: the cost of the transport alone."""
    request = api.ListPathRequest(
        table_type=api.TABLE_TYPE_GLOBAL,
        family=family_pb(Family.IPV4_UNICAST),
        enable_only_binary=True,
        batch_size=1024,
    )
    return sum(1 for _ in client._stub.ListPath(request, timeout=60))


def start_only() -> None:
    """A new interpreter that imports what ``lbroute vips`` imports, and does nothing."""
    subprocess.run([sys.executable, "-c", "import lbroute.cli.main"], check=True)


def time_phases(lab: Lab, repeats: int) -> dict[str, list[float]]:
    """Inside one process: each read, the verdicts and the JSON, timed alone, as the CLI
    runs them (cyclic GC off); then the router's RIB read the skeleton's way, and the
    verdicts with the cyclic GC on, as baselines."""
    phases: dict[str, list[float]] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = work()
        phases.setdefault(name, []).append(round(time.perf_counter() - started, 4))
        return result

    rr = GobgpClient(str(lab.socket("rr")), timeout=60)
    router = GobgpClient(str(lab.socket("router")), timeout=60)
    try:
        for _ in range(repeats):
            with no_cyclic_gc():
                rr_paths = timed("RR RIB (ListPath)", partial(rr.list_paths, ordered=False))
                router_paths = timed("router RIB (ListPath)", partial(router.list_paths, ordered=False))
                fib = timed("kernel FIB (ip -j route)", partial(read_fib, lab.topology.router_ns))
                verdicts = partial(vip_rows, [rr_paths], fib, router_paths, vip_pools=[str(VIP_POOL)])
                rows = timed("verdicts (core.view)", verdicts)
                timed("JSON out", partial(json_lines, rows))
            del rows
            timed(
                BASELINE + "router RIB, Any + threaded stream",
                partial(old_list_paths, str(lab.socket("router"))),
            )
            timed(BASELINE + "router RIB, cyclic GC on", partial(router.list_paths, ordered=False))
            timed(FLOOR + "router RIB, the stream alone", partial(stream_only, router))
            timed(FLOOR + "interpreter start + imports", start_only)
            timed(BASELINE + "verdicts, cyclic GC on", verdicts)
    finally:
        rr.close()
        router.close()
    return phases


def json_lines(rows: list[VipRow]) -> str:
    return "\n".join(json.dumps(row_json(r)) for r in rows)


def old_list_paths(socket: str) -> list[BgpPath]:
    """The skeleton's way, kept here as the baseline: every attribute a protobuf message to decode
    (an ``Any`` to unpack in gobgp 3.x, a ``oneof`` in 4.x), on a helper thread per stream."""
    with grpc.insecure_channel(f"unix://{socket}") as channel:
        stub = rpc.GoBgpServiceStub(channel)
        request = api.ListPathRequest(
            table_type=api.TABLE_TYPE_GLOBAL,
            family=common.Family(afi=common.Family.AFI_IP, safi=common.Family.SAFI_UNICAST),
        )
        out = []
        for response in stub.ListPath(request, timeout=60):
            dest = response.destination
            for p in dest.paths:
                hop = next((a.next_hop.next_hop for a in p.pattrs if a.WhichOneof("attr") == "next_hop"), "")
                out.append(BgpPath(dest.prefix, hop, p.neighbor_ip, p.best, p.identifier))
        return sorted(out)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))], 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    walls = [r["wall"] for r in result["runs"]]
    cpus = [r["user"] + r["sys"] for r in result["runs"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.2, 1]})
    x = range(1, len(walls) + 1)
    left.plot(x, walls, "o-", label="wall")
    left.plot(x, cpus, "s--", alpha=0.7, label="CPU (user+sys)")
    left.axhline(GOAL_SECONDS, color="red", linestyle=":", label=f"goal {GOAL_SECONDS:g} s")
    left.axhline(
        result["wall"]["median"],
        color="grey",
        linestyle="--",
        label=f"median {result['wall']['median']:.2f} s",
    )
    left.set_xlabel("run")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.set_ylabel("seconds")
    left.set_ylim(bottom=0)
    left.set_title(f"lbroute vips --json, {result['rib']['rr_paths']} paths, {result['check']['rows']} VIPs")
    left.legend(loc="lower right")

    names = list(result["phases"])
    medians = [statistics.median(result["phases"][n]) for n in names]
    colors = ["C3" if n.startswith(BASELINE) else "C2" if n.startswith(FLOOR) else "C0" for n in names]
    right.barh(names, medians, color=colors)
    for y, value in enumerate(medians):
        right.text(value, y, f" {value:.2f}", va="center")
    right.invert_yaxis()
    right.set_xlabel("seconds (median, in-process)")
    right.set_title("where the time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = new_parser("cli", __doc__)
    ap.add_argument("--prefix", default="bcli", help="lab namespace prefix (default %(default)s)")
    ap.add_argument("--vips", type=int, default=16384, help="VIPs; paths are 4 per VIP (default %(default)s)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--phase-repeats", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    add_json(ap)
    args = ap.parse_args(argv)
    logs.configure("warning")  # the lab's progress lines would go to stdout, before the JSON

    load = os.getloadavg()
    lab = Lab(args.prefix)
    try:
        note(f"lab {args.prefix}: up with {LBS} LBs")
        lab.up(Topology(args.prefix, LBS), timeout=60)
        note(f"originating {args.vips} x {LBS} paths at the RR ...")
        converged = build_rib(lab, args.vips)
        with (
            GobgpClient(str(lab.socket("rr")), timeout=60) as rr,
            GobgpClient(str(lab.socket("router")), timeout=60) as router,
        ):
            rib = {
                "rr_paths": len(rr.list_paths(ordered=False)),
                "router_paths": len(router.list_paths(ordered=False)),
            }
        rib["fib_routes"] = len(read_fib(lab.topology.router_ns))
        note(f"RIB ready in {converged:.1f} s: {rib}")
        quiet_after, busy_share = wait_quiet(lab)
        note(f"waited {quiet_after:.0f} s for a quiet lab: its daemons at {busy_share:.0%} of a core")
        check = check_output(lab, args.vips)
        note(f"timing {args.runs} runs of `lbroute vips --json` ...")
        runs = time_cli(lab, args.runs)
        note("timing phases in-process ...")
        phases = time_phases(lab, args.phase_repeats)
    finally:
        if not args.keep:
            lab.down()

    result = {
        "command": "lbroute vips --lab PREFIX --json",
        "goal_seconds": GOAL_SECONDS,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "loadavg_1m_before_after": [round(load[0], 2), round(os.getloadavg()[0], 2)],
        },
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "rib": rib,
        "rib_build_seconds": round(converged, 1),
        "quiet_after_seconds": round(quiet_after, 1),
        "daemons_share_of_a_core_at_start": round(busy_share, 3),
        "check": check,
        "wall": summary([r["wall"] for r in runs]),
        "cpu": summary([r["user"] + r["sys"] for r in runs]),
        "runs": runs,
        "phases": phases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cli_vips.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS / "cli_vips.png")
    note(f"results: {RESULTS / 'cli_vips.json'}, plot: {RESULTS / 'cli_vips.png'}")
    emit({k: result[k] for k in ("rib", "wall", "cpu")}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
