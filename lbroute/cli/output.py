"""Human tables and JSON: the two faces of every ``lbroute`` command."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from lbroute.core.rib import address_order


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    print("\n".join(lines))


def print_json(data: Any) -> None:
    """A list prints one element per line: readable, and it keeps json's C encoder (which
    ``indent`` turns off) for the 16k-row answers of a large RIB."""
    if isinstance(data, list):
        print("[\n" + ",\n".join(json.dumps(item) for item in data) + ("\n]" if data else "]"))
    else:
        print(json.dumps(data, indent=2))


def print_json_line(data: Any) -> None:
    """One JSON object per line (JSON Lines), flushed: for streams such as ``watch``."""
    print(json.dumps(data, separators=(",", ":")), flush=True)


def addresses(items: Iterable[str] | None) -> list[str] | None:
    """Addresses in address order (10.0.0.9 before 10.0.0.10), for tables and JSON alike."""
    return None if items is None else list(_in_order(frozenset(items)))


@functools.lru_cache(maxsize=4096)
def _in_order(items: frozenset[str]) -> tuple[str, ...]:
    # thousands of VIPs share a handful of next-hop sets: sort each set once
    return tuple(sorted(items, key=address_order))


def join(items: Iterable[str] | None, empty: str = "-") -> str:
    if items is None:
        return empty
    return ",".join(addresses(items) or ()) or empty


def timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-11-26T05:50:01.123Z."""
    seconds = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((epoch - seconds) * 1000):03d}Z"


def duration(seconds: float | None) -> str:
    """Compact: 45s, 3m12s, 5h03m, 2d04h; "-" when unknown."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
