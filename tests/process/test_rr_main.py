"""``lbroute-rr`` as a real process: bad input is one clear line and exit 2, a dead gobgpd one clear
line and exit 1 after --wait, and nothing is applied or bound that should not be."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support.programs import run
from tests.support.rr import GROUP, KUBE_GROUP, NODES, RR


def write(tmp_path: Path, raw: dict[str, Any], name: str = "rr.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def dead_gobgpd(tmp_path: Path) -> dict[str, Any]:
    """A config whose gobgpd socket does not exist: nothing there can answer."""
    return {**RR, "gobgpd": f"unix://{tmp_path / 'no-gobgpd.sock'}"}


def test_config_check_refuses_dev_zero_at_once() -> None:
    started = time.monotonic()
    result = run("rr.main", "config", "check", "/dev/zero", timeout=30)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "/dev/zero: (file): a character device, not a regular file; give the path of a config"
    ]
    assert time.monotonic() - started < 20  # it used to read until the kernel killed it


def test_plan_with_an_empty_gobgpd_target_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, {**RR, "gobgpd": ""})
    result = run("rr.main", "plan", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}: gobgpd: '' is not a gRPC target such as unix:///run/gobgpd/gobgp.sock or 127.0.0.1:50051"
    ]


def test_config_check_says_what_turns_a_guard_rail_off_and_passes(tmp_path: Path) -> None:
    path = write(tmp_path, {**RR, "nodes": NODES, "speaker_groups": [{**GROUP, "vip_pools": ["0.0.0.0/0"]}]})
    result = run("rr.main", "config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{path}: warning: speaker_groups[0].vip_pools[0]: 0.0.0.0/0 lets the speakers announce any prefix"
    ]
    assert result.stdout.startswith(f"{path}: ok (route-reflector")


def test_an_unknown_log_level_is_refused(tmp_path: Path) -> None:
    result = run("rr.main", "--log-level", "garbage", "config", "check", str(write(tmp_path, RR)))
    assert result.returncode == 2
    assert "argument --log-level: invalid choice: 'garbage'" in result.stderr
    assert run("rr.main", "--log-level", "DEBUG", "config", "check", str(write(tmp_path, RR))).returncode == 0


def test_wait_takes_seconds_only(tmp_path: Path) -> None:
    path = write(tmp_path, dead_gobgpd(tmp_path))
    for bad in ("-1", "inf", "nan", "soon"):
        result = run("rr.main", "plan", "--config", str(path), "--wait", bad)
        assert result.returncode == 2, bad
        assert "is not a number of seconds (0 or more)" in result.stderr.splitlines()[-1]


def test_run_against_a_dead_gobgpd_gives_up_after_wait_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, dead_gobgpd(tmp_path))
    started = time.monotonic()
    result = run("rr.main", "run", "--config", str(path), "--wait", "2", timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    said = [json.loads(line) for line in lines if line.startswith("{")]
    [verdict] = [line for line in lines if not line.startswith("{")]
    assert verdict.startswith(
        f"lbroute-rr: gobgpd at unix://{tmp_path / 'no-gobgpd.sock'} did not answer within 2s ("
    )
    assert verdict.endswith("check that it runs and that its --api-hosts names this socket")
    assert 2 <= took < 30
    # once per state change: the outage and the lost event stream, no warning per retry
    warnings = [e["event"] for e in said if e["level"] == "warning"]
    assert warnings.count("rr.outage.started") == 1 and "rr.reconcile.retry" not in warnings
    assert len(warnings) <= 3, warnings


def test_plan_and_apply_give_up_after_wait_too(tmp_path: Path) -> None:
    path = write(tmp_path, dead_gobgpd(tmp_path))
    for command in ("plan", "apply"):
        result = run("rr.main", command, "--config", str(path), "--wait", "0")
        assert result.returncode == 1, (command, result.stderr)
        assert "did not answer within 0s" in result.stderr.splitlines()[-1]


def test_a_busy_metrics_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = write(tmp_path, {**dead_gobgpd(tmp_path), "metrics_address": f"127.0.0.1:{port}"})
        result = run("rr.main", "run", "--config", str(path), "--wait", "0")
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if not line.startswith("{")] == [
        f"lbroute-rr: metrics_address 127.0.0.1:{port}: cannot listen there (Address already in use); "
        "stop what holds it or name another address"
    ]
    assert "Traceback" not in result.stderr


def test_an_unreadable_md5_key_file_is_a_config_problem(tmp_path: Path) -> None:
    group = {**KUBE_GROUP, "md5_password_file": str(tmp_path / "missing.key")}
    path = write(tmp_path, {**RR, "speaker_groups": [group]})
    result = run("rr.main", "apply", "--config", str(path), "--wait", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: speaker_groups[0].md5_password_file: {tmp_path / 'missing.key'}: cannot read: "
        "No such file or directory"
    ]
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe\x00")
    path = write(tmp_path, {**RR, "speaker_groups": [{**group, "md5_password_file": str(binary)}]})
    result = run("rr.main", "config", "check", str(path))
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1)
    assert "not UTF-8 text (byte 0xff at offset 0); a binary file?" in result.stderr


def test_without_an_api_server_the_manager_says_so(tmp_path: Path) -> None:
    group = {k: v for k, v in KUBE_GROUP.items() if k != "md5_password_file"}
    path = write(tmp_path, {**RR, "nodes": NODES, "speaker_groups": [group]})
    # no KUBERNETES_SERVICE_HOST: not in a cluster
    result = run("rr.main", "plan", "--config", str(path), "--wait", "1", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "lbroute-rr: cannot use the in-cluster service account: Service host/port is not set."
    )
