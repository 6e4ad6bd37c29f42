"""Errors the CLI turns into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

EXIT_USAGE = 2


class TargetError(Exception):
    """A target that cannot be reached: says which and what to check."""
