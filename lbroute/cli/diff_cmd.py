"""``lbroute diff``: exit 0 when every VIP's FIB next-hops equal what BGP says, 1 with the list otherwise.

Made for cron and monitoring checks: the exit code is the answer, stdout says why.
``--settle`` re-reads until the difference is gone or the time is up, so a change still
on its way from the RR to the kernel (milliseconds) is not reported as a problem.
"""

from __future__ import annotations

import argparse
import contextlib

from lbroute.core.view import VipRow, differences
from lbroute.polling import Timeout, eventually

from .argtypes import positive_seconds, vip_prefix
from .output import print_json
from .targets import add_target_args, no_cyclic_gc, resolve
from .vips_cmd import collect_rows, print_problems, row_json

EXIT_DIFFERENT = 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "diff",
        help="exit 0 if every VIP's FIB next-hops equal what BGP says, else 1 and the differences",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("--vip", type=vip_prefix, metavar="PREFIX", help="only this VIP")
    p.add_argument(
        "--settle",
        type=positive_seconds,
        metavar="SECONDS",
        help="re-read for up to this long before reporting a difference",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_target_args(p, pools=True)
    p.set_defaults(handler=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    with no_cyclic_gc():
        targets = resolve(args)
        rows = collect_rows(targets, args.vip)
        if differences(rows) and args.settle:
            last = [rows]

            def settled() -> None:
                last[0] = collect_rows(targets, args.vip)
                different = differences(last[0])
                assert not different, f"{len(different)} VIP(s) differ"

            with contextlib.suppress(Timeout):  # then report what the last read saw
                eventually(settled, args.settle, interval=0.2, what="FIB equal to BGP")
            rows = last[0]
        return report(rows, as_json=args.json)


def report(rows: list[VipRow], *, as_json: bool) -> int:
    different = differences(rows)
    if as_json:
        print_json(
            {"equal": not different, "vips": len(rows), "differences": [row_json(r) for r in different]}
        )
    elif different:
        print_problems(different)
        print(f"\n{len(different)} of {len(rows)} VIP(s) differ between BGP and the FIB")
    else:
        print(f"all {len(rows)} VIP(s): the FIB's next-hops equal what BGP says")
    return EXIT_DIFFERENT if different else 0
