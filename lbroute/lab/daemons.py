"""Command lines and config files of the lab's daemons. Rendering only; ``lab`` runs them."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import yaml

from .scenario import rogue_routes
from .topology import ASN, MAX_LBS, NODE_NET, NODE_NET6, POD_RANGE, ROUTER_IP, VIP_POOLS, Node, Topology

LAB_MD5_KEY = "lab-md5-key"
WRONG_MD5_KEY = "not-the-lab-key"
# each rr manager's metrics, on its own namespace's address
RR_METRICS_PORT = 9180
# (hold time, keepalive) of the router-RR sessions, on both ends and for either router kind
ROUTER_RR_TIMERS = (9, 3)

# the link setup/install-debian-deps.sh points at the gobgpd it installed (4.8 from sid)
GOBGP_PREFIX = Path(os.environ.get("LBROUTE_GOBGP_PREFIX", "/opt/lbroute/gobgp"))
GOBGPD = GOBGP_PREFIX / "usr/bin/gobgpd"
ZEBRA = Path("/usr/lib/frr/zebra")
BFDD = Path("/usr/lib/frr/bfdd")
EXABGP = Path("/usr/sbin/exabgp")
VENV_BIN = Path(sys.executable).parent
# located, not imported: it runs under exabgp's interpreter, not ours
EXABGP_LAUNCHER = str(Path(str(importlib.util.find_spec("announcer").origin)).parent / "exabgp_launcher.py")  # type: ignore[union-attr]


def gobgpd_argv(socket: Path) -> list[str]:
    """gRPC only on a unix socket and no HTTP listener: BGP's port is all gobgpd opens.

    ``--pprof-disable`` alone still leaves gobgpd serving Prometheus metrics (peer data) on
    its pprof host, localhost:6060; an empty ``--metrics-path`` turns that listener off too.
    """
    return [
        str(GOBGPD), "--api-hosts", f"unix://{socket}", "--pprof-disable", "--metrics-path=",
        "--log-plain", "-l", "info",
    ]  # fmt: skip


def zebra_argv(directory: Path) -> list[str]:
    return [
        str(ZEBRA),
        "-f", str(directory / "zebra.conf"),
        "-i", str(directory / "zebra.pid"),
        "-z", str(directory / "zserv.api"),
        "--vty_socket", str(directory),
        "-P", "0",
        "-u", "frr",
        "-g", "frr",
        "--log", f"file:{directory / 'zebra.log'}",
    ]  # fmt: skip


def bfdd_argv(directory: Path) -> list[str]:
    """FRR's bfdd alone, as user frr, everything in the pod's own frr-owned directory: config,
    PID file, vty socket, control socket (else /var/run/frr, shared by every pod), log. It needs
    no zebra for sessions bound to an address (``peer ... local-address``): ``-z`` names a
    socket nobody serves."""
    return [
        str(BFDD),
        "-f", str(directory / "bfdd.conf"),
        "-i", str(directory / "bfdd.pid"),
        "-z", str(directory / "zserv.api"),
        "--vty_socket", str(directory),
        "--bfdctl", str(directory / "bfdd.sock"),
        "-P", "0",
        "-u", "frr",
        "-g", "frr",
        "--log", f"file:{directory / 'bfdd.log'}",
    ]  # fmt: skip


def bfd_config(bfd: tuple[int, int]) -> dict[str, int]:
    """The lab's BFD timers as the rr and announcer configs write them (both ways alike)."""
    interval, multiplier = bfd
    return {
        "transmit_interval_ms": interval,
        "receive_interval_ms": interval,
        "detect_multiplier": multiplier,
    }


def zebra_conf(hostname: str) -> str:
    return f"hostname {hostname}\n"


def rr_config(
    topo: Topology,
    j: int,
    socket: Path,
    resync: float = 5.0,
    *,
    kube_api: str = "",
    md5_file: Path | None = None,
    metrics_address: str | None = None,
    group_overrides: dict[str, object] | None = None,
    graceful_restart: int = 0,
    bfd: tuple[int, int] | None = None,
    router_bfd: tuple[int, int] | None = None,
) -> dict[str, object]:
    """Dynamic neighbors from the pod range, or (``kube_api``) one MD5 peer per LB pod listed there.

    The guard rails name both families' pools and node networks (the lab is dual-stack);
    the sessions carry the families the lab's services need (``Topology.families``).
    ``graceful_restart``: the restart time the RR asks the router to keep its paths for; 0 for none.
    ``bfd``: (interval ms, multiplier) with every LB pod's bfdd (multihop: the pod is behind its
    node); ``router_bfd``: with the router (single hop), None for none.
    """
    group: dict[str, object] = {
        "name": "lb-speakers",
        "timers": {"hold_time": 3, "keepalive": 1},
        "families": list(topo.families),
        "vip_pools": [str(pool) for pool in VIP_POOLS],
        "allowed_prefix_lengths": [32, 128],
        "node_networks": [str(NODE_NET), str(NODE_NET6)],
        "max_prefixes": 100,
        # the lab's VIPs, and no other inside the pools
        "vips": sorted({s.vip for s in topo.services}),
    }
    if bfd:
        group["bfd"] = bfd_config(bfd)
    if kube_api:
        group["kubernetes"] = {"namespace": "lb", "label_selector": "app=lb", "api_server": kube_api}
        group["md5_password_file"] = str(md5_file)
    else:
        group["dynamic_prefixes"] = [str(POD_RANGE)]
    group.update(group_overrides or {})
    out: dict[str, object] = {
        "role": "route-reflector",
        "gobgpd": f"unix://{socket}",
        "asn": ASN,
        "router_id": topo.rr_ip(j),
        "listen_addresses": [topo.rr_ip(j)],
        "speaker_groups": [group],
        # every node the lab can scale to: a speaker names only its own node as next-hop
        "nodes": [
            {"name": f"node{n.index}", "addresses": [n.ip, n.ip6], "pod_cidrs": [n.pod_subnet]}
            for n in (Node(i) for i in range(1, MAX_LBS + 1))
        ],
        # passive towards the router: after a restart of this gobgpd the router reconnects at
        # once (its manager re-arms the dropped peer), sooner than our own connect loop would
        "neighbors": [
            {
                "address": ROUTER_IP,
                "families": list(topo.families),
                "add_path_send_max": 255,
                "passive": True,
                "timers": _router_rr_timers(),
                **({"graceful_restart": {"restart_time": graceful_restart}} if graceful_restart else {}),
                **({"bfd": bfd_config(router_bfd)} if router_bfd else {}),
            }
        ],
        "resync_interval": resync,
    }
    if metrics_address:
        out["metrics_address"] = metrics_address
    return out


def router_config(
    topo: Topology,
    socket: Path,
    zserv: Path,
    resync: float = 5.0,
    *,
    graceful_restart: bool = False,
    metrics_address: str | None = None,
    fib: str = "zebra",
    bfd: tuple[int, int] | None = None,
) -> dict[str, object]:
    """``fib``: zebra writes the FIB, or (``resilient``) the manager does, as resilient groups.
    ``bfd``: with every RR (the lab gives it only with two: with one it would be refused)."""
    per_rr: dict[str, object] = {"graceful_restart": {}} if graceful_restart else {}
    if bfd:
        per_rr["bfd"] = bfd_config(bfd)
    out: dict[str, object] = {
        "role": "router",
        "gobgpd": f"unix://{socket}",
        "asn": ASN,
        "router_id": ROUTER_IP,
        "listen_addresses": [ROUTER_IP],
        # active: the RRs are passive towards us, one side of each session must connect
        "neighbors": [
            {
                "address": topo.rr_ip(j),
                "families": list(topo.families),
                "add_path_receive": True,
                "timers": _router_rr_timers(),
                **per_rr,
            }
            for j in range(1, topo.rrs + 1)
        ],
        **(
            {"zebra": {"url": f"unix:{zserv}", "version": 6, "software_name": "frr8.2"}}
            if fib == "zebra"
            else {"fib": {"mode": fib, **RESILIENT_FIB}}
        ),
        "resync_interval": resync,
    }
    if metrics_address:
        out["metrics_address"] = metrics_address
    return out


# the lab's resilient groups: the defaults but a shorter settle (the lab's RR tables are small)
RESILIENT_FIB = {"buckets": 256, "idle_timer": 60, "unbalanced_timer": 300, "settle_seconds": 2}


def _router_rr_timers() -> dict[str, int]:
    hold, keepalive = ROUTER_RR_TIMERS
    return {"hold_time": hold, "keepalive": keepalive}


# the lab's health check: fall x interval = 0.6 s to detect a failure, with room on a busy machine
CHECK = {"interval": 0.2, "timeout": 0.15, "rise": 3, "fall": 3}
DRAIN_SECONDS = 1.0
# the pods' echo port: long-lived connections for the hold probe (lbroute lab hold)
ECHO_PORT = 7
ANNOUNCER_METRICS_PORT = 9473


def announcer_config(
    topo: Topology,
    node: Node,
    pod_dir: Path,
    *,
    md5_file: Path | None = None,
    graceful_shutdown: bool = False,
    drain_seconds: float | None = None,
    check: dict[str, object] | None = None,
    bfd: tuple[int, int] | None = None,
) -> dict[str, object]:
    """The announcer's config for one LB pod; its ``exabgp`` part renders exabgp.conf too, and
    bfdd.conf when ``bfd`` is given (multihop, to every RR, from the pod's address).

    IPv4 VIPs go out via the node's IPv4 address, IPv6 VIPs via its IPv6 one, both over
    the one IPv4 session to each RR. The ``run`` line is the renderer's default: the
    announcer of the install that renders it (this venv's, or the sidecar image's own) with
    this file, so one config serves both. ``check``: the services' health check (default: the
    responder's /healthz). ``graceful_shutdown``: drain make-before-break (for a router with a
    resilient FIB)."""
    health = check or {"kind": "http", "url": f"http://{node.pod_ip}:80/healthz", **CHECK}
    return {
        "next_hop": node.ip,
        "next_hop6": node.ip6,
        "services": [
            {"name": s.name, "vips": [s.vip], "check": health}
            for s in topo.services
            if s.served_by(node.index)
        ],
        "maintenance_file": str(pod_dir / "maintenance"),
        "control_socket": str(pod_dir / "announcer.sock"),
        "drain_marker": str(pod_dir / "drained"),
        "drain_seconds": DRAIN_SECONDS if drain_seconds is None else drain_seconds,
        "drain_graceful_shutdown": graceful_shutdown,
        # the pod's own address, inside the pod's namespace: never a wildcard in the root namespace
        "metrics": {"address": node.pod_ip, "port": ANNOUNCER_METRICS_PORT},
        "exabgp": {
            "neighbors": [
                {"address": topo.rr_ip(j), **({"md5_password_file": str(md5_file)} if md5_file else {})}
                for j in range(1, topo.rrs + 1)
            ],
            "local_address": node.pod_ip,
            "asn": ASN,
            "hold_time": 3,
            "families": [family.replace("-", " ") for family in topo.families],  # exabgp's spelling
            **({"bfd": bfd_config(bfd)} if bfd else {}),
        },
    }


def render_exabgp_argv(announcer_cfg: Path, output: Path) -> list[str]:
    """The same renderer, and the same writer, a pod runs: ``lbroute-announcer
    render-exabgp-config --output`` (0600, replacing only a file it wrote)."""
    return [
        str(VENV_BIN / "lbroute-announcer"), "render-exabgp-config", str(announcer_cfg),
        "--output", str(output),
    ]  # fmt: skip


def render_bfdd_argv(announcer_cfg: Path, output: Path) -> list[str]:
    """bfdd.conf from the same announcer config, by the command a pod runs."""
    return [
        str(VENV_BIN / "lbroute-announcer"), "render-bfdd-config", str(announcer_cfg),
        "--output", str(output),
    ]  # fmt: skip


def with_rogue_routes(conf: str, node: Node) -> str:
    """exabgp.conf plus static routes the RR's guard rails must reject. The announcer accepts
    only /32 VIPs, so a hostile or misconfigured LB is simulated in exabgp's own config."""
    routes = "".join(f"        route {p} next-hop {nh};\n" for p, nh in rogue_routes(node.ip, node.pod_ip))
    api_line = "    api { processes [ announcer ]; }"
    if api_line not in conf:
        raise ValueError("rendered exabgp.conf has no api line to put the static routes before")
    return conf.replace(api_line, f"    static {{\n{routes}    }}\n{api_line}")


def drain_argv(pod_dir: Path, timeout: float) -> list[str]:
    return [
        str(VENV_BIN / "lbroute-announcer"), "drain", "--socket", str(pod_dir / "announcer.sock"),
        "--timeout", str(timeout),
    ]  # fmt: skip


def exabgp_env() -> dict[str, str]:
    """Run exabgp as root in the foreground, no CLI pipes, logs to its stdout (our log file)."""
    return {
        "exabgp_api_cli": "false",
        "exabgp_daemon_drop": "false",
        "exabgp_daemon_user": "root",
        "exabgp_daemon_daemonize": "false",
        "exabgp_log_destination": "stdout",
        "exabgp_api_ack": "true",
        "LBROUTE_LOG_FORMAT": "json",
    }


def exabgp_argv(conf: Path) -> list[str]:
    """exabgp under the interpreter it is installed for, started by our launcher so that its
    reconnect backoff starts over after every session that came up (announcer/exabgp_launcher.py)."""
    interpreter = EXABGP.read_text().splitlines()[0].removeprefix("#!").split()[0]
    return [interpreter, EXABGP_LAUNCHER, str(conf)]


def yaml_text(data: dict[str, object]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def write_yaml(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml_text(data))
    return path


def write_private(path: Path, text: str) -> Path:
    """A file only its owner can read (an MD5 key, an exabgp.conf holding one): mode 0600 from
    its creation on, never readable by others in between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a file left by an earlier lab keeps its mode; start afresh
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path
