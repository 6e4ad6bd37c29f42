"""N LB speakers x M VIPs through the RR manager's gobgpd to a converged router FIB.

How many speakers fit on 2 shared cores: one *speaker farm* namespace on the lab's bridge
holds N source addresses (172.16.200.1..N, inside the RR's dynamic-neighbor range). A few
exabgp processes (``--farm-processes``, default 2: one per core) each run N/P neighbor
blocks, one per address, each announcing the same M VIPs with its own next-hop
(10.0.0.11..). To the RR they are N distinct speakers; to the router every VIP has N
next-hops. The RR and the router are the lab's real gobgpd + zebra, configured by the real
``lbroute-rr run`` managers, guard rails included.

Measured per run, from the moment the farm starts: all N sessions established at the RR,
and the router's kernel FIB holding M VIP routes with N next-hops each. Then the resident
memory (VmRSS) of both gobgpds and zebra.

    python -m benchmarks.rr_scale --runs 16x250,32x500,64x1000
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.report import add_json, emit, new_parser, note
from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import ASN, Node, Topology
from lbroute.polling import eventually

HERE = Path(__file__).parent
RESULTS = HERE / "results"
FARM_NET = ipaddress.ip_network("172.16.200.0/24")
FARM_IP = "10.0.0.200"
PREFIX = "h4bench"


def vips(m: int) -> list[str]:
    base = int(ipaddress.ip_address("10.1.0.1"))
    return [f"{ipaddress.ip_address(base + k)}/32" for k in range(m)]


def farm_conf(speakers: list[int], m: int) -> str:
    """exabgp config: one neighbor block per speaker address, each with M static routes."""
    routes = vips(m)
    blocks = []
    for i in speakers:
        local = str(FARM_NET.network_address + i)
        nh = Node(i).ip
        lines = "".join(f"        route {r} next-hop {nh};\n" for r in routes)
        blocks.append(
            f"""neighbor 10.0.0.2 {{
    router-id {local};
    local-address {local};
    local-as {ASN};
    peer-as {ASN};
    hold-time 30;
    family {{ ipv4 unicast; }}
    static {{
{lines}    }}
}}
"""
        )
    return "\n".join(blocks)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def converged_fib(lab: Lab, n: int, m: int) -> None:
    routes = [r for r in read_fib(lab.topology.router_ns) if r.prefix.startswith("10.1.")]
    full = sum(1 for r in routes if len(r.next_hops) == n)
    assert full == m, f"{full} of {m} VIP routes have {n} next-hops ({len(routes)} VIP routes)"


def run_one(n: int, m: int, processes: int, timeout: float) -> dict[str, Any]:
    lab = Lab(PREFIX)
    lab.down()  # a crashed earlier run leaves nothing in the way
    try:
        # speaker timers longer than the lab's 3 s: a busy exabgp must not miss keepalives
        lab.up(Topology(PREFIX, 0), Scenario(speaker_timers=(30, 10), max_prefixes=m + 10))
        farm = lab.add_namespace("node200", f"{FARM_IP}/24")
        for i in range(1, n + 1):
            ip("addr", "add", f"{FARM_NET.network_address + i}/32", "dev", "eth0", netns=farm)
        ip("route", "add", str(FARM_NET), "via", FARM_IP, netns=lab.topology.rr_ns(1))
        groups = [list(range(1 + k, n + 1, processes)) for k in range(processes)]
        started = time.monotonic()
        for k, group in enumerate(groups):
            conf = lab.dir / f"farm{k}.conf"
            conf.write_text(farm_conf(group, m))
            lab.supervisor.spawn(
                f"exabgp-farm{k}", daemons.exabgp_argv(conf), farm, env=daemons.exabgp_env(), cwd=lab.dir
            )
        with GobgpClient(str(lab.socket("rr"))) as rr:

            def sessions() -> None:
                up = sum(
                    1
                    for s in rr.list_sessions("rr", advertised=False)
                    if s.established and s.neighbor.startswith("172.16.200.")
                )
                assert up == n, f"{up} of {n} speakers established"

            eventually(sessions, timeout, interval=0.2, what="speaker sessions", context=lab.logs_tail)
            t_sessions = time.monotonic() - started
        eventually(lambda: converged_fib(lab, n, m), timeout, interval=0.5, what="router FIB")
        t_fib = time.monotonic() - started
        procs = lab.state.processes
        result = {
            "speakers": n,
            "vips": m,
            "paths": n * m,
            "farm_processes": processes,
            "seconds_to_sessions": round(t_sessions, 2),
            "seconds_to_fib": round(t_fib, 2),
            "rss_kib": {
                "gobgpd_rr": rss_kib(procs["gobgpd-rr"].pid),
                "gobgpd_router": rss_kib(procs["gobgpd-router"].pid),
                "zebra": rss_kib(procs["zebra"].pid),
                "exabgp_farm": sum(rss_kib(procs[f"exabgp-farm{k}"].pid) for k in range(processes)),
            },
        }
        note(json.dumps(result))
        return result
    finally:
        lab.down()


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["paths"])
    labels = [f"{r['speakers']}x{r['vips']}" for r in results]
    x = [r["paths"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(x, [r["seconds_to_fib"] for r in results], "o-", label="router FIB converged")
    left.plot(x, [r["seconds_to_sessions"] for r in results], "s--", label="all speaker sessions up")
    left.set_xlabel("paths at the RR (speakers x VIPs)")
    left.set_ylabel("seconds from speaker start")
    left.set_title("time to converge")
    right.plot(x, [r["rss_kib"]["gobgpd_rr"] / 1024 for r in results], "o-", label="gobgpd (RR)")
    right.plot(x, [r["rss_kib"]["gobgpd_router"] / 1024 for r in results], "s-", label="gobgpd (router)")
    right.plot(x, [r["rss_kib"]["zebra"] / 1024 for r in results], "^-", label="zebra (router)")
    right.set_xlabel("paths at the RR (speakers x VIPs)")
    right.set_ylabel("resident memory, MiB")
    right.set_title("memory after convergence")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
        for xi, label in zip(x, labels, strict=True):
            ax.annotate(label, (xi, 0), textcoords="offset points", xytext=(0, 4), fontsize=7, ha="center")
    fig.suptitle("lbroute RR: N speakers x M VIPs (2 shared cores, one run each)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def runs(text: str) -> list[tuple[int, int]]:
    """``16x250,64x1000`` -> [(16, 250), (64, 1000)]: speakers x VIPs, each at least 1."""
    try:
        pairs = [tuple(int(v) for v in spec.split("x")) for spec in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: give SPEAKERSxVIPS runs such as 16x250,64x1000")
    return [(p[0], p[1]) for p in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("scale", __doc__)
    parser.add_argument("--runs", type=runs, default="16x250,32x500,64x1000", help="comma-separated NxM")
    parser.add_argument("--farm-processes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    add_json(parser)
    args = parser.parse_args(argv)
    results = []
    for n, m in args.runs:
        results.append(run_one(n, m, args.farm_processes, args.timeout))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rr_scale.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / "rr_scale.png")
    emit(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
