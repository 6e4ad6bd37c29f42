"""Our programs run as an operator runs them: ``python -m MODULE ARGS``, output captured."""

from __future__ import annotations

import subprocess
import sys


def run(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", module, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
