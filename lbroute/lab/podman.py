"""The podman command, always with lbroute's own settings and never with a shell.

Every call gets ``CONTAINERS_CONF`` = ``deploy/podman/containers.conf`` of this source tree,
so podman reads that file instead of the machine's (runc, cgroupfs, no raised ulimits):
nothing under /etc/containers is edited, and a user's own podman set-up is not changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import LabError

# the source tree this package runs from: the images and podman settings live in its deploy/
SOURCE_TREE = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = SOURCE_TREE / "deploy" / "podman" / "containers.conf"
PODMAN = "podman"


class PodmanError(LabError):
    """A podman command that failed: the command, its exit code and the end of what it said."""

    def __init__(self, argv: list[str], code: int, stderr: str) -> None:
        said = stderr.strip().splitlines()[-3:]
        super().__init__(f"{' '.join(argv[:4])} ... failed (exit {code}): {' / '.join(said)[:400]}")
        self.code = code


def environment() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def installed() -> bool:
    return shutil.which(PODMAN) is not None


def problems() -> list[str]:
    """What running containers here would need and does not have."""
    out = []
    if shutil.which(PODMAN) is None or shutil.which("runc") is None:
        out.append("podman or runc is missing; `make images` installs them (setup/install-podman.sh)")
    if not CONTAINERS_CONF.is_file():
        out.append(f"{CONTAINERS_CONF} is missing: --images needs lbroute's source tree")
    return out


def podman(*args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    argv = [PODMAN, *args]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, env=environment(), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise PodmanError(argv, -1, f"no answer within {timeout:g}s") from err
    except FileNotFoundError:
        raise PodmanError(argv, -1, "podman is not installed; `make images` installs it") from None
    if check and result.returncode != 0:
        raise PodmanError(argv, result.returncode, result.stderr)
    return result
