"""The controller's passes against a kernel that behaves: a fake that holds one table and
applies a pass all or nothing, refusing when told to (as ``nft -f`` does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplane.config import DataplaneConfig
from dataplane.controller import Controller
from dataplane.drivers import Converged, LoadFailed
from dataplane.metrics import DataplaneMetrics
from lbroute.config import load_config_text
from lbroute.core.dataplane import Dataplane, parse_status

CONFIG = """
driver: nft-nat
pod_networks: [172.16.0.0/16]
maglev: {table_size: 251, seed: 9}
services:
  - name: web
    vip: 10.1.1.1
    port: 80
    backends: [172.16.1.10, 172.16.2.10]
"""


class FakeKernel:
    name = "nft-nat"

    def __init__(self) -> None:
        self.held: Dataplane | None = None
        self.writes = 0
        self.refuse = False

    def prepare(self) -> None:
        pass

    def converge(self, dp: Dataplane) -> Converged:
        if self.held == dp:
            return Converged(False, "none")
        if self.refuse:
            raise LoadFailed("nft -f -: Error: Could not process rule: No space left on device")
        self.held = dp
        self.writes += 1
        return Converged(True, "elements", ("map web_buckets differs",))

    def differences(self, dp: Dataplane) -> list[str]:
        return [] if self.held == dp else ["map web_buckets differs"]


def controller(tmp_path: Path, text: str = CONFIG) -> tuple[Controller, FakeKernel]:
    cfg = load_config_text(text + f"status_file: {tmp_path / 'status.json'}\n", DataplaneConfig)
    kernel = FakeKernel()
    return Controller(cfg, kernel, DataplaneMetrics.create(), clock=lambda: 1000.0), kernel


def sample(c: Controller, name: str, **labels: str) -> float:
    value = c.metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


def test_a_pass_loads_once_then_writes_nothing(tmp_path: Path) -> None:
    c, kernel = controller(tmp_path)
    c.reconcile()
    c.reconcile()
    assert kernel.writes == 1 and c.generation == 1 and c.in_sync
    status = parse_status((tmp_path / "status.json").read_text())
    assert status.in_sync and status.synced and status.generation == 1
    web = status.service("web")
    assert web is not None and web.ready == 2
    assert sample(c, "lbroute_dataplane_loads_total", how="elements") == 1


def test_a_refused_table_keeps_the_last_good_one_and_says_so(tmp_path: Path) -> None:
    c, kernel = controller(tmp_path)
    c.reconcile()
    good = kernel.held
    kernel.refuse = True
    c.reload(load_config_text(CONFIG.replace("172.16.2.10]", "172.16.2.10, 172.16.3.10]")
                              + f"status_file: {tmp_path / 'status.json'}\n", DataplaneConfig))  # fmt: skip
    delay = c.reconcile()
    assert kernel.held is good  # nothing of the new table
    assert c.good is good and c.in_sync  # the kernel holds what the controller stands behind
    assert "No space left" in c.error and delay < c.cfg.resync_interval
    assert sample(c, "lbroute_dataplane_load_errors_total") == 1
    status = parse_status((tmp_path / "status.json").read_text())
    assert status.in_sync and "No space left" in status.error
    kernel.refuse = False
    c.reconcile()
    assert kernel.held is not good and c.error == "" and c.generation == 2


def test_zero_backends_keep_the_table_and_count_once(tmp_path: Path) -> None:
    c, kernel = controller(tmp_path)
    c.reconcile()
    first = kernel.held
    assert first is not None
    text = CONFIG.replace("backends: [172.16.1.10, 172.16.2.10]", "backends: []\n    draining: [172.16.1.10]")
    assert c.reload(load_config_text(text + f"status_file: {tmp_path / 'status.json'}\n", DataplaneConfig))
    c.reconcile()
    c.reconcile()
    held = kernel.held
    assert held is not None and held.tables[0].buckets == first.tables[0].buckets
    assert held.tables[0].ready == 0
    assert sample(c, "lbroute_dataplane_input_errors_total", kind="no_backends") == 1
    web = parse_status((tmp_path / "status.json").read_text()).service("web")
    assert web is not None and web.ready == 0 and web.in_table == ("172.16.1.10", "172.16.2.10")


def test_a_kernel_changed_behind_our_back_is_put_back(tmp_path: Path) -> None:
    c, kernel = controller(tmp_path)
    c.reconcile()
    kernel.held = None  # someone deleted our table
    c.reconcile()
    assert kernel.writes == 2 and c.in_sync


@pytest.mark.parametrize(
    ("old", "new"), [("driver: nft-nat", "driver: nft-dsr"), ("seed: 9}", "seed: 9}\nnetns: x")]
)
def test_a_reload_that_needs_a_restart_is_refused_and_the_old_config_runs(
    tmp_path: Path, old: str, new: str
) -> None:
    c, _ = controller(tmp_path)
    text = CONFIG.replace(old, new).replace("port: 80", "port: 80\n    dscp: 3")
    assert not c.reload(
        load_config_text(text + f"status_file: {tmp_path / 'status.json'}\n", DataplaneConfig)
    )
    assert c.cfg.driver == "nft-nat" and c.cfg.netns is None
    assert sample(c, "lbroute_dataplane_config_reloads_total", result="refused") == 1
