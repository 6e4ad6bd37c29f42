"""Secrets a config names by file (TCP MD5 keys), read with the same care as the config itself."""

from __future__ import annotations

import os
import stat

from .loader import read_secret_file

# Linux refuses a longer key (TCP_MD5SIG_MAXKEYLEN, in bytes); so does every BGP speaker here
MD5_KEY_MAX_BYTES = 80
# the key and a newline, with room to spare; anything larger is not a key file
_MD5_FILE_MAX = 1024


def read_md5_key(file: str) -> str:
    """The key ``file`` holds, without surrounding white space; ``ValueError`` saying what is wrong."""
    what = "an MD5 key file"
    try:
        key = read_secret_file(file, max_bytes=_MD5_FILE_MAX, what=what).strip()
    except ValueError as err:
        raise ValueError(f"{file}: {err}") from None
    if not key or len(key.encode()) > MD5_KEY_MAX_BYTES:
        raise ValueError(f"{file} must hold an MD5 key of 1 to {MD5_KEY_MAX_BYTES} bytes")
    if not key.isprintable():
        raise ValueError(f"{file}: the key holds a control character; an MD5 key is one line of text")
    problem = open_to_others(os.stat(file).st_mode)
    if problem:
        raise ValueError(f"{file}: {problem}")
    return key


def open_to_others(mode: int) -> str:
    """Why a key file with this mode will not do ("" when only its owner and group can use it)."""
    if mode & stat.S_IRWXO:
        what = "read" if mode & stat.S_IROTH else "change" if mode & stat.S_IWOTH else "use"
        return (
            f"mode {stat.S_IMODE(mode):04o} lets every user {what} the key; "
            "make it 0600 or 0400 (chmod 600, or a Secret volume's defaultMode: 0400)"
        )
    return ""
