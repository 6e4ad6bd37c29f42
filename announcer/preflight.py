"""What ``config check`` looks at beyond the file: the paths the config names, on this machine.

Problems are what ``run`` or ``render-exabgp-config`` would refuse (exit 2 here too);
warnings are what they accept but an operator should know: a drain marker that could not be
written (a respawned announcer would not know it drained), one that exists already (it
starts drained), a maintenance file that exists (it starts withdrawn).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lbroute.config import Problem

from .config import AnnouncerConfig
from .md5_keys import read_keys

SUN_PATH_BYTES = 107  # a unix socket's path, less the final NUL (Linux sockaddr_un)


def _directory_problem(path: str) -> str | None:
    parent = Path(path).parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable by this user"
    return None


def check(cfg: AnnouncerConfig) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings) for ``cfg`` on this machine."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if cfg.exabgp is not None:
        problems += read_keys(cfg.exabgp)[1]
    if cfg.control_socket:
        where, path = "control_socket", cfg.control_socket
        if len(os.fsencode(path)) > SUN_PATH_BYTES:
            problems.append(
                Problem(where, f"{path} is longer than the {SUN_PATH_BYTES} bytes a socket path has")
            )
        elif (why := _directory_problem(path)) is not None:
            problems.append(Problem(where, f"{why}: the announcer cannot listen on {path}"))
        elif os.path.lexists(path) and not stat.S_ISSOCK(os.lstat(path).st_mode):
            problems.append(
                Problem(where, f"{path} exists and is not a socket; remove it or choose another path")
            )
    if cfg.drain_marker:
        if (why := _directory_problem(cfg.drain_marker)) is not None:
            warnings.append(
                Problem(
                    "drain_marker",
                    f"{why}: a drain will withdraw, but an announcer started again will not know it drained",
                )
            )
        elif os.path.lexists(cfg.drain_marker):
            warnings.append(
                Problem("drain_marker", f"{cfg.drain_marker} exists: an announcer started now starts drained")
            )
    if cfg.maintenance_file and os.path.lexists(cfg.maintenance_file):
        warnings.append(
            Problem(
                "maintenance_file",
                f"{cfg.maintenance_file} exists: an announcer started now announces nothing",
            )
        )
    return problems, warnings
