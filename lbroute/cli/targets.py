"""Where the inspection commands read from, and reading it with errors that say what to check.

Targets come from flags, else the environment: one or more RR gobgpds (``--rr``,
repeatable, or ``LBROUTE_RR=a,b``), the router's gobgpd (``--router``), the network
namespace of the router's kernel FIB (``--router-netns``; default: this host's) and the
VIP pools (``--vip-pool``) whose FIB routes count as VIPs even when BGP knows nothing of
them. ``--lab PREFIX`` takes all of them from a running lab instead (and refuses the other
target flags beside it). A command that needs a gobgpd and is given no target at all, by
flag or environment, uses the lab when exactly one is running, and says so on stderr.

Every read that fails becomes a ``TargetError`` naming the target and what to check.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lbroute.core.bgp import Family
from lbroute.core.guard import Guard, NodeMap
from lbroute.core.rib import FibRoute, Path
from lbroute.core.session import Session
from lbroute.frr.vtysh import Vtysh, VtyshError
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpError
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import IpCommandError
from lbroute.lab.lab import Lab, running_labs
from lbroute.lab.topology import VIP_POOLS

from .argtypes import lab_name, network, rpc_timeout, target, target_problem, vty_directory
from .errors import TargetError

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Daemon:
    """One BGP daemon: a short name for tables (``rr``, ``rr2``, ``router``) and where to read it:
    a gobgpd's gRPC address, or (kind ``frr``, a lab's FRR router) bgpd's vty socket directory."""

    name: str
    address: str
    role: str  # "RR" or "router", for messages
    kind: str = "gobgpd"  # or "frr": read through vtysh


@dataclass(frozen=True)
class Targets:
    rrs: tuple[Daemon, ...]
    router: Daemon | None
    router_netns: str | None
    vip_pools: tuple[str, ...]
    timeout: float

    @property
    def daemons(self) -> tuple[Daemon, ...]:
        return (*self.rrs, *((self.router,) if self.router else ()))

    # when no target was given and no single lab stood in: the labs that run, if several
    labs_running: tuple[str, ...] = ()
    # the lab these targets came from (--lab, or the one lab running), "" for none
    lab: str = ""

    def need_rrs(self) -> tuple[Daemon, ...]:
        if not self.rrs:
            raise TargetError(
                "no RR target: pass --rr unix:///path/gobgp.sock or HOST:PORT (or set LBROUTE_RR), "
                f"or --lab PREFIX{self._labs_hint()}"
            )
        return self.rrs

    def need_daemons(self) -> tuple[Daemon, ...]:
        if not self.daemons:
            raise TargetError(
                "no BGP daemon target: pass --rr and/or --router or --router-vtysh (or set LBROUTE_RR / "
                "LBROUTE_ROUTER / LBROUTE_ROUTER_VTYSH), "
                f"or --lab PREFIX{self._labs_hint()}"
            )
        return self.daemons

    def _labs_hint(self) -> str:
        return f" (labs running: {', '.join(self.labs_running)})" if self.labs_running else ""


def add_target_args(
    p: argparse.ArgumentParser, *, gobgpd: bool = True, fib: bool = True, pools: bool = False
) -> None:
    """The target flags a command needs: gobgpds, the router's FIB, the VIP pools."""
    g = p.add_argument_group("targets (a flag wins over its environment variable; --lab sets them all)")
    if gobgpd:
        g.add_argument(
            "--rr",
            action="append",
            type=target,
            metavar="TARGET",
            help="an RR gobgpd's gRPC address: unix:///path, /path or HOST:PORT; repeat for "
            "redundant RRs ($LBROUTE_RR, comma-separated)",
        )
        g.add_argument(
            "--router", type=target, metavar="TARGET", help="the router's gobgpd ($LBROUTE_ROUTER)"
        )
        g.add_argument(
            "--router-vtysh",
            type=vty_directory,
            metavar="DIR",
            help="an FRR router instead: the directory of bgpd's vty socket (its --vty_socket, "
            "/var/run/frr by default), read through vtysh ($LBROUTE_ROUTER_VTYSH)",
        )
    if fib:
        g.add_argument(
            "--router-netns",
            metavar="NETNS",
            help="network namespace of the router's kernel FIB ($LBROUTE_ROUTER_NETNS); default: this host's",
        )
    if pools:
        g.add_argument(
            "--vip-pool",
            action="append",
            type=network,
            metavar="CIDR",
            help="FIB routes inside this range are VIPs even if BGP has no path for them; "
            "repeatable ($LBROUTE_VIP_POOL, comma-separated; --lab adds the lab's pools)",
        )
    g.add_argument(
        "--lab",
        type=lab_name,
        metavar="LAB",
        help="take every target from the running lab with this prefix (not with the other target "
        "flags; default: the one lab running, when no target is given at all)",
    )
    if gobgpd:
        g.add_argument(
            "--rpc-timeout",
            type=rpc_timeout,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help="deadline for each gobgpd read (default %(default)gs, at most 600)",
        )


def resolve(
    args: argparse.Namespace,
    env: dict[str, str] | None = None,
    *,
    labs: Callable[[], list[str]] = running_labs,
) -> Targets:
    """The targets of a command, from its flags, else ``env``; ``labs`` lists the running labs."""
    env = dict(os.environ) if env is None else env
    rr_flags: list[str] = getattr(args, "rr", None) or []
    router_flag: str | None = getattr(args, "router", None)
    vtysh_flag: str | None = getattr(args, "router_vtysh", None)
    netns_flag: str | None = getattr(args, "router_netns", None)
    pool_flags: list[str] = getattr(args, "vip_pool", None) or []
    timeout: float = getattr(args, "rpc_timeout", DEFAULT_TIMEOUT)

    try:
        pools = [*pool_flags, *(network(p) for p in _split(env.get("LBROUTE_VIP_POOL", "")))]
    except argparse.ArgumentTypeError as err:
        raise TargetError(f"LBROUTE_VIP_POOL: {err}") from None
    if args.lab:
        beside = [flag for flag, given in (("--rr", rr_flags), ("--router", router_flag),
                                           ("--router-vtysh", vtysh_flag),
                                           ("--router-netns", netns_flag)) if given]  # fmt: skip
        if beside:
            raise TargetError(
                f"--lab {args.lab} sets every target itself; drop {' and '.join(beside)} "
                "(or drop --lab to name the targets one by one)"
            )
        return lab_targets(Lab(args.lab), pools, timeout)

    rr_addresses = rr_flags or _checked(_split(env.get("LBROUTE_RR", "")), "LBROUTE_RR")
    names = ["rr"] if len(rr_addresses) == 1 else [f"rr{i}" for i in range(1, len(rr_addresses) + 1)]
    rrs = tuple(Daemon(name, address, "RR") for name, address in zip(names, rr_addresses, strict=True))
    router_address = router_flag or env.get("LBROUTE_ROUTER") or None
    if router_address and not router_flag:
        _checked([router_address], "LBROUTE_ROUTER")
    router = Daemon("router", router_address, "router") if router_address else None
    vtysh_dir = vtysh_flag or env.get("LBROUTE_ROUTER_VTYSH") or None
    if vtysh_dir and not vtysh_flag:
        try:
            vty_directory(vtysh_dir)
        except argparse.ArgumentTypeError as err:
            raise TargetError(f"LBROUTE_ROUTER_VTYSH: {err}") from None
    if vtysh_dir:
        if router is not None:
            raise TargetError(
                "the router is either a gobgpd (--router, $LBROUTE_ROUTER) or an FRR bgpd "
                "(--router-vtysh, $LBROUTE_ROUTER_VTYSH): give one of them"
            )
        router = Daemon("router", vtysh_dir, "router", kind="frr")
    netns = netns_flag or env.get("LBROUTE_ROUTER_NETNS") or None
    found = Targets(rrs, router, netns, tuple(dict.fromkeys(pools)), timeout)
    if hasattr(args, "rr") and not (rrs or router or netns):
        running = labs()
        if len(running) == 1:
            print(
                f"lbroute: no target given; reading lab {running[0]!r}, the only one running "
                f"(as --lab {running[0]})",
                file=sys.stderr,
            )
            return lab_targets(Lab(running[0]), pools, timeout)
        return Targets(rrs, router, netns, found.vip_pools, timeout, labs_running=tuple(running))
    return found


def lab_targets(lab: Lab, pools: list[str], timeout: float = DEFAULT_TIMEOUT) -> Targets:
    """Every target of a running lab: its RRs, its router and the router's namespace."""
    if not lab.is_up():
        raise TargetError(
            f"lab {lab.prefix!r} is not up; start it with `lbroute lab up --prefix {lab.prefix}`"
        )
    sockets = sorted(lab.dir.glob("rr*/gobgp.sock"), key=lambda s: (len(s.parent.name), s.parent.name))
    rrs = tuple(Daemon(s.parent.name, f"unix://{s}", "RR") for s in sockets)
    if lab.router_kind == "frr":
        lab_router = Daemon("router", str(lab.router_dir), "router", kind="frr")
    else:
        lab_router = Daemon("router", f"unix://{lab.socket('router')}", "router")
    lab_pools = tuple(dict.fromkeys([*(str(pool) for pool in VIP_POOLS), *pools]))
    return Targets(rrs, lab_router, lab.topology.router_ns, lab_pools, timeout, lab=lab.prefix)


def _checked(addresses: list[str], variable: str) -> list[str]:
    for address in addresses:
        problem = target_problem(address)
        if problem:
            raise TargetError(f"{variable}: {problem}")
    return addresses


# --- reading, with errors an operator can act on ---------------------------------------------


def read_node_map(daemon: Daemon, timeout: float) -> NodeMap:
    """Where the speakers live, from the RR's guard-rail policy (empty without ``nodes``)."""
    with _talking_to(daemon, timeout) as client:
        return Guard(client.observe()).nodes()


def read_paths(
    daemon: Daemon, timeout: float, *, prefixes: tuple[str, ...] = (), with_attributes: bool = False
) -> list[Path]:
    """``with_attributes``: also what best-path selection compares (gobgpd only: FRR's paths
    come without)."""
    if daemon.kind == "frr":
        with _vtysh_of(daemon, timeout) as vtysh:
            out: list[Path] = []
            for family, version in (("ipv4", 4), ("ipv6", 6)):
                mine = tuple(p for p in prefixes if ipaddress.ip_network(p, strict=False).version == version)
                if prefixes and not mine:
                    continue
                out += vtysh.list_paths(prefixes=mine, family=family)
            return out
    with _talking_to(daemon, timeout) as client:
        return paths_of_both_families(client, prefixes, with_attributes=with_attributes)


def paths_of_both_families(
    client: GobgpClient, prefixes: tuple[str, ...] = (), *, with_attributes: bool = False
) -> list[Path]:
    """IPv4 then IPv6 unicast paths (gobgpd lists one family per call); with ``prefixes``, only
    the families they are of."""
    out: list[Path] = []
    for family, version in ((Family.IPV4_UNICAST, 4), (Family.IPV6_UNICAST, 6)):
        mine = tuple(p for p in prefixes if ipaddress.ip_network(p, strict=False).version == version)
        if prefixes and not mine:
            continue
        out += client.list_paths(family, prefixes=mine, ordered=False, with_attributes=with_attributes)
    return out


def read_sessions(daemon: Daemon, timeout: float) -> list[Session]:
    if daemon.kind == "frr":
        with _vtysh_of(daemon, timeout) as vtysh:
            return vtysh.list_sessions(daemon.name)
    with _talking_to(daemon, timeout) as client:
        return client.list_sessions(daemon.name)


def read_kernel_fib(targets: Targets, prefix: str | None = None) -> list[FibRoute]:
    try:
        return read_fib(targets.router_netns, prefix=prefix)
    except IpCommandError as err:
        where = f"network namespace {targets.router_netns!r}" if targets.router_netns else "this host"
        raise TargetError(
            f"cannot read the kernel FIB in {where} ({err.stderr.strip()}); "
            "check `ip netns list` and that lbroute runs as root"
        ) from None


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """For a command that builds a large RIB at once and then exits.

    A 64k-path read allocates a few hundred thousand objects in a burst, which sets off
    Python's cyclic collector again and again, each pass walking everything allocated so
    far; none of it forms cycles (reference counting frees it). Measured in
    docs/benchmarks-cli.md.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def unreachable(daemon: Daemon, err: GobgpError) -> TargetError:
    if err.status == "DEADLINE_EXCEEDED":
        hint = "it did not answer in time: check that it runs, or raise --rpc-timeout for a very large RIB"
    else:
        hint = "check that gobgpd runs and that its --api-hosts names this address"
    return TargetError(f"{daemon.role} gobgpd at {daemon.address} failed ({err}); {hint}")


@contextmanager
def _talking_to(daemon: Daemon, timeout: float) -> Iterator[GobgpClient]:
    """A client for one read; a gRPC failure becomes a ``TargetError`` naming the daemon."""
    try:
        with GobgpClient(daemon.address, timeout=timeout) as client:
            yield client
    except GobgpError as err:
        raise unreachable(daemon, err) from None


@contextmanager
def _vtysh_of(daemon: Daemon, timeout: float) -> Iterator[Vtysh]:
    """FRR's bgpd for one read; a failure becomes a ``TargetError`` naming where it was read."""
    try:
        yield Vtysh(daemon.address, timeout=timeout)
    except VtyshError as err:
        raise TargetError(
            f"{daemon.role} FRR bgpd (vtysh --vty_socket {daemon.address}) failed ({err}); "
            "check that bgpd runs and that its --vty_socket names this directory"
        ) from None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
