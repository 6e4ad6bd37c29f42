"""Writing a rendered config for ``render-exabgp-config --output FILE`` (and
``render-bfdd-config --output FILE``).

exabgp.conf holds MD5 keys, so a rendered file is created 0600 and never exists with other
permissions or half written: the text goes to a temporary file beside it, which is renamed
over it. An existing FILE is replaced only if it starts with the renderer's own header line:
whatever else lives at that path was not written by us and is not ours to destroy.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .exabgp_config import HEADER


class OutputError(Exception):
    pass


def _ours(path: Path, header: str, command: str) -> None:
    """Raise OutputError unless ``path`` is absent or a file the renderer of ``header`` wrote."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise OutputError(f"cannot use {path}: {err.strerror}") from None
    if stat.S_ISLNK(mode):
        raise OutputError(f"{path} is a symbolic link; give the path of the file itself")
    if not stat.S_ISREG(mode):
        raise OutputError(f"{path} exists and is not a regular file; choose another --output")
    try:
        with open(path, "rb") as existing:
            first = existing.read(len(header) + 1)
    except OSError as err:
        raise OutputError(f"cannot read {path} to see who wrote it: {err.strerror}") from None
    if first.rstrip(b"\n") != header.encode():
        raise OutputError(
            f"{path} exists and was not written by {command} (its first line is not the "
            "renderer's header); remove it or choose another --output"
        )


def write(path: str, text: str, *, header: str = HEADER, command: str = "render-exabgp-config") -> None:
    """``text`` (which starts with ``header``) to ``path``, mode 0600, replacing only a file that
    starts with ``header`` too."""
    target = Path(path)
    _ours(target, header, command)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
