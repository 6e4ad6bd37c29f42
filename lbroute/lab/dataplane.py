"""The lab's data plane: the seed's whole system. Backend (web) pods behind a node of their
own, ``lbroute-dataplane`` in every LB pod, ``lbroute-realserver`` on every backend under
nft-dsr; the client (the lab's client namespace, or the router's own) -> the router's ECMP
route -> LB pods -> backends, and under nft-dsr the backends' answers straight back.

    router 10.0.0.1 ── bridge ── node i 10.0.0.(10+i) ── LB pod i 172.16.i.2
                            └── web node 10.0.0.100 ──── backend k 172.16.200.(10+k)

Backends are configured statically in each LB's and backend's config (as the seed's
controller wrote keepalived's): ``set_backends`` rewrites them and sends SIGHUP, and waits
until every LB's kernel holds the new table. The current set is in ``dataplane/backends.json``
in the lab's directory. Every namespace is recorded before it is created, every process
by the supervisor, so ``lab down`` removes them all.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from lbroute.core import maglev
from lbroute.core.dataplane import LB_TABLE, NFT_FAMILY, Status, StatusUnreadable, buckets_map, parse_status
from lbroute.kernel.ip import ip, sysctl
from lbroute.kernel.nft import Nft
from lbroute.polling import eventually

from . import daemons, processes
from .errors import LabError
from .network import add_namespace, attach_to_bridge, delete_namespace, veth
from .supervision import Supervisor
from .topology import CLIENT_NET, POD_RANGE, ROUTER_IP, Node, Topology

log = structlog.get_logger()

DRIVERS = ("nft-nat", "nft-dsr")
MAX_BACKENDS = 40
WEB_NODE_IP = "10.0.0.100"
WEB_SUBNET = "172.16.200.0/24"
WEB_GATEWAY = "172.16.200.1"
TABLE_SIZE = 4093
SEED = 0x5EED
RESYNC = 1.0
STATUS_MAX_AGE = 10.0  # a controller restart (use_driver, an upgrade) takes seconds on a loaded machine
METRICS_PORT = 9474
DSCP_BASE = 10
SERVICE_PORT = 80  # every service's; the backends answer HTTP and echo lines on it (``web``)


def web_ip(k: int) -> str:
    return f"172.16.200.{10 + k}"


def web_name(k: int) -> str:
    return f"web{k}"


def service_name(lab_service: str) -> str:
    """The data plane's name for a lab service: an nft identifier."""
    name = "".join(c if c.isalnum() else "_" for c in lab_service.lower())
    return name if name[:1].isalpha() else f"s{name}"


@dataclass(frozen=True)
class Backends:
    ready: tuple[int, ...]
    draining: tuple[int, ...] = ()

    @property
    def all(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.ready) | set(self.draining)))

    def addresses(self) -> list[str]:
        return [web_ip(k) for k in self.ready]

    def table(self) -> tuple[str, ...]:
        """The Maglev table every LB must hold for these backends."""
        return maglev.table(self.addresses(), TABLE_SIZE, SEED)


def _services(topo: Topology, backends: Backends) -> list[dict[str, Any]]:
    return [
        {
            "name": service_name(s.name),
            "vip": s.vip.split("/")[0],
            "port": SERVICE_PORT,
            "dscp": DSCP_BASE + i,
            "backends": backends.addresses(),
            "draining": [web_ip(k) for k in backends.draining],
        }
        for i, s in enumerate(topo.services)
    ]


def controller_config(
    topo: Topology, node: Node, lb_dir: Path, driver: str, backends: Backends
) -> dict[str, Any]:
    return {
        "driver": driver,
        "pod_networks": [str(POD_RANGE)],
        "maglev": {"table_size": TABLE_SIZE, "seed": SEED},
        "flow_timeout": 120,
        "services": _services(topo, backends),
        "status_file": str(lb_dir / "dataplane.json"),
        "resync_interval": RESYNC,
        # inside the pod's namespace, on the pod's own address
        "metrics": {"address": node.pod_ip, "port": METRICS_PORT},
    }


def realserver_config(
    topo: Topology, k: int, backends: Backends, *, second_chance: bool = True
) -> dict[str, Any]:
    return {
        "address": web_ip(k),
        "second_chance": second_chance,
        "pod_networks": [str(POD_RANGE)],
        "maglev": {"table_size": TABLE_SIZE, "seed": SEED},
        "services": _services(topo, backends),
        "resync_interval": RESYNC,
        "metrics": {"address": web_ip(k), "port": 0},
    }


def announcer_check(lb_dir: Path) -> dict[str, Any]:
    """The announcer's check in a data-plane lab: the controller's status, as often as the
    lab's HTTP check probes."""
    return {"kind": "dataplane", "status_file": str(lb_dir / "dataplane.json"), "max_age": STATUS_MAX_AGE,
            **daemons.CHECK}  # fmt: skip


def current_backends(directory: Path, initial: int) -> Backends:
    """The lab's backends now (``dataplane/backends.json``), or the first ``initial`` of them."""
    path = directory / "dataplane" / "backends.json"
    if not path.exists():
        return Backends(tuple(range(1, initial + 1)))
    raw = json.loads(path.read_text())
    return Backends(tuple(raw["ready"]), tuple(raw.get("draining", ())))


def write_pod_config(
    directory: Path, topo: Topology, node: Node, lb_dir: Path, driver: str, initial: int
) -> Path:
    """An LB pod's ``dataplane.yaml``, written with the rest of its files before it starts."""
    backends = current_backends(directory, initial)
    return daemons.write_yaml(
        lb_dir / "dataplane.yaml", controller_config(topo, node, lb_dir, driver, backends)
    )


class DataplaneRoom:
    """The data-plane part of one lab: its directory, its namespaces and processes."""

    def __init__(
        self,
        directory: Path,
        topo: Topology,
        driver: str,
        supervisor: Supervisor,
        record: Callable[[str], None],
    ) -> None:
        if driver not in DRIVERS:
            raise LabError(f"data plane {driver!r}: one of {', '.join(DRIVERS)}")
        self.dir = directory / "dataplane"
        self.lab_dir = directory
        self.topo = topo
        self.driver = driver
        self.supervisor = supervisor
        self.record = record

    # --- what there is -------------------------------------------------------------------------

    @property
    def web_node_ns(self) -> str:
        return f"{self.topo.prefix}-webnode"

    def web_ns(self, k: int) -> str:
        return f"{self.topo.prefix}-web{k}"

    def backends(self) -> Backends:
        return current_backends(self.lab_dir, 0)

    def _save(self, backends: Backends) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "backends.json.tmp"
        tmp.write_text(json.dumps({"ready": list(backends.ready), "draining": list(backends.draining)}))
        tmp.replace(self.dir / "backends.json")

    # --- files ---------------------------------------------------------------------------------

    def write_pod(self, node: Node, lb_dir: Path, backends: Backends | None = None) -> Path:
        return daemons.write_yaml(
            lb_dir / "dataplane.yaml",
            controller_config(self.topo, node, lb_dir, self.driver, backends or self.backends()),
        )

    def _write_backend(self, k: int, backends: Backends) -> Path:
        config = realserver_config(self.topo, k, backends, second_chance=self.second_chance)
        return daemons.write_yaml(self.dir / f"{web_name(k)}.yaml", config)

    @property
    def second_chance(self) -> bool:
        return not (self.dir / "no-second-chance").exists()

    def set_second_chance(self, on: bool) -> None:
        """Turn the backends' second chance on or off (nft-dsr), for a test of what it does."""
        flag = self.dir / "no-second-chance"
        if on:
            flag.unlink(missing_ok=True)
        else:
            flag.write_text("the backends pass on no packet (lbroute.lab.dataplane)\n")
        backends = self.backends()
        for k in backends.all:
            self._write_backend(k, backends)
            self._reload(f"realserver-{web_name(k)}")

    # --- building ------------------------------------------------------------------------------

    def build(self, count: int) -> None:
        """The web node on the bridge, ``count`` backends behind it, routes both ways."""
        add_namespace(self.web_node_ns, self.record)
        attach_to_bridge(self.topo, self.web_node_ns, "webnode", f"{WEB_NODE_IP}/24")
        sysctl(self.web_node_ns, "net.ipv4.ip_forward", "1")
        # the backends' direct answers (nft-dsr) to the client namespace go back to the router
        ip("route", "add", str(CLIENT_NET), "via", ROUTER_IP, netns=self.web_node_ns)
        for node in self.topo.nodes:
            self.node_added(node)
        backends = Backends(tuple(range(1, count + 1)))
        self._save(backends)
        for k in backends.ready:
            self._build_backend(k)
            self._start_backend(k, backends)

    def node_added(self, node: Node) -> None:
        """A node (new at ``up`` or ``scale``) and the web node reach each other's pods."""
        ip("route", "replace", WEB_SUBNET, "via", WEB_NODE_IP, netns=f"{self.topo.prefix}-node{node.index}")
        ip("route", "replace", node.pod_subnet, "via", node.ip, netns=self.web_node_ns)

    def _build_backend(self, k: int) -> None:
        ns = self.web_ns(k)
        add_namespace(ns, self.record)
        veth(self.web_node_ns, web_name(k), ns, "eth0")
        ip("addr", "add", f"{WEB_GATEWAY}/32", "dev", web_name(k), netns=self.web_node_ns)
        ip("link", "set", web_name(k), "up", netns=self.web_node_ns)
        ip("route", "add", f"{web_ip(k)}/32", "dev", web_name(k), netns=self.web_node_ns)
        ip("addr", "add", f"{web_ip(k)}/32", "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)
        # every packet, to another backend too (the second chance), goes through the web node
        ip("route", "add", "default", "via", WEB_GATEWAY, "dev", "eth0", "onlink", netns=ns)

    def _start_backend(self, k: int, backends: Backends) -> None:
        ns = self.web_ns(k)
        argv = [
            str(daemons.VENV_BIN / "python"),
            "-m",
            "lbroute.lab.web",
            "--name",
            web_name(k),
            "--port",
            str(SERVICE_PORT),
        ]
        self.supervisor.spawn(f"web-{web_name(k)}", argv, ns)
        if self.driver == "nft-dsr":
            config = self._write_backend(k, backends)
            argv = [str(daemons.VENV_BIN / "lbroute-realserver"), "run", "--config", str(config)]
            self.supervisor.spawn(f"realserver-{web_name(k)}", argv, ns, env={"LBROUTE_LOG_FORMAT": "json"})

    def start_pod(self, node: Node, lb_dir: Path) -> None:
        argv = [
            str(daemons.VENV_BIN / "lbroute-dataplane"),
            "run",
            "--config",
            str(lb_dir / "dataplane.yaml"),
        ]
        self.supervisor.spawn(
            f"dataplane-lb{node.index}", argv, self.topo.lb_ns(node.index), env={"LBROUTE_LOG_FORMAT": "json"}
        )

    # --- changing the backends -----------------------------------------------------------------

    def set_backends(self, backends: Backends, lb_dirs: dict[int, Path], timeout: float = 30.0) -> None:
        """Make ``backends`` the set: new backends built and started first, every LB's and
        backend's config rewritten and reloaded (SIGHUP), then backends no longer listed ended
        and removed once every LB's kernel holds the new table."""
        if not backends.all or any(not 1 <= k <= MAX_BACKENDS for k in backends.all):
            raise LabError(f"backends: at least one, among web1..web{MAX_BACKENDS}")
        before = self.backends()
        for k in backends.all:
            if k not in before.all:
                self._build_backend(k)
                self._start_backend(k, backends)
        self._save(backends)
        for node in self.topo.nodes:
            self.write_pod(node, lb_dirs[node.index], backends)
            self._reload(f"dataplane-lb{node.index}")
        for k in backends.all:
            # one just started has the new config already (and a SIGHUP before its handler is
            # in place would end it)
            if self.driver == "nft-dsr" and k in before.all:
                self._write_backend(k, backends)
                self._reload(f"realserver-{web_name(k)}")
        self.wait_tables(backends, timeout, lb_dirs)
        for k in before.all:
            if k not in backends.all:
                self._remove_backend(k)
        log.info("lab.backends", count=len(backends.ready), target=",".join(map(str, backends.ready)))

    def _reload(self, name: str) -> None:
        """SIGHUP to the process recorded as ``name``, if it still is that process."""
        record = self.supervisor.records.get(name)
        if record is None or not processes.is_alive(record):
            raise LabError(f"{name} is not running in the lab")
        os.kill(record.pid, signal.SIGHUP)

    def _remove_backend(self, k: int) -> None:
        for name in (f"realserver-{web_name(k)}", f"web-{web_name(k)}"):
            self.supervisor.stop(name, forget=True)
        ip("link", "del", web_name(k), netns=self.web_node_ns, check=False)
        delete_namespace(self.web_ns(k))

    def kill_backend(self, k: int) -> None:
        """The backend's server dies (SIGKILL): its connections end, the tables do not change."""
        self.supervisor.stop(f"web-{web_name(k)}", sig=signal.SIGKILL, grace=2.0)

    # --- what the LBs hold ---------------------------------------------------------------------

    def status(self, lb_dir: Path) -> Status | None:
        path = lb_dir / "dataplane.json"
        try:
            return parse_status(path.read_text())
        except (OSError, StatusUnreadable):
            return None

    def kernel_buckets(self, lb: int, service: str = "web") -> tuple[str, ...] | None:
        """The Maglev table LB ``lb``'s kernel holds, read with nft (not from any status)."""
        nft = Nft(netns=self.topo.lb_ns(lb))
        observed = nft.read(NFT_FAMILY, LB_TABLE, [buckets_map(service)])
        found = observed.map(buckets_map(service)) if observed else None
        if found is None or found.elements is None:
            return None
        return tuple(address for _, address in sorted(found.elements))

    def wait_tables(self, backends: Backends, timeout: float, lb_dirs: dict[int, Path]) -> None:
        """Until every LB's kernel holds the table of ``backends`` (with none ready: until every
        LB's status says so; the kernel keeps the last table then)."""
        want = backends.table()
        name = service_name(self.topo.services[0].name)

        def check() -> None:
            for lb, lb_dir in sorted(lb_dirs.items()):
                if not backends.ready:
                    status = self.status(lb_dir)
                    service = status.service(name) if status else None
                    assert service is not None and service.ready == 0, f"lb{lb} still has ready backends"
                    continue
                held = self.kernel_buckets(lb, name)
                assert held == want, f"lb{lb}'s kernel holds another table ({len(held or ())} buckets)"

        eventually(check, timeout, interval=0.1, what="every LB's kernel holding the new table",
                   context=self.supervisor.logs_tail)  # fmt: skip
