"""How every benchmark reports: ``--json`` prints one JSON summary on stdout, otherwise the
same summary as indented ``key: value`` text; progress lines go to stderr either way, so
stdout holds the summary alone."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from lbroute.cli.errors import Parser


def new_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's parser, named as it is run (``lbroute bench NAME``): a bad option is one
    line on stderr and exit 2, as everywhere in ``lbroute``."""
    return Parser(prog=f"lbroute bench {name}", description=(doc or "").splitlines()[0] if doc else None)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON summary on stdout")


def note(*parts: object) -> None:
    """A progress line, on stderr."""
    print(*parts, file=sys.stderr, flush=True)


class Progress:
    """Steps of a benchmark, on stderr: on a terminal one bar redrawn in place (done/total,
    elapsed, the latest step's words); elsewhere (a log, CI) one line per step, as ``note``."""

    WIDTH = 30

    def __init__(self, total: int, what: str, stream: TextIO | None = None) -> None:
        self.total, self.what, self.done = max(1, total), what, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def step(self, words: str) -> None:
        self.done += 1
        if not self.tty:
            print(words, file=self.stream, flush=True)
            return
        filled = round(self.WIDTH * self.done / self.total)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        line = f"\r{self.what} [{bar}] {self.done}/{self.total} {elapsed:.0f} s  {words[:60]}"
        end = "\n" if self.done >= self.total else ""
        print(f"{line}\x1b[K", end=end, file=self.stream, flush=True)


RESULTS = Path(__file__).parent / "results"


def publish(
    stem: str, result: dict[str, Any], plot: Callable[[dict[str, Any], Path], None], as_json: bool
) -> None:
    """A run's record: ``result`` to ``benchmarks/results/STEM.json``, its plot to ``STEM.png``,
    and its ``summary`` with the machine's record printed (``emit``)."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, RESULTS / f"{stem}.png")
    emit(result["summary"] | {"machine": result["machine"]}, as_json)


def emit(summary: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, separators=(",", ":")))
    else:
        print("\n".join(text(summary)))


def text(value: Any, indent: str = "") -> list[str]:
    """``value`` as readable lines: a mapping as ``key: value``, nested ones indented."""
    if isinstance(value, dict):
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, dict) and item:
                lines.append(f"{indent}{key}:")
                lines += text(item, indent + "  ")
            else:
                lines.append(f"{indent}{key}: {json.dumps(item)}")
        return lines
    return [f"{indent}{json.dumps(value)}"]
