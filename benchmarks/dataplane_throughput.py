"""Benchmark: the seed's comparison (its Figures 4.6-4.7) on the lab — requests/s and the
latency CDF through nft-nat, nft-dsr and a userspace proxy (Debian's nginx), as ratios.

    python -m benchmarks.dataplane_throughput [--prefix dpt] [--rounds 3] [--seconds 8]

One lab: 1 LB pod, 3 backend pods each running nginx (one worker, answering its name, as
the seed's did), the client (wrk, keep-alive, 2 threads, 48 connections) in the router's
namespace. The same path for all three: router -> node -> LB pod. nft-nat and nft-dsr are
the LB pod's controller with that driver (restarted in between, realservers on the
backends throughout); the proxy is nginx in the LB pod on the VIP's port 8080 (the data
plane's rules match port 80 only), keep-alive to the same backends. The three take turns
``rounds`` times, ``seconds`` each (bounded by time; only lab addresses). Writes
``benchmarks/results/dataplane_throughput.json`` and ``dataplane_throughput.png``.
On 2 shared cores, where client, router, LB and backends all run, absolute numbers say
little; the ratios from one run are the point.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.report import add_json, emit, new_parser, note
from lbroute import logs
from lbroute.core.dataplane import parse_status
from lbroute.kernel.ip import netns_exec
from lbroute.lab import configs, daemons
from lbroute.lab.dataplane import Backends, controller_config, web_ip, web_name
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.state import DEFAULT_STATE_ROOT
from lbroute.lab.topology import Node, Topology
from lbroute.polling import eventually

RESULTS = Path(__file__).parent / "results"
VIP = "10.1.1.1"
PROXY_PORT = 8080
MODES = ("nginx proxy", "nft-nat", "nft-dsr")
COLOURS = {"nginx proxy": "tab:gray", "nft-nat": "tab:blue", "nft-dsr": "tab:orange"}
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"

WRK_SCRIPT = Path(__file__).parent / "dataplane_wrk.lua"  # prints percentiles 1-99, 99.5, 99.9


def nginx_conf(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process on;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{body}
}}
"""
    )
    return conf


def start_nginx(lab: Lab, name: str, netns: str, body: str) -> None:
    directory = lab.dir / "nginx" / name
    conf = nginx_conf(directory, body)
    argv = [NGINX, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)]
    lab.supervisor.spawn(name, argv, netns)


def backends_to_nginx(lab: Lab, backends: int) -> None:
    """Each backend's Python server gives way to nginx on the same port, answering its name."""
    for k in range(1, backends + 1):
        lab.supervisor.stop(f"web-{web_name(k)}", forget=True)
        body = f'    server {{ listen 80 backlog=4096; location / {{ return 200 "{web_name(k)}\\n"; }} }}'
        start_nginx(lab, f"nginx-{web_name(k)}", f"{lab.prefix}-{web_name(k)}", body)


def proxy_in_lb(lab: Lab, backends: int) -> None:
    servers = "\n".join(f"        server {web_ip(k)}:80;" for k in range(1, backends + 1))
    body = f"""    upstream web {{
{servers}
        keepalive 64;
    }}
    server {{
        listen {VIP}:{PROXY_PORT} backlog=4096;
        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""
    start_nginx(lab, "nginx-proxy-lb1", lab.topology.lb_ns(1), body)


def use_driver(lab: Lab, driver: str, backends: int) -> None:
    """Restart lb1's controller with ``driver``; wait until its kernel holds that table."""
    room = lab.dataplane
    assert room is not None
    node, lb_dir = Node(1), configs.pod_dir(lab.dir, Node(1))
    lab.supervisor.stop("dataplane-lb1", forget=True)
    config = controller_config(lab.topology, node, lb_dir, driver, Backends(tuple(range(1, backends + 1))))
    daemons.write_yaml(lb_dir / "dataplane.yaml", config)
    room.start_pod(node, lb_dir)

    def loaded() -> None:
        status = parse_status((lb_dir / "dataplane.json").read_text())
        assert status.driver == driver and status.in_sync, status

    eventually(loaded, 20, what=f"lb1 on {driver}", context=lab.logs_tail)


def answering(lab: Lab, port: int) -> None:
    """Until the VIP answers on ``port`` from the router's namespace (one short wrk)."""

    def check() -> None:
        argv = netns_exec(lab.topology.router_ns, WRK, "-t1", "-c1", "-d1s", f"http://{VIP}:{port}/")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and "Non-2xx" not in done.stdout, (done.stdout + done.stderr)[-200:]

    eventually(check, 60, interval=0.5, what=f"the VIP answering on port {port}", context=lab.logs_tail)


def wrk(lab: Lab, port: int, seconds: int, script: Path) -> dict[str, Any]:
    answering(lab, port)
    url = f"http://{VIP}:{port}/"
    argv = netns_exec(lab.topology.router_ns, WRK, "-t2", "-c48", f"-d{seconds}s", "-s", str(script), url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk on port {port} failed: {(done.stdout + done.stderr)[-300:]}")
    out = done.stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    per_round = {
        m: [r["rps"] / b["rps"] for r, b in zip(results[m], results["nginx proxy"], strict=True)]
        for m in MODES
    }
    ratios = [statistics.median(per_round[m]) for m in MODES]
    low = [r - min(per_round[m]) for r, m in zip(ratios, MODES, strict=True)]
    high = [max(per_round[m]) - r for r, m in zip(ratios, MODES, strict=True)]
    left.bar(MODES, ratios, yerr=[low, high], capsize=4, color=[COLOURS[m] for m in MODES])
    for i, v in enumerate(ratios):
        left.text(i + 0.08, v + 0.02, f"{v:.2f}x", ha="left")
    left.set_ylabel("requests/s relative to the nginx proxy\n(median of per-round ratios; min-max)")
    left.set_title("Throughput (cf. seed Fig. 4.6)")
    for mode in MODES:
        best = sorted(results[mode], key=lambda r: r["rps"])[len(results[mode]) // 2]  # the median round
        ps = sorted((float(p), us / 1000) for p, us in best["percentiles_us"].items())
        right.plot([ms for _, ms in ps], [p / 100 for p, _ in ps], label=mode, color=COLOURS[mode])
    right.set_xscale("log")
    right.set_xlabel("latency (ms, log scale), at full load")
    right.set_ylabel("fraction of requests")
    right.set_title("Latency CDF, median round (cf. seed Fig. 4.7)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = new_parser("dataplane_throughput", __doc__)
    parser.add_argument("--prefix", default="dpt")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--backends", type=int, default=3)
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the last results")
    add_json(parser)
    args = parser.parse_args(argv)
    if args.plot_only:
        saved = json.loads((RESULTS / "dataplane_throughput.json").read_text())
        plot(saved["runs"], RESULTS / "dataplane_throughput.png")
        return 0
    logs.configure("warning")
    lab = Lab(args.prefix, DEFAULT_STATE_ROOT)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    started = time.monotonic()
    try:
        lab.up(Topology(args.prefix, 1), Scenario(dataplane="nft-dsr", backends=args.backends), timeout=60)
        backends_to_nginx(lab, args.backends)
        proxy_in_lb(lab, args.backends)
        script = WRK_SCRIPT
        driver = "nft-dsr"
        for _ in range(args.rounds):
            for mode in MODES:
                if mode != "nginx proxy" and mode != driver:
                    use_driver(lab, mode, args.backends)
                    driver = mode
                result = wrk(lab, PROXY_PORT if mode == "nginx proxy" else 80, args.seconds, script)
                results[mode].append(result)
                p50 = result["percentiles_us"]["50"] / 1000
                note(
                    f"{mode}: {result['rps']:.0f} req/s, p50 {p50:.2f} ms, errors {result['errors']}",
                )
    finally:
        lab.down()
    # each round's three runs are adjacent in time and share the machine's load: ratios per round
    per_round = {
        m: [r["rps"] / base["rps"] for r, base in zip(results[m], results["nginx proxy"], strict=True)]
        for m in MODES
    }
    summary = {
        m: {
            "rps_median": round(statistics.median(r["rps"] for r in results[m])),
            "rps_ratio_to_nginx": round(statistics.median(per_round[m]), 3),
            "rps_ratio_to_nginx_per_round": [round(x, 3) for x in per_round[m]],
            "p50_ms_median": round(
                statistics.median(r["percentiles_us"]["50"] for r in results[m]) / 1000, 3
            ),
            "p99_ms_median": round(
                statistics.median(r["percentiles_us"]["99"] for r in results[m]) / 1000, 3
            ),
            "errors": sum(r["errors"] for r in results[m]),
        }
        for m in MODES
    }
    out = {
        "rounds": args.rounds,
        "seconds_each": args.seconds,
        "client": "wrk -t2 -c48 (keep-alive) in the router's namespace",
        "lbs": 1,
        "backends": args.backends,
        "summary": summary,
        "runs": results,
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dataplane_throughput.json").write_text(json.dumps(out, indent=1) + "\n")
    plot(results, RESULTS / "dataplane_throughput.png")
    emit(summary, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
