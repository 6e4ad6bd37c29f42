"""``lbroute`` run against a lab as an operator runs it: a separate process, ``--lab PREFIX``."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from lbroute.lab.lab import Lab


def lab_env(lab: Lab) -> dict[str, str]:
    return {"LBROUTE_STATE_ROOT": str(lab.root), "PATH": "/usr/sbin:/usr/bin:/bin"}


def cli(lab: Lab, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``lbroute ARGV --lab PREFIX``; with ``check``, exit 0 is asserted. Never a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv, "--lab", lab.prefix],
        capture_output=True,
        text=True,
        timeout=60,
        env=lab_env(lab),
    )
    if check:
        assert result.returncode == 0, f"lbroute {' '.join(argv)}: exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_json(lab: Lab, *argv: str) -> Any:
    return json.loads(cli(lab, *argv, "--json").stdout)


def lab_cli(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    """``lbroute lab COMMAND ARGV --prefix PREFIX`` (lab commands name the lab by ``--prefix``)."""
    command, *rest = argv
    result = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", "lab", command, "--prefix", lab.prefix, *rest],
        capture_output=True,
        text=True,
        timeout=120,
        env=lab_env(lab),
    )
    assert result.returncode == 0, f"lbroute lab {' '.join(argv)}: exit {result.returncode}\n{result.stderr}"
    return result


def table(text: str) -> list[list[str]]:
    """A printed table as rows of cells (no cell holds a space), header first, up to a blank line."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            break
        rows.append(line.split())
    return rows
