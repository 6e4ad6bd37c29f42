"""An exabgp API process for benchmarks: forwards lines from a FIFO to exabgp, answers to a file.

The benchmark writes ``announce route ...`` into the FIFO at a moment it records, so the
time measured is exabgp -> RR -> router -> zebra -> kernel, not anything of ours.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    fifo, answers = sys.argv[1], sys.argv[2]
    with open(answers, "ab", buffering=0) as out:
        while True:
            with open(fifo, "rb") as source:  # blocks until the benchmark opens it for writing
                for line in source:
                    sys.stdout.buffer.write(line)
                    sys.stdout.buffer.flush()
                    reply = sys.stdin.buffer.readline()
                    if not reply:
                        return 0
                    out.write(reply)
            if os.getppid() == 1:
                return 0


if __name__ == "__main__":
    raise SystemExit(main())
