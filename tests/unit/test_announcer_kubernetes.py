"""Kubernetes mode: the real announcer process, the real kubernetes client, the HTTP-level fake
API server; this test plays exabgp. VIPs follow the Service, zero ready endpoints withdraw,
and an API server outage withdraws nothing (fail static)."""

from __future__ import annotations

import select
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lbroute.polling import until
from tests.fakes.kube_api import FakeKubeApi

from .test_announcer import PlayExabgp

NH = "10.0.0.11"


def service(*ips: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "front", "namespace": "web"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def endpoint_slice(*ready: bool) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "front-abc12",
            "namespace": "web",
            "labels": {"kubernetes.io/service-name": "front"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"172.16.9.{i + 10}"], "conditions": {"ready": r}} for i, r in enumerate(ready)
        ],
    }


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi().start()
    yield server
    server.stop()


@pytest.fixture
def exabgp(api: FakeKubeApi, tmp_path: Path) -> Iterator[PlayExabgp]:
    cfg = {
        "next_hop": NH,
        "services": [
            {
                "name": "web",
                "kubernetes": {"namespace": "web", "name": "front", "withdraw_without_endpoints": True},
            }
        ],
        "kubernetes": {"server": api.url},
    }
    path = tmp_path / "announcer.yaml"
    path.write_text(yaml.safe_dump(cfg))
    play = PlayExabgp(path)
    yield play
    if play.proc.poll() is None:
        play.proc.kill()
    play.finish()


def expect(exabgp: PlayExabgp, *commands: str, timeout: float = 10) -> None:
    got = set()
    for _ in commands:
        got.add(exabgp.read_command(timeout=timeout))
        exabgp.answer("done")
    assert got == set(commands)


def no_command_within(exabgp: PlayExabgp, seconds: float) -> None:
    assert exabgp.proc.stdout is not None
    ready, _, _ = select.select([exabgp.proc.stdout.fileno()], [], [], seconds)
    assert not ready and b"\n" not in exabgp.buffer, f"unexpected command: {exabgp.buffer!r}"


def test_vips_follow_the_service_and_endpoints_gate(api: FakeKubeApi, exabgp: PlayExabgp) -> None:
    api.put("endpointslices", endpoint_slice(True, False))
    api.put("services", service("10.1.1.1"))
    expect(exabgp, f"announce route 10.1.1.1/32 next-hop {NH}")
    api.put("services", service("10.1.1.1", "10.1.1.2"))
    expect(exabgp, f"announce route 10.1.1.2/32 next-hop {NH}")
    api.put("services", service("10.1.1.2"))
    expect(exabgp, f"withdraw route 10.1.1.1/32 next-hop {NH}")
    # the last ready endpoint goes: withdrawn; one comes back: announced
    api.put("endpointslices", endpoint_slice(False, False))
    expect(exabgp, f"withdraw route 10.1.1.2/32 next-hop {NH}")
    api.put("endpointslices", endpoint_slice(True))
    expect(exabgp, f"announce route 10.1.1.2/32 next-hop {NH}")
    api.delete("services", "front", "web")
    expect(exabgp, f"withdraw route 10.1.1.2/32 next-hop {NH}")


def test_api_server_down_for_30s_withdraws_nothing(api: FakeKubeApi, exabgp: PlayExabgp) -> None:
    api.put("endpointslices", endpoint_slice(True))
    api.put("services", service("10.1.1.1"))
    expect(exabgp, f"announce route 10.1.1.1/32 next-hop {NH}")
    api.go_down()
    no_command_within(exabgp, 30.0)  # the whole outage: not one command
    api.come_back()
    # the watches resume (after a back-off of up to 10 s): a change after the outage gets through
    api.put("services", service("10.1.1.1", "10.1.1.3"))
    expect(exabgp, f"announce route 10.1.1.3/32 next-hop {NH}", timeout=30)
    assert exabgp.proc.poll() is None


def test_never_listed_decides_nothing(api: FakeKubeApi, tmp_path: Path) -> None:
    """Started while the API server is unreachable: no VIP is known, so nothing is sent."""
    api.go_down()
    cfg = {
        "next_hop": NH,
        "services": [{"name": "web", "kubernetes": {"namespace": "web", "name": "front"}}],
        "kubernetes": {"server": api.url},
    }
    path = tmp_path / "announcer.yaml"
    path.write_text(yaml.safe_dump(cfg))
    play = PlayExabgp(path)
    try:
        no_command_within(play, 2.0)
        api.put("services", service("10.1.1.1"))
        api.come_back()
        assert play.read_command(timeout=20) == f"announce route 10.1.1.1/32 next-hop {NH}"
        play.answer("done")
        until(lambda: play.proc.poll() is None, 1, what="announcer alive")
    finally:
        play.proc.kill()
        play.finish()
