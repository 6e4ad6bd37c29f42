"""The environment ``lbroute`` reads when it starts (the lab's state root, its default lab
name, the gobgp install prefix), set to odd values: a real process each, since the values
are read at import. Every case exits 0, 1 or 2 without a traceback, and nothing outside
the temporary directory changes (the state root is always inside it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOWN, STATUS, VIPS = ["lab", "down"], ["lab", "status"], ["vips", "--rpc-timeout", "0.2"]
CASES = {
    "empty root": ({"LBROUTE_STATE_ROOT": ""}, DOWN),
    "root is a file": ({"LBROUTE_STATE_ROOT": "{tmp}/file"}, STATUS),
    "root with a newline": ({"LBROUTE_STATE_ROOT": "{tmp}/a\nb"}, VIPS),
    "prefix ..": ({"LBROUTE_LAB_PREFIX": "..", "LBROUTE_STATE_ROOT": "{tmp}/state"}, DOWN),
    "prefix absolute": ({"LBROUTE_LAB_PREFIX": "{tmp}/victim", "LBROUTE_STATE_ROOT": "{tmp}/state"}, DOWN),
    "prefix huge": ({"LBROUTE_LAB_PREFIX": "a" * 100000, "LBROUTE_STATE_ROOT": "{tmp}/state"}, STATUS),
    "gobgp prefix odd": ({"LBROUTE_GOBGP_PREFIX": "\u202e\x01", "LBROUTE_STATE_ROOT": "{tmp}/state"}, VIPS),
}


def tree(top: Path) -> dict[str, str]:
    return {str(p.relative_to(top)): "dir" if p.is_dir() else p.read_text() for p in sorted(top.rglob("*"))}


@pytest.mark.parametrize("case", list(CASES))
def test_odd_start_environment(tmp_path: Path, case: str) -> None:
    variables, command = CASES[case]
    (tmp_path / "file").write_text("keep\n")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "data").write_text("keep\n")
    (tmp_path / "state").mkdir()
    before = tree(tmp_path)
    env = {"PATH": "/usr/sbin:/usr/bin:/bin"}
    env |= {k: v.replace("{tmp}", str(tmp_path)) for k, v in variables.items()}
    done = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *command],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 1, 2), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert all(line.isprintable() and len(line) < 600 for line in done.stderr.splitlines()), done.stderr[
        :2000
    ]
    assert tree(tmp_path) == before
