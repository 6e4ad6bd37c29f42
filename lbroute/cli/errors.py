"""Errors the CLI turns into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn

EXIT_USAGE = 2
_LONG_WORD = re.compile(r"\S{80,}")


class TargetError(Exception):
    """A target that cannot be reached: says which and what to check."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (and exit 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        # argparse echoes a bad choice or an unknown argument whole: cut what is too long to read
        message = _LONG_WORD.sub(lambda m: f"{m.group()[:60]}... ({len(m.group())} characters)", message)
        # and a character that is not printable (a newline, ESC) escaped: the answer stays one line
        message = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")
