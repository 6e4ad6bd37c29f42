"""The sidecar image's command (deploy/announcer-entrypoint.sh) as a process: it renders
exabgp.conf with the real lbroute-announcer from the pod's environment, then hands it to
lbroute-exabgp; a config it cannot render, or no writable /run/lbroute, starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
ENTRYPOINT = ROOT / "deploy" / "announcer-entrypoint.sh"
BIN = Path(sys.executable).parent


def sidecar(
    tmp_path: Path, env: dict[str, str], config: dict[str, object]
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the entrypoint with a stand-in for lbroute-exabgp that records what it was given."""
    stand_in = tmp_path / "bin" / "lbroute-exabgp"
    stand_in.parent.mkdir()
    stand_in.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"; env | grep -E "^NODE_IP6?=" >> "$RECORD"\n'
    )
    stand_in.chmod(0o755)
    (tmp_path / "announcer.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "run").mkdir()
    record = tmp_path / "record"
    result = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        capture_output=True, text=True, timeout=60,
        env={
            "PATH": f"{stand_in.parent}:{BIN}:/usr/bin:/bin", "RECORD": str(record),
            "LBROUTE_ANNOUNCER_CONFIG": str(tmp_path / "announcer.yaml"),
            "LBROUTE_EXABGP_CONF": str(tmp_path / "run" / "exabgp.conf"), **env,
        },
    )  # fmt: skip
    return result, record


CONFIG = {
    "next_hop_env": "NODE_IP",
    "services": [{"name": "web", "vips": ["10.1.1.1/32", "2001:db8:1::1/128"]}],
    "exabgp": {"neighbors": [{"address": "10.0.0.2"}], "families": ["ipv4 unicast", "ipv6 unicast"]},
}


def test_the_sidecar_renders_from_the_pods_environment_then_starts_exabgp(tmp_path: Path) -> None:
    env = {"POD_IP": "172.16.1.2", "NODE_IP": "10.0.0.11", "NODE_IPS": "10.0.0.11,2001:db8::11"}
    result, record = sidecar(tmp_path, env, CONFIG)
    assert result.returncode == 0, result.stderr
    conf = tmp_path / "run" / "exabgp.conf"
    assert (conf.stat().st_mode & 0o777) == 0o600
    assert "local-address 172.16.1.2;" in conf.read_text()
    # exabgp gets the rendered file; the announcer it runs gets NODE_IP6 from status.hostIPs
    first, *env_seen = record.read_text().splitlines()
    assert first == str(conf) and sorted(env_seen) == ["NODE_IP6=2001:db8::11", "NODE_IP=10.0.0.11"]


def test_a_node_ip6_given_is_kept_and_a_single_stack_node_gets_none(tmp_path: Path) -> None:
    env = {"POD_IP": "172.16.1.2", "NODE_IP": "10.0.0.11", "NODE_IPS": "10.0.0.11"}
    single = {
        "services": [{"name": "web", "vips": ["10.1.1.1/32"]}],
        "exabgp": {"neighbors": [{"address": "10.0.0.2"}]},
    }
    (tmp_path / "a").mkdir()
    result, record = sidecar(tmp_path / "a", env, single)
    assert result.returncode == 0, result.stderr
    assert record.read_text().splitlines()[1:] == ["NODE_IP=10.0.0.11"]
    (tmp_path / "b").mkdir()
    result, record = sidecar(
        tmp_path / "b", {**env, "NODE_IPS": "10.0.0.11,2001:db8::11", "NODE_IP6": "2001:db8::99"}, CONFIG
    )
    assert result.returncode == 0, result.stderr
    assert "NODE_IP6=2001:db8::99" in record.read_text().splitlines()


def test_what_cannot_be_rendered_starts_nothing(tmp_path: Path) -> None:
    result, record = sidecar(tmp_path, {"NODE_IP": "10.0.0.11"}, CONFIG)  # no POD_IP
    assert result.returncode == 2 and not record.exists()
    assert result.stderr.strip().endswith(
        "exabgp.local_address: not set and $POD_IP is empty; set local_address "
        "or give the pod POD_IP from status.podIP"
    )


def test_without_a_writable_run_directory_it_says_what_to_mount(tmp_path: Path) -> None:
    result, record = sidecar(
        tmp_path, {"POD_IP": "172.16.1.2", "LBROUTE_EXABGP_CONF": "/nonexistent/exabgp.conf"}, CONFIG
    )
    assert result.returncode == 2 and not record.exists()
    assert result.stderr.strip() == (
        f"lbroute-sidecar: /nonexistent is not a directory this user ({os.getuid()}) can write; mount an "
        "emptyDir or a tmpfs there"
    )
