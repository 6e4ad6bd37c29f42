"""Writing a file a command renders (``--output FILE``) without destroying anyone else's.

The file is created 0600 (it may hold keys) and never exists half written: the text goes to a
temporary file beside it, which is renamed over it, and is removed when that fails. An
existing FILE is replaced only if it is a regular file (not a link, which could point anywhere)
whose first line is the renderer's own ``header``: whatever else lives at that path was not
written by us and is not ours to destroy.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


class OutputError(Exception):
    """FILE cannot or may not be written; the message says why and what to do."""


def _ours(path: Path, header: str, writer: str) -> None:
    """Raise OutputError unless ``path`` is absent or a file ``writer`` wrote."""
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
            first = existing.read(len(header.encode()) + 1)
    except OSError as err:
        raise OutputError(f"cannot read {path} to see who wrote it: {err.strerror}") from None
    if first.rstrip(b"\n") != header.encode():
        raise OutputError(
            f"{path} exists and was not written by {writer} (its first line is not the "
            "renderer's header); remove it or choose another --output"
        )


def write(path: str | Path, text: str, *, header: str, writer: str) -> None:
    """Write ``text`` (which starts with the line ``header``) to ``path`` for ``writer``."""
    if not text.startswith(header + "\n"):
        raise ValueError(f"the text does not start with {writer}'s header line")  # our bug, not input
    target = Path(path)
    _ours(target, header, writer)
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
