"""compose.yaml, started with podman-compose 1.6.0 and this tree's images: the router
container's kernel FIB gets the ECMP route, nothing has a route out, and ``down`` leaves
no container, volume or network behind.

podman-compose runs in a namespace of the test's own (``nsenter --net``), so the compose
network's bridge and its 10.0.0.254 live there and not in the root namespace. Runs are
serialized by a lock: two compose projects on one machine cannot both have 10.0.0.0/24.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from lbroute.kernel.ip import ip
from lbroute.lab.podman import environment, podman
from lbroute.polling import eventually
from tests.support.images import built_images
from tests.support.lab import unique_prefix

pytestmark = pytest.mark.images
log = structlog.get_logger()
ROOT = Path(__file__).parents[2]
PODMAN_COMPOSE = Path(sys.executable).parent / "podman-compose"
LOCK = Path("/run/lbroute-compose.lock")
VIP = "10.1.1.1"


class Project:
    def __init__(self, name: str, netns: str, env: dict[str, str]) -> None:
        self.name, self.netns, self.env = name, netns, env

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [
            "nsenter", f"--net=/run/netns/{self.netns}",
            str(PODMAN_COMPOSE), "-p", self.name, "-f", str(ROOT / "compose.yaml"), *args,
        ]  # fmt: skip
        return subprocess.run(
            argv, capture_output=True, text=True, env=self.env, timeout=timeout, check=False
        )

    def container(self, service: str) -> str:
        return f"{self.name}_{service}_1"

    def routes(self, service: str, *args: str) -> list[dict[str, object]]:
        out = podman("exec", self.container(service), "ip", "-j", "route", "show", *args).stdout
        return json.loads(out) if out.strip() else []

    def leftovers(self) -> list[str]:
        label = f"label=io.podman.compose.project={self.name}"
        found = podman("ps", "--all", "--format", "{{.Names}}", "--filter", label).stdout.split()
        found += podman("volume", "ls", "--format", "{{.Name}}", "--filter", label).stdout.split()
        networks = podman("network", "ls", "--format", "{{.Name}}").stdout.split()
        return found + [n for n in networks if n.startswith(f"{self.name}_")]

    def logs(self) -> str:
        names = podman("ps", "--all", "--format", "{{.Names}}", "--filter", f"name={self.name}_").stdout
        return "\n".join(
            f"--- {n} ---\n" + podman("logs", "--tail", "10", n, check=False).stderr[-1500:]
            for n in names.split()
        )


@pytest.fixture
def project() -> Iterator[Project]:
    images = built_images()
    if not PODMAN_COMPOSE.exists():
        pytest.fail(f"{PODMAN_COMPOSE} is missing; `make setup` installs podman-compose (dev extra)")
    name = "c" + unique_prefix()
    netns = f"{name}-compose"
    env = {
        **environment(),
        "LBROUTE_ANNOUNCER_IMAGE": images.announcer,
        "LBROUTE_CONTROL_PLANE_IMAGE": images.control_plane,
    }
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another checkout's compose test finishes first
        ip("netns", "add", netns)
        try:
            ip("link", "set", "lo", "up", netns=netns)
            yield Project(name, netns, env)
        finally:
            proj = Project(name, netns, env)
            proj.compose("down", "-v", "-t", "5")
            # whatever a failed run left: by the project's label and name, never by pattern
            label = f"label=io.podman.compose.project={name}"
            for cid in podman("ps", "--all", "--quiet", "--filter", label).stdout.split():
                podman("rm", "--force", "--time", "0", cid, check=False)
            for volume in podman("volume", "ls", "--quiet", "--filter", label).stdout.split():
                podman("volume", "rm", "--force", volume, check=False)
            podman("network", "rm", "--force", f"{name}_fabric", check=False)
            ip("netns", "del", netns, check=False)


def test_compose_up_gives_the_router_the_ecmp_route_and_down_leaves_nothing(project: Project) -> None:
    root_links_before = {link["ifname"] for link in json.loads(ip("-j", "link", "show"))}
    started = time.monotonic()
    up = project.compose("up", "-d", "--no-build")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]

    def ecmp() -> None:
        [route] = project.routes("router-zebra", VIP) or [{}]
        hops = {hop["gateway"] for hop in route.get("nexthops", [])}  # type: ignore[attr-defined]
        assert route.get("protocol") == "bgp" and hops == {"10.0.0.11", "10.0.0.12"}, route

    eventually(ecmp, 60, what="ECMP route in the router container's FIB", context=project.logs)
    converged = time.monotonic() - started
    # no route out: only the fabric's own /24 in every container, and nothing beyond it is reachable
    for service in ("router-zebra", "rr-gobgpd", "lb1", "lb2"):
        # the router's one other route is the VIP's, from BGP
        expected = {"10.0.0.0/24", VIP} if service == "router-zebra" else {"10.0.0.0/24"}
        assert {str(r["dst"]) for r in project.routes(service)} == expected, service
        out = podman("exec", project.container(service), "ip", "route", "get", "192.0.2.1", check=False)
        assert out.returncode != 0 and "unreachable" in out.stderr, (service, out.stdout)
    hash_policy = podman(
        "exec", project.container("router-zebra"), "cat", "/proc/sys/net/ipv4/fib_multipath_hash_policy"
    )
    assert hash_policy.stdout.strip() == "1"
    # the bridge is in the test's namespace; the root namespace got no interface
    assert any(
        link["ifname"].startswith("podman")
        for link in json.loads(ip("-j", "link", "show", netns=project.netns))
    )
    assert {link["ifname"] for link in json.loads(ip("-j", "link", "show"))} == root_links_before
    down = project.compose("down", "-v", "-t", "10")
    assert down.returncode == 0, down.stderr[-2000:]
    assert project.leftovers() == []
    log.info("test.compose.converged", seconds=round(converged, 1))
