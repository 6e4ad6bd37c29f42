"""A bounded request loop: N requests, a new TCP connection (so a new source port) each.

Runs inside the lab's router namespace, started by ``lbroute.lab.traffic``; prints JSON
with how many answers each LB gave and how many requests failed. Targets only lab addresses.
``--log-file`` also records each request as it ends: ``<monotonic s> <answer>``, or
``<monotonic s> !<error>`` for a failed one (the clock is the host's, shared by namespaces).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

MAX_REQUESTS = 10_000


def request(host: str, port: int, timeout: float) -> str:
    with socket.create_connection((host, port), timeout=timeout) as conn:
        name = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in Host
        conn.sendall(f"GET / HTTP/1.0\r\nHost: {name}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200") and not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"bad response {head[:40]!r}")
    return body.decode().strip()


def run(
    host: str,
    port: int,
    count: int,
    timeout: float,
    interval: float,
    progress: Path | None = None,
    log: TextIO | None = None,
) -> dict[str, object]:
    answers: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    started = time.monotonic()
    for i in range(count):
        if progress is not None and i % 10 == 0:
            progress.write_text(f"{i}\n")  # lets a test start its disruption once the loop runs
        try:
            answer = request(host, port, timeout)
            answers[answer] += 1
        except OSError as err:
            answer = f"!{type(err).__name__}"
            failures[type(err).__name__] += 1
        if log is not None:
            log.write(f"{time.monotonic():.4f} {answer}\n")
            log.flush()
        if interval:
            time.sleep(interval)  # pacing of a load loop, not a wait for a condition
    return {
        "sent": count,
        "answers": dict(sorted(answers.items())),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--count", type=int, default=100, help=f"requests, 1 to {MAX_REQUESTS}")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--progress-file", type=Path, default=None, help="requests sent so far, every 10")
    parser.add_argument("--log-file", type=Path, default=None, help="one line per request as it ends")
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_REQUESTS:
        sys.stderr.write(f"probe: --count must be between 1 and {MAX_REQUESTS}\n")
        return 2
    if args.log_file is None:
        result = run(args.host, args.port, args.count, args.timeout, args.interval, args.progress_file)
    else:
        with open(args.log_file, "w") as log:
            result = run(
                args.host, args.port, args.count, args.timeout, args.interval, args.progress_file, log
            )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
