"""The announcer's ``dataplane`` check reads lbroute-dataplane's status file: what passes,
what fails and says why, and a config that forgets the file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from announcer.config import AnnouncerConfig, HealthCheckConfig
from announcer.probes import run_probe
from lbroute.config import ConfigError, load_config_text
from lbroute.core.dataplane import Dataplane, Endpoint, ServiceSpec, next_table, status_json, status_of


def write_status(path: Path, *, ready: bool = True, age: float = 0.0, in_sync: bool = True) -> None:
    spec = ServiceSpec("web", "10.1.1.1", 80, 80)
    kept = next_table(spec, [Endpoint("172.16.1.10")], None, 251, 1)
    table = next_table(spec, [Endpoint("172.16.1.10", ready=ready)], kept, 251, 1)
    dp = Dataplane((table,), 251, 1)
    status = status_of("nft-nat", dp, now=time.time() - age, synced=True, in_sync=in_sync, generation=1)
    path.write_text(status_json(status))


def check(path: Path, **extra: object) -> HealthCheckConfig:
    return HealthCheckConfig(kind="dataplane", status_file=str(path), max_age=5, **extra)  # type: ignore[arg-type]


def test_a_fresh_status_with_a_ready_backend_passes(tmp_path: Path) -> None:
    write_status(tmp_path / "s.json")
    result = run_probe("web", check(tmp_path / "s.json"))
    assert result.ok and result.reason == ""


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"ready": False}, "service 'web' has no ready backend"),
        ({"age": 60.0}, "is lbroute-dataplane running?"),
        ({"in_sync": False}, "the kernel's table differs"),
    ],
)
def test_a_status_that_does_not_hold_fails_saying_why(
    tmp_path: Path, kw: dict[str, object], reason: str
) -> None:
    write_status(tmp_path / "s.json", **kw)  # type: ignore[arg-type]
    result = run_probe("web", check(tmp_path / "s.json"))
    assert not result.ok and reason in result.reason


def test_a_missing_or_foreign_file_fails_without_a_crash(tmp_path: Path) -> None:
    assert "cannot read" in run_probe("web", check(tmp_path / "nope.json")).reason
    (tmp_path / "other.json").write_text('{"something": "else"}')
    assert "version" in run_probe("web", check(tmp_path / "other.json")).reason
    assert "not a regular file" in run_probe("web", check(tmp_path)).reason


def test_another_service_of_the_data_plane_can_be_named(tmp_path: Path) -> None:
    write_status(tmp_path / "s.json")
    assert not run_probe("front", check(tmp_path / "s.json")).ok
    assert run_probe("front", check(tmp_path / "s.json", dataplane_service="web")).ok


def test_a_dataplane_check_needs_its_status_file() -> None:
    text = "services:\n  - name: web\n    vips: [10.1.1.1/32]\n    check: {kind: dataplane}\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, AnnouncerConfig)
    assert any("a dataplane check needs status_file" in str(p) for p in caught.value.problems)
