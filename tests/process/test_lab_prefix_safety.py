"""What a user types as a lab's name can never make ``lbroute lab`` delete anything it did not make.

Each case runs the real ``lbroute`` with a temporary state root and compares every file
around it before and after: a refused name changes nothing, a valid one removes only a
directory the lab marked as its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lbroute.lab.state import MARKER


def tree(top: Path) -> dict[str, str]:
    """Every path under ``top`` with its content (or "dir" / "-> target"), to compare before and after."""
    out = {}
    for path in sorted(top.rglob("*")):
        key = str(path.relative_to(top))
        if path.is_symlink():
            out[key] = f"-> {path.readlink()}"
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = path.read_text()
    return out


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """(outside, root): a state root two levels down, with files around it and inside it."""
    outside = tmp_path / "outside"
    root = outside / "run" / "lbroute"
    root.mkdir(parents=True)
    (outside / "precious.txt").write_text("keep\n")
    (outside / "run" / "other.pid").write_text("123\n")
    (root / "sentinel").write_text("keep\n")
    victim = outside / "victim"
    victim.mkdir()
    (victim / "data").write_text("keep\n")
    return outside, root


def lbroute(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "LBROUTE_STATE_ROOT": str(root)},
    )


BAD_NAMES = {
    "absolute": "ABSOLUTE",  # the victim directory's absolute path
    "empty": "",
    "dotdot": "..",
    "dot": ".",
    "slash": "a/b",
    "dotdot-slash": "../victim",
    "newline": "lbr\n",
    "upper": "Lbr",
    "long": "toolongname",
    "huge": "x" * 100_000,
}
CASES = [pytest.param("down", prefix, id=f"down-{name}") for name, prefix in BAD_NAMES.items()] + [
    pytest.param(command, prefix, id=f"{command}-{prefix[:3] or 'empty'}")
    for command in ("status", "up", "scale", "probe", "break", "restart")
    for prefix in ("ABSOLUTE", "..", "")
]


@pytest.mark.parametrize(("command", "prefix"), CASES)
def test_a_prefix_that_is_no_lab_name_is_refused_and_nothing_changes(
    world: tuple[Path, Path], prefix: str, command: str
) -> None:
    outside, root = world
    if prefix == "ABSOLUTE":
        prefix = str(outside / "victim")
    before = tree(outside)
    extra = {"scale": ["2"], "break": ["lb1"], "restart": ["rr"]}.get(command, [])
    result = lbroute(root, "lab", command, *extra, "--prefix", prefix)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert "lab prefix" in line and "use 1-8 lowercase letters and digits" in line
    assert len(line) < 300, "the bad value is echoed cut, not whole"
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert tree(outside) == before


@pytest.mark.parametrize("command", ["vips", "diff", "peers", "rib", "fib", "watch"])
def test_the_inspection_commands_check_lab_the_same_way(world: tuple[Path, Path], command: str) -> None:
    outside, root = world
    before = tree(outside)
    result = lbroute(root, command, "--lab", "..")
    assert result.returncode == 2, result.stderr
    assert "argument --lab: lab prefix '..'" in result.stderr
    assert tree(outside) == before


def test_the_environment_default_is_checked_too(world: tuple[Path, Path]) -> None:
    outside, root = world
    before = tree(outside)
    result = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", "lab", "down"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "LBROUTE_STATE_ROOT": str(root), "LBROUTE_LAB_PREFIX": ".."},
    )
    assert result.returncode == 2 and "lab prefix '..'" in result.stderr
    assert tree(outside) == before


def test_down_of_a_valid_name_with_no_lab_removes_nothing(world: tuple[Path, Path]) -> None:
    outside, root = world
    before = tree(outside)
    result = lbroute(root, "lab", "down", "--prefix", "zq9none")
    assert result.returncode == 0, result.stderr
    assert "nothing to take down" in result.stdout
    assert tree(outside) == before


def test_down_leaves_a_directory_the_lab_did_not_make(world: tuple[Path, Path]) -> None:
    outside, root = world
    mine = root / "zq9mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's, not the lab's\n")
    (root / "zq9link").symlink_to(outside / "victim")
    before = tree(outside)
    for prefix in ("zq9mine", "zq9link"):
        result = lbroute(root, "lab", "down", "--prefix", prefix)
        assert result.returncode == 0, result.stderr
        assert "nothing to take down" in result.stdout
    assert tree(outside) == before
    # and `up` will not write into them either (it refuses before creating anything)
    result = lbroute(root, "lab", "up", "--prefix", "zq9mine")
    assert result.returncode == 2
    assert tree(outside) == before


def test_down_removes_the_lab_directory_it_marked_and_only_that(world: tuple[Path, Path]) -> None:
    outside, root = world
    lab_dir = root / "zq9lab"
    (lab_dir / "logs").mkdir(parents=True)
    (lab_dir / MARKER).write_text("made by `lbroute lab up`\n")
    (lab_dir / "logs" / "gobgpd-rr.log").write_text("...\n")
    (lab_dir / "escape").symlink_to(outside / "victim")  # a link inside is removed, not followed
    before = tree(outside)
    result = lbroute(root, "lab", "down", "--prefix", "zq9lab")
    assert result.returncode == 0, result.stderr
    assert "zq9lab down: removed 0 namespaces" in result.stdout
    after = tree(outside)
    assert {k: v for k, v in before.items() if not k.startswith("run/lbroute/zq9lab")} == after
    assert not lab_dir.exists()
