"""The lab's config files on disk, all written before the first namespace or daemon exists.

Every pod's exabgp.conf (and bfdd.conf) is written by the real ``lbroute-announcer
render-exabgp-config --output`` (``render-bfdd-config``) over the config it will run with, so
a service the announcer would refuse stops ``lab up`` here, with nothing built, and the file
is what a pod's would be (0600).
Files holding an MD5 key are written 0600.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import daemons, dataplane, frr_router
from .errors import LabError
from .scenario import Scenario
from .topology import ROUTER_IP, Node, Topology


def gobgp_socket(directory: Path, who: str) -> Path:
    """The API socket of the gobgpd ``who`` (router, rr, rr2) of the lab in ``directory``."""
    return directory / who / "gobgp.sock"


@dataclass(frozen=True)
class CoreFiles:
    router_dir: Path  # zebra's own directory (and bgpd's, for the frr router), owned by frr
    router_config: Path  # the router's lbroute-rr config (gobgp) or its frr.conf (frr)
    rr_configs: dict[str, Path]  # rr, rr2 -> the manager's config

    @property
    def zserv(self) -> Path:
        return self.router_dir / "zserv.api"


def write_core(directory: Path, topo: Topology, scenario: Scenario) -> CoreFiles:
    """zebra's directory and config, the router's config (of its kind) and every RR manager's."""
    router_dir = directory / "router"
    router_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(router_dir, "frr", "frr")
    (router_dir / "zebra.conf").write_text(daemons.zebra_conf(f"{topo.prefix}-router"))
    shutil.chown(router_dir / "zebra.conf", "frr", "frr")
    config = directory / "config"
    if scenario.router == "frr":
        router_config = frr_router.write_frr_conf(router_dir, topo, scenario)
    else:
        router_config = daemons.write_yaml(
            config / "router.yaml", router_config_of(directory, topo, scenario)
        )
    if scenario.kube_api:
        daemons.write_private(_md5_file(directory), daemons.LAB_MD5_KEY + "\n")
    rr_configs = {}
    for j in range(1, topo.rrs + 1):
        who = topo.rr_name(j)
        (directory / who).mkdir(parents=True, exist_ok=True)
        rr_configs[who] = daemons.write_yaml(
            config / f"{who}.yaml", rr_config_of(directory, topo, scenario, j)
        )
    return CoreFiles(router_dir, router_config, rr_configs)


def router_config_of(directory: Path, topo: Topology, scenario: Scenario) -> dict[str, object]:
    """The gobgp router's lbroute-rr config, for the lab in ``directory`` (docs/routers.md shows it)."""
    return daemons.router_config(
        topo,
        gobgp_socket(directory, "router"),
        directory / "router" / "zserv.api",
        graceful_restart=bool(scenario.graceful_restart),
        metrics_address=f"{ROUTER_IP}:{daemons.RR_METRICS_PORT}",
        bfd=scenario.router_bfd(topo),
        fib=scenario.fib,
    )


def rr_config_of(directory: Path, topo: Topology, scenario: Scenario, j: int) -> dict[str, object]:
    """RR ``j``'s lbroute-rr config, for the lab in ``directory``."""
    return daemons.rr_config(
        topo,
        j,
        gobgp_socket(directory, topo.rr_name(j)),
        kube_api=scenario.kube_api,
        md5_file=_md5_file(directory),
        # metrics inside the RR's namespace, on its own address; in explicit-peer mode the
        # manager runs in the root namespace to reach the API server on loopback: no metrics
        metrics_address=None if scenario.kube_api else f"{topo.rr_ip(j)}:{daemons.RR_METRICS_PORT}",
        group_overrides=scenario.group_overrides(),
        graceful_restart=scenario.graceful_restart or 0,
        bfd=scenario.bfd,
        router_bfd=scenario.router_bfd(topo),
    )


def _md5_file(directory: Path) -> Path:
    return directory / "config" / "lb-md5.key"


def pod_dir(directory: Path, node: Node) -> Path:
    return directory / f"lb{node.index}"


def bfdd_dir(directory: Path, node: Node) -> Path:
    """The pod's bfdd's own directory (owned by frr, as bfdd runs): config, sockets, PID, log."""
    return pod_dir(directory, node) / "bfdd"


def write_pods(directory: Path, topo: Topology, scenario: Scenario, nodes: tuple[Node, ...]) -> None:
    """Every pod's announcer.yaml, MD5 key and exabgp.conf; the renders run side by side."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(write_pod, directory, topo, scenario, node) for node in nodes]:
            future.result()


def write_pod(directory: Path, topo: Topology, scenario: Scenario, node: Node) -> Path:
    """One pod's files; returns its exabgp.conf."""
    lb_dir = pod_dir(directory, node)
    lb_dir.mkdir(parents=True, exist_ok=True)
    for leftover in ("health", "maintenance", "drained", "dataplane.json"):
        (lb_dir / leftover).unlink(missing_ok=True)  # a scale back up is a new pod
    md5_file = None
    if scenario.kube_api:  # explicit-peer mode: every session needs the key, some get a wrong one
        key = daemons.WRONG_MD5_KEY if scenario.md5_key_is_wrong(node.index) else daemons.LAB_MD5_KEY
        md5_file = daemons.write_private(lb_dir / "md5.key", key + "\n")
    check = None
    if scenario.dataplane:
        # the data plane's own status gates the announcer (lbroute.lab.dataplane)
        check = dataplane.announcer_check(lb_dir)
        dataplane.write_pod_config(directory, topo, node, lb_dir, scenario.dataplane, scenario.backends)
    announcer_yaml = daemons.write_yaml(
        lb_dir / "announcer.yaml",
        daemons.announcer_config(
            topo,
            node,
            lb_dir,
            md5_file=md5_file,
            graceful_shutdown=scenario.fib == "resilient",
            drain_seconds=scenario.drain_seconds,
            check=check,
            bfd=scenario.bfd,
        ),
    )
    conf = lb_dir / "exabgp.conf"
    _render(daemons.render_exabgp_argv(announcer_yaml, conf), announcer_yaml, node)
    if scenario.bfd:
        bfdd = bfdd_dir(directory, node)
        bfdd.mkdir(exist_ok=True)
        shutil.chown(bfdd, "frr", "frr")
        _render(daemons.render_bfdd_argv(announcer_yaml, bfdd / "bfdd.conf"), announcer_yaml, node)
        # written 0600 like every rendered file; bfdd reads it as user frr
        shutil.chown(bfdd / "bfdd.conf", "frr", "frr")
    if node.index == scenario.rogue_lb:  # the header stays: a later render still knows the file
        daemons.write_private(conf, daemons.with_rogue_routes(conf.read_text(), node))
    return conf


def _render(argv: list[str], announcer_yaml: Path, node: Node) -> None:
    """Run one of the announcer's renderers; its refusal stops the lab before anything exists."""
    rendered = subprocess.run(argv, capture_output=True, text=True, check=False)
    if rendered.returncode != 0:
        # its own lines, one per problem; cut, in case one echoes a huge value whole
        lines = [line.removeprefix(f"{announcer_yaml}: ") for line in rendered.stderr.strip().splitlines()]
        problems = "; ".join(line[:300] for line in lines[-5:] if line)
        raise LabError(f"lbroute-announcer refused lb{node.index}'s config: {problems}")
