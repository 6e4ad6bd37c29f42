"""Our programs run as an operator runs them: ``python -m MODULE ARGS``, output captured."""

from __future__ import annotations

import subprocess
import sys

from lbroute.lab.lab import Lab


def run(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", module, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def lbroute_cli(lab: Lab, *argv: str) -> str:
    """``lbroute ARGV --lab PREFIX`` as an operator runs it; its stdout (exit 0 asserted)."""
    result = subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv, "--lab", lab.prefix],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LBROUTE_STATE_ROOT": str(lab.root), "PATH": "/usr/sbin:/usr/bin:/bin"},
    )
    assert result.returncode == 0, f"lbroute {' '.join(argv)}: exit {result.returncode}\n{result.stderr}"
    return result.stdout
