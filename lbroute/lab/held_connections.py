"""Held-open connections through the lab: N long-lived TCP connections to a VIP, each a new
source port (so a new ECMP hash and a new Maglev bucket), each sending a line every
``interval`` and waiting for its echo from the backend (``lbroute.lab.web``).

Runs inside the router's namespace (the client behind the router's ECMP route), started by
``lbroute.lab.dataplane.hold``. Writes ``ready`` once every connection is open and answered,
the number of ping rounds done to ``rounds``, and stops after the round that follows a
``stop`` file. A connection is *lost* when it is reset or closed by the other side, or its
echo does not come within ``timeout``; which backend answered it is in every echo. Prints
JSON. Bounded: at most ``MAX_CONNECTIONS`` connections for at most ``MAX_SECONDS``.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MAX_CONNECTIONS = 1000
MAX_SECONDS = 600.0


@dataclass
class Held:
    sock: socket.socket
    backend: str = ""
    lost: str = ""  # why: reset, closed, timeout, other-backend
    buffer: bytes = field(default=b"")


def _round(conns: list[Held], payload: bytes, timeout: float) -> None:
    """Send ``payload`` on every live connection, then read each one's echo, all within
    ``timeout``: a connection that breaks costs one round, not a timeout per connection."""
    waiting: dict[socket.socket, Held] = {}
    for held in conns:
        if held.lost:
            continue
        try:
            held.sock.sendall(payload)
        except ConnectionResetError:
            held.lost = "reset"
            continue
        except OSError as err:
            held.lost = type(err).__name__
            continue
        waiting[held.sock] = held
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for sock in waiting:
            sel.register(sock, selectors.EVENT_READ)
        while waiting and time.monotonic() < deadline:
            for key, _ in sel.select(max(deadline - time.monotonic(), 0.001)):
                held = waiting[key.fileobj]  # type: ignore[index]
                try:
                    chunk = held.sock.recv(4096)
                except ConnectionResetError:
                    chunk, held.lost = b"", "reset"
                except OSError as err:
                    chunk, held.lost = b"", type(err).__name__
                if not chunk:
                    held.lost = held.lost or "closed"
                else:
                    held.buffer += chunk
                    if b"\n" not in held.buffer:
                        continue
                    line, _, held.buffer = held.buffer.partition(b"\n")
                    backend = line.split(b" ", 1)[0].decode(errors="replace")
                    if held.backend and backend != held.backend:
                        held.lost = "other-backend"
                    held.backend = held.backend or backend
                sel.unregister(held.sock)
                del waiting[held.sock]
    for held in waiting.values():
        held.lost = "timeout"


def run(
    host: str, port: int, count: int, interval: float, timeout: float, seconds: float, work: Path
) -> dict[str, object]:
    started = time.monotonic()
    conns: list[Held] = []
    failed_to_open = 0
    for i in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError:
            failed_to_open += 1
            continue
        held = Held(sock)
        _round([held], f"hello {i}\n".encode(), timeout)
        if held.lost:  # never answered: not a held connection, whatever happens later
            sock.close()
            failed_to_open += 1
            continue
        conns.append(held)
    (work / "ready").write_text(f"{len(conns)}\n")
    rounds = 0
    stop_seen = False
    while time.monotonic() - started < seconds:
        round_started = time.monotonic()
        _round(conns, f"ping {rounds}\n".encode(), timeout)
        rounds += 1
        (work / "rounds").write_text(f"{rounds}\n")
        if stop_seen:
            break
        stop_seen = (work / "stop").exists()
        spent = time.monotonic() - round_started
        if spent < interval:
            time.sleep(interval - spent)  # pacing of a load loop, not a wait for a condition
    by_backend: dict[str, dict[str, int]] = {}
    for held in conns:
        entry = by_backend.setdefault(held.backend or "?", {"held": 0, "lost": 0})
        entry["held"] += 1
        entry["lost"] += 1 if held.lost else 0
        held.sock.close()
    return {
        "opened": len(conns),
        "failed_to_open": failed_to_open,
        "lost": sum(1 for h in conns if h.lost),
        "survived": sum(1 for h in conns if not h.lost),
        "reasons": dict(Counter(h.lost for h in conns if h.lost)),
        "by_backend": dict(sorted(by_backend.items())),
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--work", type=Path, required=True, help="directory for ready, rounds and stop")
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_CONNECTIONS or not 0 < args.seconds <= MAX_SECONDS:
        sys.stderr.write(f"held: --count 1..{MAX_CONNECTIONS}, --seconds up to {MAX_SECONDS:g}\n")
        return 2
    result = run(args.host, args.port, args.count, args.interval, args.timeout, args.seconds, args.work)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
