"""Human tables and JSON: the two faces of every ``lbroute`` command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def join(items: Sequence[str] | frozenset[str] | None, empty: str = "-") -> str:
    if items is None:
        return empty
    return ",".join(sorted(items)) or empty
