"""The lab's FRR router (``lab up --router frr``): FRR 8.4's bgpd beside its zebra in the router
namespace, in place of gobgpd + ``lbroute-rr``, configured by one rendered frr.conf.

bgpd runs like the lab's zebra: as user frr, with the lab's router directory for its config,
PID file, vty socket and log, and zebra's zserv socket there. It is read through ``vtysh
--vty_socket`` (``lbroute.frr.vtysh``), which is what an operator of an FRR router has too.
The config is ``lbroute.frr.frr_conf.render``'s, the one docs/routers.md shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lbroute.core.rib import Path as BgpPath
from lbroute.core.session import Session
from lbroute.frr.frr_conf import FrrRouter, RrNeighbor, render
from lbroute.frr.vtysh import Vtysh

from . import daemons
from .scenario import Scenario
from .topology import ASN, ROUTER_IP, Topology

BGPD = Path("/usr/lib/frr/bgpd")
# what the lab calls the router's BGP daemon of each kind (its process record, `lab restart router`)
BGP_DAEMON = {"gobgp": "gobgpd-router", "frr": "bgpd"}


def frr_router(topo: Topology, scenario: Scenario) -> FrrRouter:
    """The lab's router, as the renderer takes it: iBGP to every RR, helper for graceful restart
    when the RRs advertise it, the same timers the RRs use towards the router."""
    hold, keepalive = daemons.ROUTER_RR_TIMERS
    return FrrRouter(
        hostname=topo.router_ns,
        asn=ASN,
        router_id=ROUTER_IP,
        update_source=ROUTER_IP,
        rrs=tuple(
            RrNeighbor(topo.rr_ip(j), graceful_restart=bool(scenario.graceful_restart))
            for j in range(1, topo.rrs + 1)
        ),
        hold_time=hold,
        keepalive=keepalive,
        families=tuple(topo.families),
    )


def write_frr_conf(router_dir: Path, topo: Topology, scenario: Scenario) -> Path:
    """frr.conf, 0600 and owned by frr (bgpd reads it after dropping to that user; it would hold
    the MD5 key of a router that has one)."""
    path = daemons.write_private(router_dir / "frr.conf", render(frr_router(topo, scenario)))
    shutil.chown(path, "frr", "frr")
    return path


def bgpd_argv(directory: Path) -> list[str]:
    """bgpd with the lab's router directory for everything, no TCP vty (``-P 0``), as user frr."""
    return [
        str(BGPD),
        "-f", str(directory / "frr.conf"),
        "-i", str(directory / "bgpd.pid"),
        "-z", str(directory / "zserv.api"),
        "--vty_socket", str(directory),
        "-l", ROUTER_IP,
        "-P", "0",
        "-u", "frr",
        "-g", "frr",
        "--log", f"file:{directory / 'bgpd.log'}",
    ]  # fmt: skip


def vty_socket(directory: Path) -> Path:
    """What appears when bgpd answers: its vty socket."""
    return directory / "bgpd.vty"


class FrrRib:
    """The FRR router's RIB and sessions, read through vtysh (one process per read)."""

    def __init__(self, directory: Path, timeout: float = 5.0) -> None:
        self.vtysh = Vtysh(str(directory), timeout=timeout)

    def sessions(self) -> list[Session]:
        return self.vtysh.list_sessions("router")

    def paths(self, prefixes: tuple[str, ...] = ()) -> list[BgpPath]:
        return self.vtysh.list_paths(prefixes=prefixes)
