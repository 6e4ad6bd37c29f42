"""Bring the lab up, scale it, report on it and take it down again, leaving nothing behind.

``Lab`` puts the rooms together: ``configs`` writes every file first (and so checks every
argument before anything exists), ``network`` builds namespaces and links, ``supervision``
starts and ends daemons by recorded PID, ``expectations`` says what the router's FIB must
hold and ``router`` waits until it does. Each step is recorded in the state file before it
is taken.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from lbroute.core.echo import shown
from lbroute.kernel.ip import IpCommandError, ip, ip_json, list_netns
from lbroute.polling import Timeout, eventually

from . import configs, daemons, frr_router, network, nft_rules, podman, processes
from .containers import Containers, give_to_image_user, rr_gobgpd, rr_manager, speaker
from .dataplane import Backends, DataplaneRoom
from .errors import LabError
from .expectations import Fib, describe, expected_fib
from .invariant import FibDiff, fib_diff, serving_fib
from .router import GobgpRib, Router, RouterRib
from .scenario import Scenario, ScenarioError
from .state import (
    DEFAULT_STATE_ROOT,
    LabState,
    ProcessRecord,
    claim_directory,
    is_lab_directory,
    remove_directory,
)
from .supervision import Supervisor
from .topology import PREFIX_RE, ROUTER_IP, Node, Service, Topology

__all__ = ["InvariantError", "Lab", "LabError", "Progress", "preflight", "running_labs"]

log = structlog.get_logger()

# told of each phase a long command has finished, with the seconds since the command began
Progress = Callable[[str, float], None]
# what a failure half-way through building raises as a LabError, and what it leaves
_BUILD_FAILURES = (IpCommandError, OSError, subprocess.SubprocessError, Timeout, podman.PodmanError)


class InvariantError(LabError):
    """The router's FIB did not come to hold what the serving LBs announce within the deadline;
    ``diff`` is the last look at it."""

    def __init__(self, message: str, diff: FibDiff) -> None:
        super().__init__(message)
        self.diff = diff


def preflight() -> list[str]:
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (it creates network namespaces)")
    for binary in (
        daemons.GOBGPD,
        daemons.ZEBRA,
        frr_router.BGPD,
        daemons.EXABGP,
        daemons.BFDD,
        nft_rules.NFT,
    ):
        if not binary.exists():
            problems.append(f"{binary} is missing; run `make setup` (setup/install-debian-deps.sh)")
    return problems


def running_labs(root: Path = DEFAULT_STATE_ROOT) -> list[str]:
    """The names of the labs under ``root`` whose namespaces exist."""
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if PREFIX_RE.fullmatch(p.name) and is_lab_directory(p))
    existing = set(list_netns()) if names else set()
    running = []
    for name in names:
        state = LabState.load(name, root)
        if state is not None and any(ns in existing for ns in state.namespaces):
            running.append(name)
    return running


class Lab:
    def __init__(
        self, prefix: str, root: Path = DEFAULT_STATE_ROOT, *, progress: Progress | None = None
    ) -> None:
        self.dir = LabState.directory(prefix, root)  # checks the prefix: a TopologyError if no lab name
        self.prefix = prefix
        self.root = root
        self.progress = progress
        loaded = LabState.load(prefix, root)
        self.recorded = loaded is not None
        self.state = loaded or LabState(prefix=prefix)

    # --- what the lab is ----------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a lab of this name was made here (up, down or crashed, until ``down``)."""
        return is_lab_directory(self.dir)

    @property
    def topology(self) -> Topology:
        services = tuple(
            Service(
                name=str(s["name"]),
                vip=str(s["vip"]),
                lbs=tuple(s["lbs"]) if s.get("lbs") is not None else None,  # type: ignore[arg-type]
            )
            for s in self.state.services
        )
        return Topology(self.prefix, self.state.lbs, services, self.state.rrs)

    @property
    def scenario(self) -> Scenario:
        return self.state.scenario

    def is_up(self) -> bool:
        return bool(self.state.namespaces) and any(ns in list_netns() for ns in self.state.namespaces)

    def socket(self, who: str) -> Path:
        return configs.gobgp_socket(self.dir, who)

    @property
    def supervisor(self) -> Supervisor:
        """The lab's processes (the records of its current state)."""
        return Supervisor(self.state.processes, self.dir / "logs", self._save)

    @property
    def containers(self) -> Containers:
        """The lab's containers (``--images``), by the records of its current state."""
        return Containers(self.state.containers, self.dir, self.prefix, self._save)

    @property
    def dataplane(self) -> DataplaneRoom | None:
        """The data-plane room of a lab built with one (``--dataplane``), else None."""
        if not self.scenario.dataplane:
            return None
        return DataplaneRoom(
            self.dir, self.topology, self.scenario.dataplane, self.supervisor, self._record_namespace
        )

    def set_backends(self, backends: Backends, *, timeout: float = 30.0) -> None:
        """``lab backends``: the data plane's backends from now on (see lbroute.lab.dataplane)."""
        room = self.dataplane
        if room is None or not self.is_up():
            raise LabError(
                f"lab {self.prefix!r} has no data plane up; `lbroute lab up --dataplane nft-dsr` builds one"
            )
        with self._left_for_inspection("lab backends"):
            room.set_backends(
                backends, {n.index: configs.pod_dir(self.dir, n) for n in self.topology.nodes}, timeout
            )

    @property
    def router_kind(self) -> str:
        """``gobgp`` (gobgpd + zebra, driven by lbroute-rr) or ``frr`` (FRR's bgpd + zebra)."""
        return self.scenario.router

    @property
    def router_dir(self) -> Path:
        """zebra's directory, and bgpd's for the frr router: config, sockets, PID files, logs."""
        return self.dir / "router"

    def bgp_daemon(self, who: str) -> str:
        """The process record of ``who``'s BGP daemon (rr, rr2, router)."""
        return frr_router.BGP_DAEMON[self.router_kind] if who == "router" else f"gobgpd-{who}"

    @property
    def router(self) -> Router:
        topo = self.topology
        rrs = frozenset(topo.rr_ip(j) for j in range(1, topo.rrs + 1))
        rib: RouterRib
        if self.router_kind == "frr":
            rib = frr_router.FrrRib(self.router_dir)
        else:
            rib = GobgpRib(self.socket("router"))
        return Router(topo.router_ns, rib, rrs, self.logs_tail)

    # --- up, scale, down ----------------------------------------------------------------------

    def up(self, topo: Topology, scenario: Scenario | None = None, *, timeout: float = 30.0) -> float:
        """Build everything and return the seconds until the router's FIB converged.

        Every argument is checked, and every config file written and rendered, before the
        first namespace exists: a bad one leaves nothing behind. A failure after that
        leaves the lab as it is, for inspection, and says how to remove it.
        """
        problems = preflight() + (podman.problems() if scenario and scenario.images else [])
        if problems:
            raise LabError("; ".join(problems))
        if topo.prefix != self.prefix:
            raise LabError(f"topology of lab {topo.prefix!r} given to lab {self.prefix!r}")
        try:
            resolved = (scenario or Scenario()).for_topology(topo)
        except ScenarioError as err:
            raise LabError(str(err)) from None
        if self.is_up():
            raise LabError(
                f"lab {self.prefix!r} is already up; run `lbroute lab down --prefix {self.prefix}`"
            )
        started = time.monotonic()
        claim_directory(self.dir)
        self.state = LabState(
            prefix=topo.prefix,
            lbs=topo.lbs,
            rrs=topo.rrs,
            services=[asdict(s) for s in topo.services],
            scenario=resolved,
        )
        self.recorded = True
        self._save()
        try:
            core = configs.write_core(self.dir, topo, resolved)
            configs.write_pods(self.dir, topo, resolved, topo.nodes)
        except (LabError, *_BUILD_FAILURES) as err:
            remove_directory(self.dir)  # only files so far, all of them the lab's own
            self.state, self.recorded = LabState(prefix=self.prefix), False
            raise LabError(f"lab {self.prefix!r} not built, nothing was created: {err}") from None
        self._phase("configs written", started)
        with self._left_for_inspection("lab up"):
            network.build_core(topo, self._record_namespace)
            if resolved.bfd:  # the pods' multihop BFD (port 4784) to gobgpd's 3784
                for j in range(1, topo.rrs + 1):
                    nft_rules.load(topo.rr_ns(j), nft_rules.bfd_redirect())
            for node in topo.nodes:
                network.build_node(topo, node, self._record_namespace)
            room = self.dataplane
            if room is not None:
                room.build(resolved.backends)  # the backends answer before any LB announces
            self._phase("namespaces built", started)
            self._start_core(topo, core)
            for node in topo.nodes:
                self._start_pod(topo, node)
            self._phase("daemons started", started)
            self.router.wait_sessions(timeout)
            self._phase("BGP sessions up", started)
            self.wait_converged(timeout)
        seconds = time.monotonic() - started
        self._phase("router FIB converged", started)
        log.info("lab.up", prefix=self.prefix, count=topo.lbs, seconds=round(seconds, 3))
        return seconds

    def scale(self, lbs: int, *, timeout: float = 30.0, kill: bool = False) -> float:
        """``lbs`` LBs from now on: new ones added, the last ones drained and removed (``kill``:
        ended with SIGKILL instead, as a pod that dies: no drain, no withdraw, its node left up
        until the router has let go of it)."""
        if not self.is_up():
            raise LabError(
                f"lab {self.prefix!r} is not up; run `lbroute lab up --prefix {self.prefix}` first"
            )
        current = self.topology
        target = current.with_lbs(lbs)  # validates the count
        try:
            self.scenario.for_topology(target)
        except ScenarioError as err:
            raise LabError(f"lab {self.prefix!r} cannot have {lbs} LBs: {err}") from None
        started = time.monotonic()
        added = tuple(Node(i) for i in range(current.lbs + 1, lbs + 1))
        configs.write_pods(self.dir, target, self.scenario, added)
        with self._left_for_inspection("lab scale"):
            for i in range(current.lbs, lbs, -1):
                self._remove_node(current, Node(i), kill=kill, timeout=timeout)
                self._phase(f"lb{i} {'killed' if kill else 'drained'} and removed", started)
            self.state.lbs = lbs
            self._save()
            for node in added:
                network.build_node(target, node, self._record_namespace)
                room = self.dataplane
                if room is not None:
                    room.node_added(node)
            if added:
                self._phase("namespaces built", started)
            for node in added:
                self._start_pod(target, node)
            if added:
                self._phase("daemons started", started)
            self.wait_converged(timeout)
        seconds = time.monotonic() - started
        self._phase("router FIB converged", started)
        log.info("lab.scaled", prefix=self.prefix, count=lbs, seconds=round(seconds, 3))
        return seconds

    def down(self) -> list[str]:
        """End every recorded process and delete every recorded namespace, crash or not.

        Removes only what the lab made: the namespaces and processes its state records, and
        its own marked state directory. When the state file is lost (a crash) but the
        directory is the lab's, the namespaces are found by the lab's naming pattern instead.
        Namespaces that merely look like a lab's, with no lab here to vouch for them, are
        left alone: a ``LabError`` names them.
        """
        made_here = self.exists()
        # containers first, by recorded id, then any labelled with this lab's directory
        ended = self.containers.remove_all() if made_here and podman.installed() else []
        ended += self.supervisor.stop_all()
        existing = set(list_netns())
        lookalikes = {ns for ns in existing if self._named_like_ours(ns)}
        ours = set(self.state.namespaces)
        if made_here and not self.recorded:
            ours |= lookalikes
        for ns in sorted(ours & existing):
            network.delete_namespace(ns)
        remove_directory(self.dir)
        self.state, self.recorded = LabState(prefix=self.prefix), False
        log.info("lab.down", prefix=self.prefix, count=len(ended))
        strangers = sorted(lookalikes - ours)
        if strangers and not made_here:
            raise LabError(
                f"no lab {self.prefix!r} in {self.root}, but namespaces named like one exist: "
                f"{', '.join(strangers)}; not deleted (the lab deletes only what it recorded "
                "creating): `ip netns del NAME` removes one"
            )
        return sorted(ours & existing)

    # --- waiting for the router ---------------------------------------------------------------

    def router_fib(self) -> Fib:
        """VIP-pool routes in the router's kernel FIB: prefix -> gateways."""
        return self.router.fib()

    def expected_fib(self) -> Fib:
        return expected_fib(self.topology, self.scenario)

    def wait_converged(self, timeout: float) -> Fib:
        """Until the router's FIB holds what the LBs that serve now announce (``serving_fib``:
        an LB the lab broke, hung or killed is not waited for)."""
        try:
            return self.router.wait_fib(self.serving_fib(), timeout)
        except Timeout as err:
            raise LabError(
                f"{err}\nthe lab is left as it is for inspection (logs in {self.dir / 'logs'}); "
                f"`lbroute lab down --prefix {self.prefix}` removes it"
            ) from None

    def serving(self) -> frozenset[int]:
        """The LBs that are running, healthy and announcing, by what the lab set: in the
        topology (``scale``), their exabgp alive (``kill_speaker``), not hung (``hang``), their
        health file absent (``set_health`` ok; ``fail`` and ``flap`` are not healthy)."""
        hung = set(self.faults()["hung"])
        out = set()
        for node in self.topology.nodes:
            lb = f"lb{node.index}"
            pod = f"exabgp-{lb}"
            running = (
                self.containers.is_running(pod)
                if pod in self.state.containers
                else self.supervisor.is_running(pod)
            )
            health = configs.pod_dir(self.dir, node) / "health"
            if running and lb not in hung and not health.exists():
                out.add(node.index)
        return frozenset(out)

    def serving_fib(self) -> Fib:
        """What the router's FIB must hold with the LBs that serve now (``serving``)."""
        return serving_fib(self.topology, self.scenario, self.serving())

    def wait_invariant(self, timeout: float, *, interval: float = 0.02) -> float:
        """Until the router's FIB next-hops for every VIP are the serving LBs' nodes; returns
        the seconds it took. An ``InvariantError`` names the stale, missing and foreign
        next-hops of the last look when ``timeout`` runs out."""
        started = time.monotonic()
        expected = self.serving_fib()
        last: list[FibDiff] = []

        def holds() -> None:
            diff = fib_diff(expected, self.router_fib())
            last[:] = [diff]
            assert not diff, str(diff)

        try:
            eventually(holds, timeout, interval=interval, what="the FIB invariant")
        except Timeout:
            raise InvariantError(
                f"lab {self.prefix!r}: the router's FIB is not what the serving LBs announce within "
                f"{timeout:g}s: {last[0]} (want {describe(expected)})",
                last[0],
            ) from None
        return time.monotonic() - started

    def wait_settled(self, timeout: float) -> None:
        """Until the router has a session with every RR again and holds no stale path."""
        try:
            self.router.wait_settled(timeout)
        except Timeout as err:
            raise LabError(str(err)) from None

    # --- reports ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        existing = set(list_netns())
        topo = self.topology
        up = self.is_up()
        return {
            "prefix": self.prefix,
            "up": up,
            "lbs": topo.lbs,
            "rrs": topo.rrs,
            "router": self.router_kind,
            "services": [asdict(s) for s in topo.services],
            "namespaces": {ns: ns in existing for ns in self.state.namespaces},
            "processes": {
                name: {"pid": rec.pid, "alive": processes.is_alive(rec), "netns": rec.netns}
                for name, rec in self.state.processes.items()
            },
            "containers": {
                name: {
                    "id": rec.id[:12],
                    "running": self.containers.is_running(name),
                    "netns": rec.netns,
                    "image": rec.image,
                }
                for name, rec in self.state.containers.items()
            },
            "expected": {k: sorted(v) for k, v in self.expected_fib().items()},
            "router_fib": {k: sorted(v) for k, v in self.router_fib().items()} if up else {},
            "faults": self.faults() if up else {},
            "state_dir": str(self.dir),
        }

    def logs_tail(self, lines: int = 15) -> str:
        return "\n".join(
            tail for tail in (self.supervisor.logs_tail(lines), self.containers.logs_tail(lines)) if tail
        )

    def metrics(self, who: str = "rr") -> str:
        """The Prometheus text a manager serves inside its namespace: the router's, or an RR's
        (dynamic-neighbor mode)."""
        if who == "router":
            if self.router_kind != "gobgp":
                raise LabError(f"lab {self.prefix!r} runs an {self.router_kind} router: no lbroute-rr on it")
            ns, address = self.topology.router_ns, ROUTER_IP
        else:
            j = 1 if who == "rr" else int(who.removeprefix("rr"))
            ns, address = self.topology.rr_ns(j), self.topology.rr_ip(j)
        url = f"http://{address}:{daemons.RR_METRICS_PORT}/metrics"
        argv = [str(daemons.VENV_BIN / "python"), "-c", _FETCH, url]
        result = subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True
        )
        return result.stdout

    # --- more parts, for benchmarks -----------------------------------------------------------

    def add_namespace(self, suffix: str, address: str) -> str:
        """Another namespace on the lab's bridge (e.g. a benchmark's speaker farm), recorded
        like every other so that ``down`` removes it. ``suffix`` must be ``node<N>``-shaped."""
        name = f"{self.prefix}-{suffix}"
        if not self._named_like_ours(name):
            raise LabError(f"namespace suffix {suffix!r}: use node<N> or lb<N>")
        network.add_namespace(name, self._record_namespace)
        network.attach_to_bridge(self.topology, name, suffix, address)
        return name

    # --- faults -------------------------------------------------------------------------------

    def restart(self, who: str, *, timeout: float = 10.0) -> float:
        """``kill -9`` the BGP daemon of ``who`` (rr, rr2: gobgpd; router: gobgpd, or bgpd for
        the frr router) and start it again.

        Returns the monotonic time at which the new daemon's socket appeared: from then on it
        answers, and recovery is the rr manager's job (or bgpd's own), with no help from here.
        """
        self.kill(who)
        answered = self.start(who, timeout=timeout)
        log.info("lab.restarted", prefix=self.prefix, target=who)
        return answered

    def restart_and_recover(self, who: str, timeout: float) -> tuple[float, float]:
        """``kill -9`` and restart the gobgpd of ``who``; returns the seconds from the new one
        answering until the FIB was whole, and until the router was settled (nothing stale)."""
        started = time.monotonic()
        answered = self.restart(who)
        self._phase(f"{self.bgp_daemon(who)} killed and answering again", started)
        self.wait_converged(timeout)
        whole = time.monotonic() - answered
        self._phase("router FIB whole", started)
        self.wait_settled(timeout)
        self._phase("router sessions back, no stale path", started)
        return whole, time.monotonic() - answered

    def restart_manager(self, who: str = "router") -> None:
        """``kill -9`` the route-control manager of ``who`` (router, rr, rr2) and start it again,
        with the same config: what it finds in gobgpd and the kernel must be left as it is."""
        self.kill_manager(who)
        self.start_manager(who)
        log.info("lab.restarted", prefix=self.prefix, target=f"rr-manager-{who}")

    def kill_manager(self, who: str = "router") -> None:
        """``kill -9`` the route-control manager of ``who``; ``start_manager`` starts it again."""
        self.supervisor.stop(self._manager_record(who).name, sig=signal.SIGKILL, grace=2.0)

    def start_manager(self, who: str = "router") -> None:
        """Start the manager of ``who`` again, with the same config, where it ran."""
        record = self._manager_record(who)
        if processes.is_alive(record):
            raise LabError(f"{record.name} of lab {self.prefix!r} is running (pid {record.pid})")
        config = self.dir / "config" / f"{who}.yaml"
        self.supervisor.spawn(record.name, _rr_manager_argv(config), record.netns)

    def _manager_record(self, who: str) -> ProcessRecord:
        name = f"rr-manager-{who}"
        record = self.state.processes.get(name)
        if record is None:
            raise LabError(f"no {name} in lab {self.prefix!r}")
        return record

    def restart_zebra(self, *, timeout: float = 10.0) -> None:
        """``kill -9`` the router's zebra and start it again, and with it (as the router's
        systemd units do: gobgpd ``BindsTo``/``PartOf`` zebra, zebra ``Upholds`` gobgpd) the
        router's gobgpd, which dials zebra once and never again; FRR's bgpd finds zebra again
        by itself."""
        record = self.state.processes.get("zebra")
        if record is None:
            raise LabError(f"lab {self.prefix!r} runs no zebra (--fib resilient writes the FIB itself)")
        self.supervisor.stop("zebra", sig=signal.SIGKILL, grace=2.0)
        zserv = self.router_dir / "zserv.api"
        zserv.unlink(missing_ok=True)
        self.supervisor.spawn("zebra", daemons.zebra_argv(self.router_dir), record.netns)
        eventually(lambda: _assert_exists(zserv), timeout, what="zebra's zserv.api", context=self.logs_tail)
        log.info("lab.restarted", prefix=self.prefix, target="zebra")
        if self.router_kind == "gobgp":
            self.restart("router", timeout=timeout)

    def kill_speaker(self, lb: int) -> None:
        """``kill -9`` LB ``lb``'s exabgp (its announcer, exabgp's child, sees its stdin close
        and ends): the session drops without a NOTIFICATION. ``start_speaker`` starts it again."""
        name = f"exabgp-lb{lb}"
        if name not in self.state.processes:
            raise LabError(f"no {name} process in lab {self.prefix!r} (killed already, or in a container)")
        self.supervisor.stop(name, sig=signal.SIGKILL, grace=2.0, forget=True)
        log.info("lab.killed", prefix=self.prefix, target=name)

    def start_speaker(self, lb: int) -> None:
        """Start LB ``lb``'s exabgp again, from the config its pod has."""
        name = f"exabgp-lb{lb}"
        if self.supervisor.is_running(name):
            raise LabError(f"{name} of lab {self.prefix!r} is running")
        conf = configs.pod_dir(self.dir, Node(lb)) / "exabgp.conf"
        env = daemons.exabgp_env()
        self.supervisor.spawn(
            name, daemons.exabgp_argv(conf), self.topology.lb_ns(lb), env=env, cwd=conf.parent
        )
        log.info("lab.started", prefix=self.prefix, target=name)

    def kill(self, who: str) -> None:
        """``kill -9`` the BGP daemon of ``who``: its sessions drop without a NOTIFICATION."""
        if self.bgp_daemon(who) in self.state.containers:
            self.containers.stop(self.bgp_daemon(who), grace=0)  # SIGKILL at once, and removed
            return
        processes.stop(self._bgp_record(who), sig=signal.SIGKILL, grace=2.0)

    def start(self, who: str, *, timeout: float = 10.0) -> float:
        """Start the BGP daemon of ``who`` afresh; returns the monotonic time its socket appeared."""
        name = self.bgp_daemon(who)
        if name in self.state.containers:  # an RR's gobgpd, from the image
            container = self.state.containers[name]
            if self.containers.is_running(name):
                raise LabError(f"{name} of lab {self.prefix!r} is running (container {container.id[:12]})")
            socket = self.socket(who)
            socket.unlink(missing_ok=True)  # gobgpd refuses to start on a stale socket file
            self.containers.run(rr_gobgpd(container.image, container.netns, socket))
        else:
            record = self._bgp_record(who)
            if processes.is_alive(record):
                raise LabError(f"{name} of lab {self.prefix!r} is running (pid {record.pid})")
            if name == "bgpd":
                socket = frr_router.vty_socket(self.router_dir)
                argv = frr_router.bgpd_argv(self.router_dir)
            else:
                socket = self.socket(who)
                argv = daemons.gobgpd_argv(socket)
            socket.unlink(missing_ok=True)  # gobgpd refuses to start on a stale socket file
            self.supervisor.spawn(name, argv, record.netns)
        eventually(lambda: _assert_exists(socket), timeout, what=f"{name} socket", context=self.logs_tail)
        return time.monotonic()

    def hang(self, who: str, *, stop: bool = False) -> str:
        """``lab hang``: the host ``who`` (lbN: LB node N and its pod; rr, rr2) answers nothing
        from now on: every frame on its link is dropped, both ways, in its own namespace; or
        (``stop``) its processes are stopped with SIGSTOP, by their recorded PIDs, while its
        kernel still answers (TCP stays open, as with a hung daemon). Nothing is killed or
        told; its peers find out by BFD, or by their hold timer. Returns the namespace."""
        ns, _ = self._fault_target(who)
        if who in self.faults()["hung"]:
            raise LabError(
                f"{who} of lab {self.prefix!r} is hung already; `lbroute lab unhang {who}` resumes it"
            )
        if stop:
            boxed = [n for n in (f"exabgp-{who}", f"gobgpd-{who}") if n in self.state.containers]
            if boxed:
                raise LabError(
                    f"{who} of lab {self.prefix!r} runs {boxed[0]} in a container, which --stop does "
                    f"not reach; `lbroute lab hang {who}` drops its frames instead"
                )
            for record in self._fault_processes(who):
                processes.pause(record, True)
        else:
            nft_rules.load(ns, nft_rules.hang("eth0"))
        log.info("lab.hung", prefix=self.prefix, target=who, op="stopped" if stop else "dropped")
        return ns

    def unhang(self, who: str) -> bool:
        """Undo ``hang`` (either kind); whether ``who`` was hung."""
        ns, _ = self._fault_target(who)
        was = nft_rules.delete(ns, nft_rules.HANG)
        for record in self._fault_processes(who):
            if processes.is_stopped(record):
                was = processes.pause(record, False) or was
        log.info("lab.unhung", prefix=self.prefix, target=who, op="resumed" if was else "was not hung")
        return was

    def _fault_processes(self, who: str) -> list[ProcessRecord]:
        """The recorded processes of host ``who``: an LB pod's daemons, an RR's gobgpd and manager."""
        if who.startswith("lb"):
            names = [f"exabgp-{who}", f"bfdd-{who}", f"responder-{who}", f"dataplane-{who}"]
        else:
            names = [f"gobgpd-{who}", f"rr-manager-{who}"]
        return [self.state.processes[n] for n in names if n in self.state.processes]

    def set_link(self, who: str, up: bool) -> None:
        """``lab link``: the bridge's port to ``who`` down (its link loses carrier, as a pulled
        cable or a dead switch port) or up again."""
        _, port = self._fault_target(who)
        ip("link", "set", port, "up" if up else "down", netns=self.topology.net_ns)
        log.info("lab.link", prefix=self.prefix, target=who, op="up" if up else "down")

    def faults(self) -> dict[str, list[str]]:
        """What ``hang`` and ``link`` left in place: hung hosts, links down."""
        topo = self.topology
        hosts = [f"lb{n.index}" for n in topo.nodes] + [topo.rr_name(j) for j in range(1, topo.rrs + 1)]
        ports = {p["ifname"]: "UP" in p.get("flags", []) for p in ip_json("link", "show", netns=topo.net_ns)}
        hung, down = [], []
        for who in hosts:
            ns, port = self._fault_target(who)
            stopped = any(processes.is_stopped(r) for r in self._fault_processes(who))
            if stopped or nft_rules.has_table(ns, nft_rules.HANG):
                hung.append(who)
            if not ports.get(port, True):
                down.append(who)
        return {"hung": hung, "links_down": down}

    def _fault_target(self, who: str) -> tuple[str, str]:
        """(the namespace of ``who``, its port on the lab's bridge)."""
        if not self.is_up():
            raise LabError(f"lab {self.prefix!r} is not up")
        topo = self.topology
        if who.startswith("lb") and who[2:].isdigit():
            lb = int(who[2:])
            if not 1 <= lb <= topo.lbs:
                raise LabError(f"{who} does not exist; the lab has lb1..lb{topo.lbs}")
            return topo.node_ns(lb), f"node{lb}"
        for j in range(1, topo.rrs + 1):
            if who == topo.rr_name(j):
                return topo.rr_ns(j), f"rr{j}"
        rrs = ", ".join(topo.rr_name(j) for j in range(1, topo.rrs + 1))
        raise LabError(f"no host {shown(who)} in lab {self.prefix!r}; LBs lb1..lb{topo.lbs}, RRs {rrs}")

    def set_health(self, lb: int, mode: str) -> None:
        """``lab break|heal|flap``: what LB ``lb``'s health endpoint answers from now on."""
        if not self.is_up():
            raise LabError(f"lab {self.prefix!r} is not up")
        if not 1 <= lb <= self.state.lbs:
            raise LabError(f"lb{lb} does not exist; the lab has lb1..lb{self.state.lbs}")
        if self.scenario.dataplane:
            raise LabError(
                "with --dataplane the announcers check the data plane, not the responder: "
                "`lbroute lab backends N` changes what they see"
            )
        path = configs.pod_dir(self.dir, Node(lb)) / "health"
        if mode == "ok":
            path.unlink(missing_ok=True)
        else:
            path.write_text(mode + "\n")
        log.info("lab.health", target=f"lb{lb}", op=mode)

    def announcer_pid(self, lb: int) -> int | None:
        """The API process exabgp runs for ``lb`` (its child), or None while it has none."""
        return self.supervisor.first_child(f"exabgp-lb{lb}")

    def drain(self, node: Node, timeout: float = 30.0) -> None:
        """Withdraw through the announcer's drain protocol and wait until the FIB has let go."""
        result = subprocess.run(
            daemons.drain_argv(configs.pod_dir(self.dir, node), timeout),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            # the pod still goes away (exabgp's Cease withdraws), just not gracefully: say so
            log.warning("lab.drain.failed", target=f"lb{node.index}", error=result.stderr.strip()[-300:])
            return  # nothing was withdrawn to wait for: stopping the pod withdraws instead

        self.router.wait_fib_without(
            frozenset({node.ip, node.ip6}), timeout, what=f"lb{node.index} leaving the router's FIB"
        )
        log.info("lab.drained", target=f"lb{node.index}", nexthop=node.ip)

    # --- inside -------------------------------------------------------------------------------

    def _phase(self, phase: str, started: float) -> None:
        seconds = time.monotonic() - started
        log.info("lab.phase", prefix=self.prefix, op=phase, seconds=round(seconds, 3))
        if self.progress is not None:
            self.progress(phase, seconds)

    @contextmanager
    def _left_for_inspection(self, command: str) -> Iterator[None]:
        """A failure half-way says what is left and how to remove it."""
        hint = (
            f"the lab is left as it is for inspection (logs in {self.dir / 'logs'}); "
            f"`lbroute lab down --prefix {self.prefix}` removes it"
        )
        try:
            yield
        except _BUILD_FAILURES as err:
            raise LabError(f"{command} failed: {err}; {hint}") from None
        except LabError:
            raise  # says so already
        except BaseException as err:
            err.add_note(hint)
            raise

    def _save(self) -> None:
        self.state.save(self.root)

    def _record_namespace(self, name: str) -> None:
        if name not in self.state.namespaces:
            self.state.namespaces.append(name)
            self._save()  # recorded before it exists: a crash right after still cleans it up

    def _forget_namespace(self, name: str) -> None:
        if name in self.state.namespaces:
            self.state.namespaces.remove(name)

    def _named_like_ours(self, ns: str) -> bool:
        return (
            re.fullmatch(
                rf"{re.escape(self.prefix)}-(net|router|client|rr\d*|node\d+|lb\d+|webnode|web\d+)", ns
            )
            is not None
        )

    def _bgp_record(self, who: str) -> ProcessRecord:
        record = self.state.processes.get(self.bgp_daemon(who))
        if record is None:
            known = sorted(
                n.removeprefix("gobgpd-") if n.startswith("gobgpd-") else "router"
                for n in [*self.state.processes, *self.state.containers]
                if n.startswith("gobgpd-") or n == "bgpd"
            )
            raise LabError(f"no BGP daemon {who!r} in lab {self.prefix!r}; known: {', '.join(known)}")
        return record

    def _start_core(self, topo: Topology, core: configs.CoreFiles) -> None:
        supervisor = self.supervisor
        images = self.scenario.images
        zebra = self.scenario.fib == "zebra"  # else the router's lbroute-rr writes its FIB itself
        if zebra:
            supervisor.spawn("zebra", daemons.zebra_argv(core.router_dir), topo.router_ns)
        if self.router_kind == "gobgp":
            supervisor.spawn("gobgpd-router", daemons.gobgpd_argv(self.socket("router")), topo.router_ns)
        for j in range(1, topo.rrs + 1):
            who = topo.rr_name(j)
            if images:  # the RR from the control-plane image, as its own user
                give_to_image_user(self.socket(who).parent)
                self.containers.run(rr_gobgpd(images.control_plane, topo.rr_ns(j), self.socket(who)))
            else:
                supervisor.spawn(f"gobgpd-{who}", daemons.gobgpd_argv(self.socket(who)), topo.rr_ns(j))
        if zebra:
            eventually(
                lambda: _assert_exists(core.zserv), 10, what="zebra's zserv.api", context=self.logs_tail
            )
        if self.router_kind == "frr":  # bgpd reads its frr.conf and connects to zebra itself
            supervisor.spawn("bgpd", frr_router.bgpd_argv(core.router_dir), topo.router_ns)
        else:
            supervisor.spawn("rr-manager-router", _rr_manager_argv(core.router_config), topo.router_ns)
        for j in range(1, topo.rrs + 1):
            who = topo.rr_name(j)
            if images:
                spec = rr_manager(images.control_plane, topo.rr_ns(j), self.socket(who), core.rr_configs[who])
                self.containers.run(spec)
                continue
            # it talks to gobgpd over the unix socket either way; in explicit-peer mode it runs in
            # the root namespace, to reach the (fake) API server on loopback
            netns = None if self.scenario.kube_api else topo.rr_ns(j)
            supervisor.spawn(f"rr-manager-{who}", _rr_manager_argv(core.rr_configs[who]), netns)

    def _start_pod(self, topo: Topology, node: Node) -> None:
        """The pod's responder and exabgp (which runs its announcer), from the files ``configs`` wrote."""
        lb = f"lb{node.index}"
        lb_dir = configs.pod_dir(self.dir, node)
        supervisor = self.supervisor
        supervisor.spawn(
            f"responder-{lb}",
            [
                str(daemons.VENV_BIN / "python"), "-m", "lbroute.lab.responder", "--name", lb, "--port", "80",
                "--health-file", str(lb_dir / "health"), "--echo-port", str(daemons.ECHO_PORT),
            ],
            topo.lb_ns(node.index),
        )  # fmt: skip
        if self.scenario.bfd:  # a process beside either kind of speaker (also with --images)
            bfdd_dir = configs.bfdd_dir(self.dir, node)
            (bfdd_dir / "bfdd.vty").unlink(missing_ok=True)
            supervisor.spawn(f"bfdd-{lb}", daemons.bfdd_argv(bfdd_dir), topo.lb_ns(node.index))
            eventually(
                lambda: _assert_exists(bfdd_dir / "bfdd.vty"), 10, what=f"bfdd-{lb}", context=self.logs_tail
            )
        room = self.dataplane
        if room is not None:
            room.start_pod(node, lb_dir)
        images = self.scenario.images
        if images:  # the sidecar image renders its own exabgp.conf from announcer.yaml
            give_to_image_user(lb_dir)
            self.containers.run(speaker(images.announcer, topo.lb_ns(node.index), lb_dir, lb))
            return
        supervisor.spawn(
            f"exabgp-{lb}",
            daemons.exabgp_argv(lb_dir / "exabgp.conf"),
            topo.lb_ns(node.index),
            env=daemons.exabgp_env(),
            cwd=lb_dir,
        )

    def _remove_node(self, topo: Topology, node: Node, *, kill: bool = False, timeout: float = 30.0) -> None:
        lb = f"lb{node.index}"
        pod = f"exabgp-{lb}"
        if (pod in self.state.processes or pod in self.state.containers) and not kill:
            self.drain(node)
        # a container stopped at once is a pod killed: as for a process, its kernel closes the session
        self.containers.stop(pod, forget=True, grace=0 if kill else 5.0)
        if kill:
            # the pod dies, its node stays: the BGP session ends with the process, and what is
            # left of the node goes once the router has let go of it
            for name in (pod, f"bfdd-{lb}", f"dataplane-{lb}"):
                self.supervisor.stop(name, forget=True, sig=signal.SIGKILL, grace=2.0)
            self.router.wait_fib_without(
                frozenset({node.ip, node.ip6}), timeout, what=f"{lb} out of the router's FIB"
            )
        for name in (pod, f"bfdd-{lb}", f"responder-{lb}", f"dataplane-{lb}"):
            # exabgp answers SIGTERM with a Cease NOTIFICATION: the RR withdraws at once; killed,
            # its kernel closes the session and the RR withdraws as soon
            self.supervisor.stop(name, forget=True, sig=signal.SIGKILL if kill else signal.SIGTERM)
        network.remove_node(topo, node, self._forget_namespace)
        self._save()


_FETCH = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


def _rr_manager_argv(cfg: Path) -> list[str]:
    return [str(daemons.VENV_BIN / "lbroute-rr"), "run", "--config", str(cfg)]


def _assert_exists(path: Path) -> None:
    assert path.exists(), f"{path} does not exist yet"
