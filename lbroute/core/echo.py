"""How a value someone typed is shown back in an error message: whole when short, cut when long.

An error names the bad value so the user sees what was read, but a megabyte pasted into a
flag must not come back as a megabyte of error.
"""

from __future__ import annotations

LIMIT = 60


def shown(value: str, limit: int = LIMIT) -> str:
    """``repr`` of ``value``, cut to its first ``limit`` characters (with how long it was)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"
