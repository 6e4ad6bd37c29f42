"""``lbroute``: where every VIP's traffic goes, and the lab that shows it.

Each command family lives in its own module (``inspect_cmd``, ``lab_cmd``) and registers
its sub-parsers with a ``handler``; this module only assembles them and maps the errors
an operator can fix to one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from lbroute import logs
from lbroute.lab.lab import LabError
from lbroute.lab.topology import TopologyError

from . import inspect_cmd, lab_cmd
from .errors import EXIT_USAGE, TargetError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lbroute", description=__doc__.splitlines()[0])
    p.add_argument("--log-level", default=None)
    sub = p.add_subparsers(dest="command", required=True)
    inspect_cmd.add_parsers(sub)
    lab_cmd.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(args.log_level or "warning")
    try:
        code: int = args.handler(args)
        return code
    except (TargetError, LabError, TopologyError) as err:
        print(f"lbroute: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
