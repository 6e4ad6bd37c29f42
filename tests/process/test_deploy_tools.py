"""compose.yaml, the Dockerfiles and the example exabgp configs, checked by the tools that can
check them without a container engine: check-jsonschema, hadolint, ``exabgp --test``."""

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


@pytest.mark.parametrize("conf", sorted((ROOT / "configs").rglob("exabgp*.conf")), ids=lambda p: p.name)
def test_exabgp_configs_parse(conf: Path, tmp_path: Path) -> None:
    if not EXABGP.exists():
        pytest.fail("exabgp is not installed; run `make setup`")
    # exabgp --test insists the API program exists: point it at this checkout's announcer
    text = conf.read_text().replace("/opt/lbroute/venv/bin/lbroute-announcer", str(BIN / "lbroute-announcer"))
    local = tmp_path / conf.name
    local.write_text(text)
    env = {"exabgp_api_cli": "false", "exabgp_daemon_drop": "false", "PATH": "/usr/sbin:/usr/bin:/bin"}
    # through the launcher the images run (lbroute-exabgp): it must hand exabgp its arguments
    argv = exabgp_argv(local)
    assert argv[1].endswith("announcer/exabgp_launcher.py")
    result = subprocess.run(
        [*argv[:-1], "--test", str(local)], capture_output=True, text=True, env=env, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "syntax error" not in output and "invalid" not in output, output
