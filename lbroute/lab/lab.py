"""Bring the lab up, scale it, report on it and take it down again, leaving nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from lbroute.core.rib import FibRoute
from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip, list_netns, sysctl
from lbroute.polling import Timeout, eventually

from . import daemons, processes
from .errors import LabError
from .state import (
    DEFAULT_STATE_ROOT,
    LabState,
    ProcessRecord,
    claim_directory,
    is_lab_directory,
    remove_directory,
)
from .topology import ROUTER_IP, VIP_POOL, Node, Service, Topology, rogue_routes

__all__ = ["Lab", "LabError", "preflight"]

log = structlog.get_logger()


def preflight() -> list[str]:
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (it creates network namespaces)")
    for binary in (daemons.GOBGPD, daemons.ZEBRA, daemons.EXABGP):
        if not binary.exists():
            problems.append(f"{binary} is missing; run `make setup` (setup/install-debian-deps.sh)")
    return problems


class Lab:
    def __init__(self, prefix: str, root: Path = DEFAULT_STATE_ROOT) -> None:
        self.dir = LabState.directory(prefix, root)  # checks the prefix: a TopologyError if no lab name
        self.prefix = prefix
        self.root = root
        loaded = LabState.load(prefix, root)
        self.recorded = loaded is not None
        self.state = loaded or LabState(prefix=prefix)

    def exists(self) -> bool:
        """Whether a lab of this name was made here (up, down or crashed, until ``down``)."""
        return is_lab_directory(self.dir)

    # --- public -----------------------------------------------------------------------------

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

    def is_up(self) -> bool:
        return bool(self.state.namespaces) and any(ns in list_netns() for ns in self.state.namespaces)

    def up(
        self,
        topo: Topology,
        *,
        timeout: float = 30.0,
        kube_api: str = "",
        wrong_md5: tuple[int, ...] = (),
        rogue_lb: int = 0,
        group_overrides: dict[str, object] | None = None,
        graceful_restart: int | None = None,
    ) -> float:
        """Build everything and return the seconds until the router's FIB converged.

        ``graceful_restart``: the RRs' restart time for graceful restart with the router, 0
        for none; by default 30 s with one RR (its restart would empty the FIB) and none
        with two (the other RR covers a restart, and no path is ever held stale).

        ``kube_api``: the RR managers admit one MD5-keyed peer per LB pod that API server
        lists (namespace ``lb``, label ``app=lb``) instead of dynamic neighbors; the LBs in
        ``wrong_md5`` hold a wrong key. ``rogue_lb``: that LB also announces routes the
        guard rails must reject.
        """
        problems = preflight()
        if problems:
            raise LabError("; ".join(problems))
        if self.is_up():
            raise LabError(
                f"lab {self.prefix!r} is already up; run `lbroute lab down --prefix {self.prefix}`"
            )
        started = time.monotonic()
        self.state = LabState(
            prefix=topo.prefix,
            lbs=topo.lbs,
            rrs=topo.rrs,
            services=[asdict(s) for s in topo.services],
            kube_api=kube_api,
            wrong_md5=sorted(wrong_md5),
            rogue_lb=rogue_lb,
            group_overrides=dict(group_overrides or {}),
            graceful_restart=(30 if topo.rrs == 1 else 0) if graceful_restart is None else graceful_restart,
        )
        claim_directory(self.dir)
        self._save()
        self._build_core(topo)
        for node in topo.nodes:
            self._build_node(topo, node)
        self._start_core(topo)
        for node in topo.nodes:
            self._start_pod(topo, node)
        self.wait_converged(timeout)
        seconds = time.monotonic() - started
        log.info("lab.up", prefix=self.prefix, count=topo.lbs, seconds=round(seconds, 3))
        return seconds

    def scale(self, lbs: int, *, timeout: float = 30.0) -> float:
        if not self.is_up():
            raise LabError(
                f"lab {self.prefix!r} is not up; run `lbroute lab up --prefix {self.prefix}` first"
            )
        current = self.topology
        target = current.with_lbs(lbs)  # validates the count
        started = time.monotonic()
        for i in range(current.lbs, lbs, -1):
            self._remove_node(current, Node(i))
        self.state.lbs = lbs
        self._save()
        for i in range(current.lbs + 1, lbs + 1):
            self._build_node(target, Node(i))
            self._start_pod(target, Node(i))
        self.wait_converged(timeout)
        seconds = time.monotonic() - started
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
        ended = []
        for name in reversed(list(self.state.processes)):
            record = self.state.processes[name]
            processes.stop(record)
            ended.append(name)
        existing = set(list_netns())
        lookalikes = {ns for ns in existing if self._named_like_ours(ns)}
        ours = set(self.state.namespaces)
        if made_here and not self.recorded:
            ours |= lookalikes
        for ns in sorted(ours & existing):
            self._kill_leftovers(ns)
            ip("netns", "del", ns, check=False)
        remove_directory(self.dir)
        self.state = LabState(prefix=self.prefix)
        self.recorded = False
        log.info("lab.down", prefix=self.prefix, count=len(ended))
        strangers = sorted(lookalikes - ours)
        if strangers and not made_here:
            raise LabError(
                f"no lab {self.prefix!r} in {self.root}, but namespaces named like one exist: "
                f"{', '.join(strangers)}; not deleted (the lab deletes only what it recorded "
                "creating): `ip netns del NAME` removes one"
            )
        return sorted(ours & existing)

    def router_fib(self) -> dict[str, frozenset[str]]:
        """VIP-pool routes in the router's kernel FIB: prefix -> gateways."""
        routes: list[FibRoute] = read_fib(self.topology.router_ns)
        return {r.prefix: r.next_hops for r in routes if r.prefix != "0.0.0.0/0" and _in_pool(r.prefix)}

    def expected_fib(self) -> dict[str, frozenset[str]]:
        """The topology's next-hops, less the LBs that get no session: a wrong MD5 key, or a rogue
        LB announcing more routes than the speaker group's ``max_prefixes``."""
        shut_out = {Node(i).ip for i in self.state.wrong_md5}
        limit = self.state.group_overrides.get("max_prefixes")
        rogue = self.state.rogue_lb
        if rogue and isinstance(limit, int):
            sent = len(self.topology.vips_of(rogue)) + len(rogue_routes(Node(rogue).ip, Node(rogue).pod_ip))
            if sent > limit:
                shut_out.add(Node(rogue).ip)
        out = {vip: hops - shut_out for vip, hops in self.topology.expected_next_hops().items()}
        return {vip: hops for vip, hops in out.items() if hops}

    def wait_converged(self, timeout: float) -> dict[str, frozenset[str]]:
        expected = self.expected_fib()

        def check() -> dict[str, frozenset[str]]:
            fib = self.router_fib()
            assert fib == expected, f"router FIB {_fmt(fib)} != expected {_fmt(expected)}"
            return fib

        try:
            return eventually(check, timeout, what="router FIB convergence", context=self.logs_tail)
        except Timeout as err:
            raise LabError(
                f"{err}\nthe lab is left as it is for inspection (logs in {self.dir / 'logs'}); "
                f"`lbroute lab down --prefix {self.prefix}` removes it"
            ) from None

    def wait_settled(self, timeout: float) -> None:
        """Until the router has a session with every RR again and holds no stale path.

        Under graceful restart the FIB stays whole across an RR restart on paths the router
        keeps stale; the restart is over when the RR's End-of-RIB has replaced them.
        """
        rrs = {self.topology.rr_ip(j) for j in range(1, self.topology.rrs + 1)}

        def check() -> None:
            with GobgpClient(str(self.socket("router")), timeout=2.0) as client:
                up = {s.neighbor for s in client.list_sessions("router") if s.established}
                assert rrs <= up, f"router sessions down: {sorted(rrs - up)}"
                stale = [p for p in client.list_paths(ordered=False) if p.stale]
                assert not stale, f"router holds {len(stale)} stale paths"

        try:
            eventually(check, timeout, what="router sessions and fresh paths", context=self.logs_tail)
        except Timeout as err:
            raise LabError(str(err)) from None

    def status(self) -> dict[str, Any]:
        existing = set(list_netns())
        topo = self.topology
        return {
            "prefix": self.prefix,
            "up": self.is_up(),
            "lbs": topo.lbs,
            "rrs": topo.rrs,
            "services": [asdict(s) for s in topo.services],
            "namespaces": {ns: ns in existing for ns in self.state.namespaces},
            "processes": {
                name: {"pid": rec.pid, "alive": processes.is_alive(rec), "netns": rec.netns}
                for name, rec in self.state.processes.items()
            },
            "expected": {k: sorted(v) for k, v in topo.expected_next_hops().items()},
            "router_fib": {k: sorted(v) for k, v in self.router_fib().items()} if self.is_up() else {},
            "state_dir": str(self.dir),
        }

    def logs_tail(self, lines: int = 15) -> str:
        out = []
        for name, rec in self.state.processes.items():
            path = Path(rec.log)
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {name} ({path}) ---\n" + "\n".join(tail))
        return "\n".join(out)

    def add_namespace(self, suffix: str, address: str) -> str:
        """Another namespace on the lab's bridge (e.g. a benchmark's speaker farm), recorded
        like every other so that ``down`` removes it. ``suffix`` must be ``node<N>``-shaped."""
        name = f"{self.prefix}-{suffix}"
        if not self._named_like_ours(name):
            raise LabError(f"namespace suffix {suffix!r}: use node<N> or lb<N>")
        self._add_netns(name)
        self._attach_to_bridge(name, suffix, address)
        return name

    def spawn(self, name: str, argv: list[str], netns: str | None, **kw: Any) -> ProcessRecord:
        """Start and record a process that ``down`` will end."""
        self._spawn(name, argv, netns, **kw)
        return self.state.processes[name]

    def socket(self, who: str) -> Path:
        return self.dir / who / "gobgp.sock"

    def restart(self, who: str, *, timeout: float = 10.0) -> float:
        """``kill -9`` the gobgpd of ``who`` (rr, rr2, router) and start it again.

        Returns the monotonic time at which the new gobgpd's API socket appeared: from then
        on it answers, and recovery is the rr manager's job, with no help from here.
        """
        self.kill(who)
        answered = self.start(who, timeout=timeout)
        log.info("lab.restarted", prefix=self.prefix, target=who)
        return answered

    def kill(self, who: str) -> None:
        """``kill -9`` the gobgpd of ``who``: its sessions drop without a NOTIFICATION."""
        processes.stop(self._gobgpd_record(who), sig=signal.SIGKILL, grace=2.0)

    def start(self, who: str, *, timeout: float = 10.0) -> float:
        """Start the gobgpd of ``who`` afresh; returns the monotonic time its API socket appeared."""
        name = f"gobgpd-{who}"
        record = self._gobgpd_record(who)
        if processes.is_alive(record):
            raise LabError(f"{name} of lab {self.prefix!r} is running (pid {record.pid})")
        socket = self.socket(who)
        socket.unlink(missing_ok=True)  # gobgpd refuses to start on a stale socket file
        self._spawn(name, daemons.gobgpd_argv(socket), record.netns)
        eventually(lambda: _assert_exists(socket), timeout, what=f"{name} API socket", context=self.logs_tail)
        return time.monotonic()

    def _gobgpd_record(self, who: str) -> ProcessRecord:
        record = self.state.processes.get(f"gobgpd-{who}")
        if record is None:
            known = sorted(n.removeprefix("gobgpd-") for n in self.state.processes if n.startswith("gobgpd-"))
            raise LabError(f"no gobgpd {who!r} in lab {self.prefix!r}; known: {', '.join(known)}")
        return record

    def metrics(self, who: str = "rr") -> str:
        """The Prometheus text a manager serves inside its namespace: the router's, or an RR's
        (dynamic-neighbor mode)."""
        if who == "router":
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

    # --- building ---------------------------------------------------------------------------

    def _save(self) -> None:
        self.state.save(self.root)

    def _named_like_ours(self, ns: str) -> bool:
        return re.fullmatch(rf"{re.escape(self.prefix)}-(net|router|rr\d*|node\d+|lb\d+)", ns) is not None

    def _add_netns(self, name: str) -> None:
        if name not in self.state.namespaces:
            self.state.namespaces.append(name)
            self._save()  # recorded before it exists: a crash right after still cleans it up
        ip("netns", "add", name)
        ip("link", "set", "lo", "up", netns=name)

    def _veth(self, ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
        ip("link", "add", name_a, "netns", ns_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)

    def _attach_to_bridge(self, ns: str, port: str, address: str) -> None:
        net = self.topology.net_ns if self.state.namespaces else f"{self.prefix}-net"
        self._veth(ns, "eth0", net, port)
        ip("link", "set", port, "master", "br0", "up", netns=net)
        ip("addr", "add", address, "dev", "eth0", netns=ns)
        ip("link", "set", "eth0", "up", netns=ns)

    def _build_core(self, topo: Topology) -> None:
        self._add_netns(topo.net_ns)
        ip("link", "add", "br0", "type", "bridge", netns=topo.net_ns)
        ip("link", "set", "br0", "up", netns=topo.net_ns)
        self._add_netns(topo.router_ns)
        self._attach_to_bridge(topo.router_ns, "router", f"{ROUTER_IP}/24")
        # L4 hash: flows from one client spread over all next-hops
        sysctl(topo.router_ns, "net.ipv4.fib_multipath_hash_policy", "1")
        for j in range(1, topo.rrs + 1):
            self._add_netns(topo.rr_ns(j))
            self._attach_to_bridge(topo.rr_ns(j), f"rr{j}", f"{topo.rr_ip(j)}/24")

    def _build_node(self, topo: Topology, node: Node) -> None:
        node_ns, lb_ns = topo.node_ns(node.index), topo.lb_ns(node.index)
        self._add_netns(node_ns)
        self._attach_to_bridge(node_ns, f"node{node.index}", f"{node.ip}/24")
        sysctl(node_ns, "net.ipv4.ip_forward", "1")
        self._add_netns(lb_ns)
        self._veth(node_ns, "pod0", lb_ns, "eth0")
        ip("addr", "add", f"{node.pod_gateway}/24", "dev", "pod0", netns=node_ns)
        ip("link", "set", "pod0", "up", netns=node_ns)
        ip("addr", "add", f"{node.pod_ip}/24", "dev", "eth0", netns=lb_ns)
        ip("link", "set", "eth0", "up", netns=lb_ns)
        ip("route", "add", "default", "via", node.pod_gateway, netns=lb_ns)
        for vip in topo.vips_of(node.index):
            ip("addr", "add", vip, "dev", "lo", netns=lb_ns)
        # the node hands VIP traffic to its LB pod (seed Table 3.2 (2))
        ip("route", "add", str(VIP_POOL), "via", node.pod_ip, netns=node_ns)
        # each RR reaches this pod's BGP speaker through the node
        for j in range(1, topo.rrs + 1):
            ip("route", "replace", node.pod_subnet, "via", node.ip, netns=topo.rr_ns(j))

    def _spawn(self, name: str, argv: list[str], netns: str | None, **kw: Any) -> None:
        record = processes.spawn(name, argv, netns=netns, log=self.dir / "logs" / f"{name}.log", **kw)
        self.state.processes[name] = record
        self._save()

    def _start_core(self, topo: Topology) -> None:
        router_dir = self.dir / "router"
        router_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(router_dir, "frr", "frr")
        (router_dir / "zebra.conf").write_text(daemons.zebra_conf(f"{self.prefix}-router"))
        shutil.chown(router_dir / "zebra.conf", "frr", "frr")
        self._spawn("zebra", daemons.zebra_argv(router_dir), topo.router_ns)
        self._spawn("gobgpd-router", daemons.gobgpd_argv(self.socket("router")), topo.router_ns)
        for j in range(1, topo.rrs + 1):
            who = _rr_name(j)
            (self.dir / who).mkdir(parents=True, exist_ok=True)
            self._spawn(f"gobgpd-{who}", daemons.gobgpd_argv(self.socket(who)), topo.rr_ns(j))

        zserv = router_dir / "zserv.api"
        eventually(lambda: _assert_exists(zserv), 10, what="zebra's zserv.api", context=self.logs_tail)
        router_cfg = daemons.write_yaml(
            self.dir / "config" / "router.yaml",
            daemons.router_config(
                topo,
                self.socket("router"),
                zserv,
                graceful_restart=bool(self.state.graceful_restart),
                metrics_address=f"{ROUTER_IP}:{daemons.RR_METRICS_PORT}",
            ),
        )
        self._spawn("rr-manager-router", _rr_manager_argv(router_cfg), topo.router_ns)
        md5_file = self.dir / "config" / "lb-md5.key"
        if self.state.kube_api:
            md5_file.parent.mkdir(parents=True, exist_ok=True)
            md5_file.write_text(daemons.LAB_MD5_KEY + "\n")
            md5_file.chmod(0o600)
        for j in range(1, topo.rrs + 1):
            who = _rr_name(j)
            rr_cfg = daemons.rr_config(
                topo,
                j,
                self.socket(who),
                kube_api=self.state.kube_api,
                md5_file=md5_file,
                # metrics inside the RR's namespace, on its own address; in explicit-peer mode the
                # manager runs in the root namespace to reach the API server on loopback: no metrics
                metrics_address=None if self.state.kube_api else f"{topo.rr_ip(j)}:{daemons.RR_METRICS_PORT}",
                group_overrides=self.state.group_overrides,
                graceful_restart=self.state.graceful_restart,
            )
            cfg = daemons.write_yaml(self.dir / "config" / f"{who}.yaml", rr_cfg)
            # it talks to gobgpd over the unix socket either way
            self._spawn(
                f"rr-manager-{who}", _rr_manager_argv(cfg), None if self.state.kube_api else topo.rr_ns(j)
            )

    def _start_pod(self, topo: Topology, node: Node) -> None:
        lb = f"lb{node.index}"
        lb_dir = self.dir / lb
        lb_dir.mkdir(parents=True, exist_ok=True)
        for leftover in ("health", "maintenance", "drained"):
            (lb_dir / leftover).unlink(missing_ok=True)  # a scale back up is a new pod
        self._spawn(
            f"responder-{lb}",
            [
                str(daemons.VENV_BIN / "python"), "-m", "lbroute.lab.responder", "--name", lb, "--port", "80",
                "--health-file", str(lb_dir / "health"),
            ],
            topo.lb_ns(node.index),
        )  # fmt: skip
        md5_file = None
        if self.state.kube_api:  # explicit-peer mode: every session needs the key, some get a wrong one
            md5_file = lb_dir / "md5.key"
            md5 = daemons.WRONG_MD5_KEY if node.index in self.state.wrong_md5 else daemons.LAB_MD5_KEY
            md5_file.write_text(md5 + "\n")
            md5_file.chmod(0o600)
        ann_cfg = daemons.write_yaml(
            lb_dir / "announcer.yaml", daemons.announcer_config(topo, node, lb_dir, md5_file=md5_file)
        )
        conf = lb_dir / "exabgp.conf"
        rendered = subprocess.run(
            daemons.render_exabgp_argv(ann_cfg), capture_output=True, text=True, check=False
        )
        if rendered.returncode != 0:
            raise LabError(f"render-exabgp-config failed: {rendered.stderr.strip()}")
        text = rendered.stdout
        if node.index == self.state.rogue_lb:
            text = daemons.with_rogue_routes(text, node)
        conf.write_text(text)
        self._spawn(
            f"exabgp-{lb}",
            daemons.exabgp_argv(conf),
            topo.lb_ns(node.index),
            env=daemons.exabgp_env(),
            cwd=lb_dir,
        )

    def set_health(self, lb: int, mode: str) -> None:
        """``lab break|heal|flap``: what LB ``lb``'s health endpoint answers from now on."""
        if not self.is_up():
            raise LabError(f"lab {self.prefix!r} is not up")
        if not 1 <= lb <= self.state.lbs:
            raise LabError(f"lb{lb} does not exist; the lab has lb1..lb{self.state.lbs}")
        path = self.dir / f"lb{lb}" / "health"
        if mode == "ok":
            path.unlink(missing_ok=True)
        else:
            path.write_text(mode + "\n")
        log.info("lab.health", target=f"lb{lb}", op=mode)

    def announcer_pid(self, lb: int) -> int | None:
        """The API process exabgp runs for ``lb`` (its child), or None while it has none."""
        record = self.state.processes.get(f"exabgp-lb{lb}")
        if record is None or not processes.is_alive(record):
            return None
        children = processes.children_of(record.pid)
        return children[0] if children else None

    def drain(self, node: Node, timeout: float = 30.0) -> None:
        """Withdraw through the announcer's drain protocol and wait until the FIB has let go."""
        result = subprocess.run(
            daemons.drain_argv(self.dir / f"lb{node.index}", timeout),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            # the pod still goes away (exabgp's Cease withdraws), just not gracefully: say so
            log.warning("lab.drain.failed", target=f"lb{node.index}", error=result.stderr.strip()[-300:])

        def gone() -> None:
            fib = self.router_fib()
            still = [p for p, hops in fib.items() if node.ip in hops]
            assert not still, f"router FIB still sends {still} to {node.ip}"

        eventually(gone, timeout, what=f"lb{node.index} leaving the router's FIB", context=self.logs_tail)
        log.info("lab.drained", target=f"lb{node.index}", nexthop=node.ip)

    def _remove_node(self, topo: Topology, node: Node) -> None:
        lb = f"lb{node.index}"
        if f"exabgp-{lb}" in self.state.processes:
            self.drain(node)
        for name in (f"exabgp-{lb}", f"responder-{lb}"):
            record = self.state.processes.pop(name, None)
            if record is not None:
                # exabgp answers SIGTERM with a Cease NOTIFICATION: the RR withdraws at once
                processes.stop(record)
        # delete the veths now: a deleted namespace's links go away asynchronously, and a
        # quick scale back up would find their names still taken
        ip("link", "del", f"node{node.index}", netns=topo.net_ns, check=False)
        ip("link", "del", "pod0", netns=topo.node_ns(node.index), check=False)
        for ns in (topo.lb_ns(node.index), topo.node_ns(node.index)):
            self._kill_leftovers(ns)
            ip("netns", "del", ns, check=False)
            if ns in self.state.namespaces:
                self.state.namespaces.remove(ns)
        for j in range(1, topo.rrs + 1):
            ip("route", "del", node.pod_subnet, netns=topo.rr_ns(j), check=False)
        self._save()

    def _kill_leftovers(self, ns: str) -> None:
        """Processes still inside a namespace we created (e.g. exabgp's API child)."""
        result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
        for pid_text in result.stdout.split():
            pid = int(pid_text)
            started = processes.start_time_of(pid)
            if started is None:
                continue
            record = ProcessRecord(f"leftover-{pid}", pid, started, ns, [], "")
            processes.stop(record, grace=2.0)


_FETCH = (
    "import sys, urllib.request; "
    "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)


def _rr_name(j: int) -> str:
    return "rr" if j == 1 else f"rr{j}"


def _rr_manager_argv(cfg: Path) -> list[str]:
    return [str(daemons.VENV_BIN / "lbroute-rr"), "run", "--config", str(cfg)]


def _assert_exists(path: Path) -> None:
    assert path.exists(), f"{path} does not exist yet"


def _in_pool(prefix: str) -> bool:
    import ipaddress

    return ipaddress.ip_network(prefix).subnet_of(VIP_POOL)  # type: ignore[arg-type]


def _fmt(fib: dict[str, frozenset[str]]) -> str:
    return "{" + ", ".join(f"{k}: {sorted(v)}" for k, v in sorted(fib.items())) + "}"
