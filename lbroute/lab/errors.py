"""The lab's one error: a request it cannot carry out as asked (the CLI's exit code 2)."""

from __future__ import annotations


class LabError(Exception):
    """A lab request that cannot be carried out as asked: says what is wrong and what to do."""
