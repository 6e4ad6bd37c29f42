"""Traffic through the lab: bounded request loops from the router's namespace to a VIP.

Each request is a new TCP connection, so a new source port and a new ECMP hash; the loop
itself (``request_loop``) runs inside the namespace and reports answers per LB. Requests
go only to lab addresses, and never more than ``MAX_REQUESTS`` of them.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lbroute.core.echo import shown
from lbroute.kernel.ip import netns_exec
from lbroute.polling import eventually

from .daemons import VENV_BIN
from .errors import LabError
from .request_loop import MAX_REQUESTS
from .topology import VIP_POOLS, in_vip_pools

T = TypeVar("T")

__all__ = ["MAX_REQUESTS", "check_request", "logged", "probe", "probe_during"]


def check_request(vip: str, count: int) -> None:
    """A ``LabError`` unless ``vip`` is an address in the lab's pool and ``count`` within bounds."""
    if not 1 <= count <= MAX_REQUESTS:
        raise LabError(f"count {count}: send between 1 and {MAX_REQUESTS} requests")
    try:
        address = ipaddress.ip_address(vip)
    except ValueError:
        raise LabError(f"vip {shown(vip)}: not an address such as 10.1.1.1 or 2001:db8:1::1") from None
    if not in_vip_pools(ipaddress.ip_network(address)):
        pools = " and ".join(str(p) for p in VIP_POOLS)
        raise LabError(f"vip {vip}: requests go only to the lab's VIP pools {pools}")


def _loop_argv(netns: str, vip: str, count: int, *extra: str) -> list[str]:
    return netns_exec(
        netns, str(VENV_BIN / "python"), "-m", "lbroute.lab.request_loop", "--host", vip,
        "--count", str(count), *extra,
    )  # fmt: skip


def probe(netns: str, vip: str, count: int) -> dict[str, Any]:
    """``count`` requests from inside ``netns`` (the router's) to ``vip``, one after the other."""
    check_request(vip, count)
    out = subprocess.run(_loop_argv(netns, vip, count), capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def probe_during(
    netns: str, vip: str, count: int, interval: float, disruption: Callable[[], T], *, warm_up: int = 20
) -> tuple[dict[str, Any], T]:
    """``count`` requests to ``vip``, one every ``interval`` s, from inside ``netns``; once
    ``warm_up`` of them are sent, ``disruption()`` runs. Returns the loop's result and what
    ``disruption`` returned. The request loop is ended on any failure."""
    check_request(vip, count)
    with tempfile.TemporaryDirectory(prefix="lbroute-probe-") as tmp:
        progress = Path(tmp) / "progress"
        argv = _loop_argv(netns, vip, count, "--interval", str(interval), "--progress-file", str(progress))
        loop = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:

            def under_way() -> None:
                sent = int(progress.read_text() or 0) if progress.exists() else 0
                assert sent >= warm_up, f"the request loop has sent {sent}"

            eventually(under_way, 30, what="the request loop under way")
            outcome = disruption()
            out, _ = loop.communicate(timeout=count * (interval + 2.5) + 30)
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.communicate()
    result: dict[str, Any] = json.loads(out)
    return result, outcome


def logged(netns: str, vip: str, count: int, interval: float, log: Path) -> subprocess.Popen[str]:
    """Start ``count`` requests to ``vip`` from inside ``netns``, one every ``interval`` s, each
    written to ``log`` as it ends (``request_loop --log-file``); the caller waits for or ends it."""
    check_request(vip, count)
    argv = _loop_argv(netns, vip, count, "--interval", str(interval), "--log-file", str(log))
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
