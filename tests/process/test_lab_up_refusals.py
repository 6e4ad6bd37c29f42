"""``lbroute lab up`` with arguments it cannot build: refused before any namespace exists.

Every argument is checked, and every config rendered by the real ``lbroute-announcer``,
before the first namespace is created; a refusal leaves the state root as it was. (Should
that ever break, each test still takes down whatever a run left.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.kernel.ip import list_netns
from lbroute.lab.lab import preflight
from tests.support.lab import unique_prefix


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    if preflight():
        pytest.skip("lab up needs root and the daemons: " + "; ".join(preflight()))
    name = unique_prefix()
    yield name
    lbroute(tmp_path, "lab", "down", "--prefix", name)  # a no-op unless the refusal came too late


def lbroute(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LBROUTE_STATE_ROOT": str(root / "state")},
    )


@pytest.mark.parametrize(
    ("services", "says"),
    [
        (["a b=10.1.2.1/32"], "lbroute-announcer refused lb1's config: "),
        (["web=10.1.2.1/32", "web=10.1.2.2/32"], "each name once; given more than once: web"),
        (["web=10.1.2.1/32", "api=10.1.2.1/32"], "each VIP once"),
        (["web=10.1.2.1/32@70"], "LBs are numbered 1 to 64"),
    ],
)
def test_a_bad_service_builds_nothing(tmp_path: Path, prefix: str, services: list[str], says: str) -> None:
    argv = [arg for s in services for arg in ("--service", s)]
    result = lbroute(tmp_path, "lab", "up", "--prefix", prefix, "--lbs", "2", *argv, "--timeout", "5")
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr  # the announcer's own lines, joined
    assert "Traceback" not in result.stderr
    assert not [ns for ns in list_netns() if ns.startswith(f"{prefix}-")]
    assert not (tmp_path / "state" / prefix).exists()


def test_up_writes_into_no_directory_it_did_not_make(tmp_path: Path, prefix: str) -> None:
    theirs = tmp_path / "state" / prefix
    theirs.mkdir(parents=True)
    (theirs / "notes").write_text("theirs\n")
    result = lbroute(tmp_path, "lab", "up", "--prefix", prefix, "--lbs", "1", "--timeout", "5")
    assert result.returncode == 2
    assert "exists and was not made by the lab" in result.stderr
    assert sorted(p.name for p in theirs.iterdir()) == ["notes"]
    assert not [ns for ns in list_netns() if ns.startswith(f"{prefix}-")]
