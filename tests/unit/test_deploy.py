"""compose.yaml and the Dockerfiles name only what exists (the tools that check them: tests/process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
DOCKERFILES = sorted((ROOT / "deploy").glob("*.Dockerfile"))


def test_compose_builds_and_mounts_what_exists() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"
        for arg in service.get("command", []):
            if arg.startswith("/etc/lbroute/"):
                assert (ROOT / "configs" / arg.removeprefix("/etc/lbroute/")).is_file(), f"{name}: {arg}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_what_exists(dockerfile: Path) -> None:
    sources = [
        src
        for line in dockerfile.read_text().splitlines()
        if (m := re.match(r"^COPY\s+(.+)\s+\S+$", line))
        for src in m.group(1).split()
    ]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src}"
