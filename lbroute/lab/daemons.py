"""Command lines and config files of the lab's daemons. Rendering only; ``lab`` runs them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from .topology import ASN, NODE_NET, POD_RANGE, ROUTER_IP, VIP_POOL, Node, Topology, rogue_routes

LAB_MD5_KEY = "lab-md5-key"
WRONG_MD5_KEY = "not-the-lab-key"
METRICS_PORT = 9180

GOBGP_PREFIX = Path(os.environ.get("LBROUTE_GOBGP_PREFIX", "/opt/lbroute/gobgp-3.36.0"))
GOBGPD = GOBGP_PREFIX / "usr/bin/gobgpd"
ZEBRA = Path("/usr/lib/frr/zebra")
EXABGP = Path("/usr/sbin/exabgp")
VENV_BIN = Path(sys.executable).parent


def gobgpd_argv(socket: Path) -> list[str]:
    # gRPC only on a unix socket, no pprof/metrics listener: nothing else opens a port.
    return [str(GOBGPD), "--api-hosts", f"unix://{socket}", "--pprof-disable", "--log-plain", "-l", "info"]


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
) -> dict[str, object]:
    """Dynamic neighbors from the pod range, or (``kube_api``) one MD5 peer per LB pod listed there."""
    group: dict[str, object] = {
        "name": "lb-speakers",
        "timers": {"hold_time": 3, "keepalive": 1},
        "vip_pools": [str(VIP_POOL)],
        "allowed_prefix_lengths": [32],
        "node_networks": [str(NODE_NET)],
        "max_prefixes": 100,
    }
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
        "neighbors": [{"address": ROUTER_IP, "add_path_send_max": 255}],
        "resync_interval": resync,
    }
    if metrics_address:
        out["metrics_address"] = metrics_address
    return out


def router_config(topo: Topology, socket: Path, zserv: Path, resync: float = 5.0) -> dict[str, object]:
    return {
        "role": "router",
        "gobgpd": f"unix://{socket}",
        "asn": ASN,
        "router_id": ROUTER_IP,
        "listen_addresses": [ROUTER_IP],
        # passive: the RR connects as soon as its manager adds us, also right after a restart
        "neighbors": [
            {"address": topo.rr_ip(j), "add_path_receive": True, "passive": True}
            for j in range(1, topo.rrs + 1)
        ],
        "zebra": {"url": f"unix:{zserv}", "version": 6, "software_name": "frr8.2"},
        "resync_interval": resync,
    }


def announcer_config(topo: Topology, node: Node) -> dict[str, object]:
    return {
        "next_hop": node.ip,
        "services": [{"name": s.name, "vips": [s.vip]} for s in topo.services if s.served_by(node.index)],
    }


def exabgp_conf(
    topo: Topology, node: Node, announcer_cfg: Path, *, md5: str = "", rogue: bool = False
) -> str:
    """One neighbor per RR. ``rogue`` adds static routes the RR's guard rails must reject:
    the announcer itself accepts only /32 VIPs, so a bad LB is simulated in exabgp's config."""
    announcer = VENV_BIN / "lbroute-announcer"
    extra = f"    md5-password {md5};\n" if md5 else ""
    if rogue:
        routes = "".join(
            f"        route {p} next-hop {nh};\n" for p, nh in rogue_routes(node.ip, node.pod_ip)
        )
        extra += f"    static {{\n{routes}    }}\n"
    neighbors = []
    for j in range(1, topo.rrs + 1):
        neighbors.append(
            f"""neighbor {topo.rr_ip(j)} {{
    router-id {node.pod_ip};
    local-address {node.pod_ip};
    local-as {ASN};
    peer-as {ASN};
    hold-time 3;
    family {{ ipv4 unicast; }}
{extra}    api {{ processes [ announcer ]; }}
}}
"""
        )
    return f"""process announcer {{
    run {announcer} run --config {announcer_cfg};
    encoder json;
}}

""" + "\n".join(neighbors)


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
    return [str(EXABGP), str(conf)]


def write_yaml(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
