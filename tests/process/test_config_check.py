"""``config check`` and friends as real processes: exit 2, one clear line per problem, no
traceback, nothing sent or applied, for every program that reads a config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.programs import run

CONFIGS = Path(__file__).parents[2] / "configs"

BAD_RR = """\
role: route-reflector
gobgpd: unix:///run/x.sock
asn: 70000000000
router_id: 10.0.0.300
colour: blue
speaker_groups:
  - name: lb
    dynamic_prefixes: [172.16.0.1/16]
    vip_pools: [10.1.0.0/16]
    node_networks: [10.0.0.0/24]
  - name: lb2
    dynamic_prefixes: [172.17.0.0/16]
    kubernetes: {namespace: lb, label_selector: app=lb}
    vip_pools: [10.2.0.0/16]
    allowed_prefix_lengths: [8]
    node_networks: [10.0.0.0/24]
neighbors:
  - address: not-an-ip
    add_path_send_max: "lots"
    graceful_restart: {restart_time: 5000}
metrics_address: 0.0.0.0:9180
"""

BAD_ANNOUNCER = """\
next_hop: 10.0.0.999
services:
  - name: web
    vips: [10.1.1.0/24, banana]
    med: high
    colour: red
"""


def test_rr_lists_every_problem_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "rr.yaml"
    path.write_text(BAD_RR)
    result = run("rr.main", "config", "check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    where = [line.split(": ")[1] for line in lines]
    assert where == [
        "asn",
        "router_id",
        "speaker_groups[0].dynamic_prefixes[0]",
        "speaker_groups[1]",
        "speaker_groups[1]",
        "neighbors[0].address",
        "neighbors[0].add_path_send_max",
        "neighbors[0].graceful_restart.restart_time",
        "metrics_address",
        "colour",
    ]
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "unknown key" in lines[-1]
    assert "host bits set" in lines[2]
    assert "exactly one of dynamic_prefixes and kubernetes" in lines[3]
    assert "no allowed prefix length fits inside 10.2.0.0/16" in lines[4]
    assert "less than or equal to 4095" in lines[7]
    assert "never all of them" in lines[8]


def test_rr_apply_with_bad_config_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rr.yaml"
    path.write_text(BAD_RR)
    # the target socket does not exist: a run that got as far as connecting would say so
    result = run("rr.main", "apply", "--config", str(path), "--wait", "0")
    assert result.returncode == 2
    assert "did not answer" not in result.stderr


def test_announcer_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(BAD_ANNOUNCER)
    result = run("announcer.main", "config", "check", str(path))
    assert result.returncode == 2
    assert result.stdout == ""  # stdout is exabgp's channel, even for errors
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "next_hop",
        "services[0].vips[0]",
        "services[0].vips[1]",
        "services[0].med",
        "services[0].colour",
    ]
    assert "/32 for IPv4" in lines[1]


def test_announcer_without_next_hop_says_where_it_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("services:\n  - name: web\n    vips: [10.1.1.1/32]\n")
    result = subprocess.run(
        [sys.executable, "-m", "announcer.main", "config", "check", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "NODE_IP" in result.stderr and "status.hostIP" in result.stderr


BAD_CHECKS = """\
next_hop: 10.0.0.11
drain_seconds: soon
services:
  - name: web
    vips: [10.1.1.1/32]
    check: {kind: http, interval: 0.1, timeout: 0.5}
  - name: api
    vips: ["2001:db8::/64"]
    check: {kind: ping}
  - name: k8s
    kubernetes: {namespace: Web, name: front, colour: red}
  - name: none
exabgp:
  neighbors: []
  local_address: pod
"""


def test_announcer_lists_problems_in_checks_kubernetes_and_exabgp(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(BAD_CHECKS)
    result = run("announcer.main", "config", "check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    where = [line.split(": ")[1] for line in lines]
    assert where == [
        "services[0].check",
        "services[1].vips[0]",
        "services[1].check.kind",
        "services[2].kubernetes.namespace",
        "services[2].kubernetes.colour",
        "services[3]",
        "drain_seconds",
        "exabgp.neighbors",
        "exabgp.local_address",
    ], lines
    assert "needs url" in lines[0] and "/128 for IPv6" in lines[1]
    assert "give vips, or kubernetes" in lines[5] and "got 'soon'" in lines[6]


def test_bad_next_hop_flag_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("services:\n  - name: web\n    vips: [10.1.1.1/32]\n")
    result = run("announcer.main", "config", "check", str(path), "--next-hop", "10.0.0.300")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: --next-hop: '10.0.0.300' is not an IP address such as 10.0.0.11"
    ]


def test_run_with_bad_config_sends_nothing_to_exabgp(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(BAD_ANNOUNCER)
    result = run("announcer.main", "run", "--config", str(path))
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_render_needs_an_exabgp_section_and_readable_md5_files(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("next_hop: 10.0.0.11\n")
    result = run("announcer.main", "render-exabgp-config", str(path))
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"{path}: exabgp: required to render exabgp's config",
    )
    result = run("announcer.main", "render-exabgp-config", str(CONFIGS / "announcer.yaml"))
    assert result.returncode == 2
    assert "exabgp.neighbors[1].md5_password_file: cannot read" in result.stderr


KUBE = Path(__file__).parents[2] / "deploy" / "kubernetes"


@pytest.mark.parametrize(
    "source",
    [
        CONFIGS / "announcer.yaml",
        KUBE / "base" / "lb" / "announcer.yaml",
        KUBE / "service-vips" / "announcer.yaml",
    ],
    ids=["configs", "kubernetes", "kubernetes-service-vips"],
)
def test_rendered_examples_pass_exabgps_own_validation(tmp_path: Path, source: Path) -> None:
    """The renderer's output, checked by the real exabgp (``--validate``), not by our eyes."""
    import os
    import shutil

    import yaml

    exabgp = shutil.which("exabgp") or "/usr/sbin/exabgp"
    data = yaml.safe_load(source.read_text())
    announcer_bin = Path(sys.executable).parent / "lbroute-announcer"
    data["exabgp"]["announcer_command"] = f"{announcer_bin} run --config {tmp_path / 'a.yaml'}"
    for neighbor in data["exabgp"]["neighbors"]:
        if "md5_password_file" in neighbor:
            key = tmp_path / "md5"
            key.write_text("not-a-real-key\n")
            key.chmod(0o600)
            neighbor["md5_password_file"] = str(key)
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(data))
    # the pod's own address, as the downward API gives it where the file leaves it out
    rendered = run(
        "announcer.main", "render-exabgp-config", str(path), env={**os.environ, "POD_IP": "172.16.1.2"}
    )
    assert rendered.returncode == 0, rendered.stderr
    conf = tmp_path / "exabgp.conf"
    conf.write_text(rendered.stdout)
    env = {"PATH": "/usr/bin:/bin", "exabgp_api_cli": "false", "exabgp_daemon_drop": "false"}
    check = subprocess.run(
        [exabgp, "--validate", str(conf)], capture_output=True, text=True, env=env, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert 'md5-password "not-a-real-key";' in rendered.stdout
