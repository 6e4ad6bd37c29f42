"""The MD5 keys exabgp.conf carries, read from the files the config names (mounted Secrets).

A key file is read only if it is a regular file that other users cannot read (the rule
``lbroute.config.secrets`` applies for lbroute-rr), and only its first ``MAX_FILE_BYTES``:
a key is at most 80 bytes (the kernel's ``TCP_MD5SIG_MAXKEYLEN``), so anything larger is a
mistake — a wrong path, a binary, /dev/zero — and reading on would only cost memory.
The key goes into exabgp.conf between double quotes, where exabgp also reads backslash
escapes and ends a string at either quote, so those three characters cannot be carried;
the rest of printable ASCII can (checked with exabgp 4.2's parser).
"""

from __future__ import annotations

import os
import stat

from lbroute.config import Problem
from lbroute.config.secrets import open_to_others

from .config import ExabgpConfig

MAX_FILE_BYTES = 1024
MAX_KEY = 80
UNQUOTABLE = "\"'\\"
NOT_TEXT = "holds characters that are not printable ASCII (a binary file?); a key here is printable text"


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot go into exabgp.conf, or None."""
    if not key:
        return "is empty; an MD5 key is 1 to 80 characters"
    if len(key) > MAX_KEY:
        return f"holds a key of {len(key)} characters; TCP MD5 keys are 1 to {MAX_KEY} (the kernel's limit)"
    if any(not (" " <= c <= "~") for c in key):
        return NOT_TEXT
    bad = sorted({c for c in key if c in UNQUOTABLE})
    if bad:
        chars = " ".join(repr(c) for c in bad)
        return f"holds {chars}; exabgp.conf cannot carry quotes or backslashes in a key"
    return None


class KeyFileError(Exception):
    pass


def read_key(path: str) -> str:
    """The key in ``path`` (surrounding whitespace, such as a final newline, stripped)."""
    try:
        # O_NONBLOCK: a FIFO at this path must not hang the reader before fstat can refuse it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise KeyFileError(f"cannot read {path}: {err.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"{path} is not a regular file")
        # the same rule as lbroute-rr's reader: a key every user can read is no secret
        loose = open_to_others(mode)
        if loose:
            raise KeyFileError(f"{path}: {loose}")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as err:
        raise KeyFileError(f"cannot read {path}: {err.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise KeyFileError(f"{path} is larger than {MAX_FILE_BYTES} bytes; it must hold only the MD5 key")
    try:
        key = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} {NOT_TEXT}") from None
    problem = key_problem(key)
    if problem:
        raise KeyFileError(f"{path} {problem}")
    return key


def read_keys(cfg: ExabgpConfig) -> tuple[dict[str, str], list[Problem]]:
    """neighbor address -> MD5 key, and a problem for every key file that will not do."""
    keys, problems = {}, []
    for i, neighbor in enumerate(cfg.neighbors):
        if not neighbor.md5_password_file:
            continue
        try:
            keys[neighbor.address] = read_key(neighbor.md5_password_file)
        except KeyFileError as err:
            problems.append(Problem(f"exabgp.neighbors[{i}].md5_password_file", str(err)))
    return keys, problems
