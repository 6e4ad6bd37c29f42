"""Every program says its version, the installed package's, as ``lbroute`` does."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("program", ["lbroute", "lbroute-rr", "lbroute-announcer"])
def test_version_names_the_program_and_the_installed_package(program: str) -> None:
    result = subprocess.run([str(BIN / program), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{program} {version('lbroute')}\n"
    assert result.stderr == ""
