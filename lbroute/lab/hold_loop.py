"""A bounded hold probe: N long-lived TCP connections to a VIP, each a new source port, each
sending a short line every ``interval`` and waiting for its echo. Counts, per connection, who
answered first (the echo's first word: an LB's name from the pods' echo port, a backend's
from behind the data plane) and whether the connection lived to the end.

Runs inside the lab's client namespace (behind the router, so the router forwards and hashes
every packet as a router does), started by ``lbroute.lab.hold``; talks to the pods' echo port
(``lbroute.lab.responder --echo-port``) or, through the data plane, to the backends
(``lbroute.lab.web``), and prints JSON. A connection is *lost* when it is reset, ended by the
other side (an LB that never saw a moved flow answers it with a RST; a backend that left
resets its own), answered by someone else, or when an echo does not come back within
``timeout``; it *survived* when it was still answered at the end (``--seconds`` after the
disruption was over, which ``--done-file`` says, and its last echo back), or when it closed
at ``--close-after`` (the client's own, graceful end). Bounded: at most ``MAX_CONNECTIONS``
connections, each phase at most ``MAX_SECONDS``.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_CONNECTIONS = 2000
MAX_SECONDS = 600.0
LIVE, SURVIVED, CLOSED = "live", "survived", "closed"  # closed: by the client, at --close-after
RESET, ENDED, STALLED, MOVED = "reset", "ended", "stalled", "moved"  # ended: by the other side
ANSWERS = ("lb", "backend")  # what the echo's first word names


@dataclass
class Held:
    sock: socket.socket
    answerer: str = ""  # the LB or backend that answered first
    state: str = LIVE
    waiting_since: float | None = None  # an echo is due since
    buffer: bytes = b""
    seq: int = 0


def _open(host: str, port: int, count: int, timeout: float) -> tuple[list[Held], Counter[str]]:
    held, failures = [], Counter[str]()
    for _ in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as err:
            failures[type(err).__name__] += 1
            continue
        sock.setblocking(False)
        held.append(Held(sock))
    return held, failures


def _send(h: Held, now: float, sel: selectors.BaseSelector) -> None:
    h.seq += 1
    try:
        h.sock.send(f"{h.seq}\n".encode())
        h.waiting_since = now
    except BlockingIOError:
        pass  # the send buffer is full: the echo is late, which the timeout judges
    except OSError:
        _end(h, RESET, sel)


def _end(h: Held, why: str, sel: selectors.BaseSelector) -> None:
    h.state = why
    sel.unregister(h.sock)
    h.sock.close()


def _read(h: Held, sel: selectors.BaseSelector) -> None:
    try:
        data = h.sock.recv(4096)
    except BlockingIOError:
        return
    except OSError:
        _end(h, RESET, sel)
        return
    if not data:
        _end(h, ENDED, sel)  # closed by the other end: not ours to close
        return
    h.buffer += data
    while b"\n" in h.buffer:
        line, h.buffer = h.buffer.split(b"\n", 1)
        name = line.decode(errors="replace").split(" ", 1)[0]
        if not h.answerer:
            h.answerer = name
        elif name != h.answerer:
            _end(h, MOVED, sel)
            return
        h.waiting_since = None


def _exchange(
    held: list[Held],
    until: float,
    interval: float,
    timeout: float,
    sel: selectors.BaseSelector,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Send a line on every live connection each ``interval``, read the echoes, until ``until``
    (or until ``stop()``, asked once a round)."""
    next_round = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= until:
            return
        if now >= next_round:
            if stop():
                return
            for h in held:
                if h.state == LIVE and h.waiting_since is None:
                    _send(h, now, sel)
            next_round = now + interval
        for key, _ in sel.select(timeout=max(0.0, min(next_round, until) - time.monotonic())):
            h = key.data
            if h.state == LIVE:
                _read(h, sel)
        now = time.monotonic()
        for h in held:
            if h.state == LIVE and h.waiting_since is not None and now - h.waiting_since > timeout:
                _end(h, STALLED, sel)


def _settle(held: list[Held], timeout: float, sel: selectors.BaseSelector) -> None:
    """Send nothing more; read until no live connection waits for an echo, each given the
    rest of its ``timeout`` (then it stalled)."""
    while True:
        now = time.monotonic()
        due: list[tuple[float, Held]] = []
        for h in held:
            if h.state == LIVE and h.waiting_since is not None:
                if now - h.waiting_since > timeout:
                    _end(h, STALLED, sel)
                else:
                    due.append((h.waiting_since, h))
        if not due:
            return
        deadline = min(since for since, _ in due) + timeout
        for key, _ in sel.select(timeout=max(0.0, deadline - now) + 0.01):
            h = key.data
            if h.state == LIVE:
                _read(h, sel)


def run(
    host: str,
    port: int,
    count: int,
    seconds: float,
    interval: float,
    timeout: float,
    close_after: float | None = None,
    progress: Path | None = None,
    done: Path | None = None,
    answers: str = "lb",
) -> dict[str, object]:
    """Open ``count`` connections, then hold them: ``seconds`` after ``done`` appears (the
    disruption is over; without ``done``, ``seconds`` from the start), at most ``MAX_SECONDS``;
    or until ``close_after`` seconds from the start, when the client closes them itself."""
    started = time.monotonic()
    held, open_failures = _open(host, port, count, timeout)
    sel = selectors.DefaultSelector()
    for h in held:
        sel.register(h.sock, selectors.EVENT_READ, h)
    # the first echo says which LB (or backend) holds each connection
    _exchange(held, time.monotonic() + min(timeout, 1.0) + interval, interval, timeout, sel)
    unanswered = [h for h in held if h.state == LIVE and not h.answerer]
    for h in unanswered:
        _end(h, STALLED, sel)
    ready = time.monotonic()
    if progress is not None:
        progress.write_text("ready\n")  # the disruption starts now
    done_at: float | None = None
    if close_after is not None:
        _exchange(held, ready + close_after, interval, timeout, sel)
        final = CLOSED
    else:
        if done is not None:
            _exchange(held, ready + MAX_SECONDS, interval, timeout, sel, stop=done.exists)
            done_at = time.monotonic()
        _exchange(held, (done_at or ready) + seconds, interval, timeout, sel)
        # an echo still due has not proved the connection alive: wait for it (or its timeout)
        _settle(held, timeout, sel)
        final = SURVIVED
    end = time.monotonic()
    for h in held:
        if h.state == LIVE:
            _end(h, final, sel)  # ours to end, gracefully
    by: dict[str, Counter[str]] = {}
    for h in held:
        if h.answerer:
            by.setdefault(h.answerer, Counter())[h.state] += 1
    lost = Counter(h.state for h in held if h.answerer and h.state not in (SURVIVED, CLOSED))
    tally = {name: _tally(c) for name, c in sorted(by.items())}
    return {
        "connections": count,
        "held": sum(sum(c.values()) for c in by.values()),
        "open_failures": dict(open_failures) | ({"unanswered": len(unanswered)} if unanswered else {}),
        "answered_by": answers,
        # one of the two is filled: the echo names either the LB or the backend
        "by_lb": tally if answers == "lb" else {},
        "by_backend": tally if answers == "backend" else {},
        "lost": sum(lost.values()),
        "lost_by_kind": dict(sorted(lost.items())),
        "held_seconds": round(end - ready, 3),
        # how long they were held after the disruption was over (None: closed by the client)
        "held_after_seconds": None if done_at is None else round(end - done_at, 3),
        "seconds": round(time.monotonic() - started, 3),
    }


def _tally(states: Counter[str]) -> dict[str, int]:
    survived = states[SURVIVED] + states[CLOSED]
    return {"held": sum(states.values()), "survived": survived, "lost": sum(states.values()) - survived}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=7)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="how long to hold them after --done-file appears"
    )
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="an echo later than this: the connection is lost"
    )
    parser.add_argument(
        "--close-after", type=float, default=None, help="close every connection this long after all are open"
    )
    parser.add_argument(
        "--progress-file", type=Path, default=None, help="'ready' once every connection is open"
    )
    parser.add_argument("--done-file", type=Path, default=None, help="appears when the disruption is over")
    parser.add_argument("--answers", choices=ANSWERS, default="lb", help="what the echo's first word names")
    args = parser.parse_args(argv)
    bounded = 0 < args.seconds <= MAX_SECONDS and (
        args.close_after is None or 0 < args.close_after <= MAX_SECONDS
    )
    if not 0 < args.connections <= MAX_CONNECTIONS or not bounded:
        sys.stderr.write(f"hold: 1 to {MAX_CONNECTIONS} connections for up to {MAX_SECONDS:g} seconds\n")
        return 2
    result = run(
        args.host, args.port, args.connections, args.seconds, args.interval, args.timeout,
        args.close_after, args.progress_file, args.done_file, args.answers,
    )  # fmt: skip
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
