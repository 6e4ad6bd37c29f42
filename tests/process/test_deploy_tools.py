"""compose.yaml, the Dockerfiles and the exabgp.conf compose's speakers render, checked by the
tools that check them without running a container: check-jsonschema, hadolint, ``exabgp --test``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lbroute.lab.daemons import EXABGP, exabgp_argv

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = sorted((ROOT / "deploy").glob("*.Dockerfile"))


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--config", str(ROOT / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_speakers_exabgp_conf_parses(tmp_path: Path) -> None:
    """What the sidecar image renders for compose's speakers, read by the real exabgp."""
    if not EXABGP.exists():
        pytest.fail("exabgp is not installed; run `make setup`")
    env = {"exabgp_api_cli": "false", "exabgp_daemon_drop": "false", "PATH": "/usr/sbin:/usr/bin:/bin"}
    conf = tmp_path / "exabgp.conf"
    rendered = subprocess.run(
        [str(BIN / "lbroute-announcer"), "render-exabgp-config", str(ROOT / "configs/compose/announcer.yaml"),
         "--output", str(conf)],
        capture_output=True, text=True, env={**env, "POD_IP": "10.0.0.11"}, timeout=60,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    text = conf.read_text()
    assert "local-address 10.0.0.11;" in text and f"run {BIN / 'lbroute-announcer'} run --config " in text
    # through the launcher the images run (lbroute-exabgp): it must hand exabgp its arguments
    argv = exabgp_argv(conf)
    assert argv[1].endswith("announcer/exabgp_launcher.py")
    result = subprocess.run(
        [*argv[:-1], "--test", str(conf)], capture_output=True, text=True, env=env, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "syntax error" not in output and "invalid" not in output, output
