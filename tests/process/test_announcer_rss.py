"""The announcer's own resident memory, once started, stays within 40 MB (exabgp's is apart):
it imports what its mode needs, when it needs it (issue 15). prometheus_client only with
metrics on, the kubernetes client only in Kubernetes mode, and never rich (announcer/__init__.py).
Measured in this venv, where rich is installed and the images' Python is not: 39.8 MB."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.announcer import rss_kib
from tests.support.dataplane import free_port
from tests.support.exabgp_play import PlayExabgp, expect

NH = "10.0.0.11"
LIMIT_KIB = 40 * 1024


@pytest.mark.parametrize("metrics", [False, True], ids=["plain", "metrics"])
def test_a_started_announcer_is_within_40_mb(tmp_path: Path, metrics: bool) -> None:
    config = tmp_path / "announcer.yaml"
    text = f"next_hop: {NH}\ndrain_seconds: 0\nservices:\n  - name: web\n    vips: [10.1.1.1/32]\n"
    if metrics:
        text += f"metrics: {{address: 127.0.0.1, port: {free_port()}}}\n"
    config.write_text(text)
    exabgp = PlayExabgp(config)
    try:
        # started: its listeners are open and its first command was acknowledged
        expect(exabgp, f"announce route 10.1.1.1/32 next-hop {NH}")
        rss = rss_kib(exabgp.proc.pid)
        assert rss <= LIMIT_KIB, f"the announcer's RSS is {rss / 1024:.1f} MB, over 40 MB"
    finally:
        exabgp.kill()
