"""Kubernetes mode end to end: the real announcer process, the real kubernetes client, the
HTTP-level fake API server; this test plays exabgp. VIPs follow the Service and zero ready
endpoints withdraw. (Outages, on the informers' fake clock: tests/unit/test_announcer_kubernetes.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.fakes.kube_api import FakeKubeApi
from tests.support.exabgp_play import PlayExabgp, expect
from tests.support.kube_objects import endpoint_slice, service

NH = "10.0.0.11"


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
    play.kill()


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
