"""The drain protocol's unix socket (docs/decisions/drain-protocol.md).

A client sends one line, ``drain``. The running announcer answers ``withdrawn`` once
exabgp has acknowledged every withdrawal, then ``drained`` when the drain period is
over, and closes. A second client (the data-plane container's preStop hook) gets the
same answers, at once if the drain is already over. Text lines, so ``socat`` works too.

Each client is read on its own thread, so one that connects and says nothing holds up
nobody else. What a client can cost is bounded: ``MAX_LINE`` bytes within ``READ_SECONDS``,
and at most ``MAX_CLIENTS`` connections at once (a further one is told ``error busy``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger()

MAX_LINE = 256  # bytes, the newline included: the protocol's longest line is "drain\n"
READ_SECONDS = 5.0  # for the whole line, however slowly it trickles in
MAX_CLIENTS = 16  # connections at once, waiting drain clients included


class ControlSocketError(Exception):
    """The control socket cannot be set up (a missing directory, a file in the way)."""


@dataclass(eq=False)
class ControlRequest:
    command: str
    conn: socket.socket
    on_close: Callable[[], None] = field(default=lambda: None)
    _closed: bool = False

    def reply(self, line: str) -> None:
        with contextlib.suppress(OSError):  # the client may have given up; the drain goes on
            self.conn.sendall(line.encode() + b"\n")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self.conn.close()
        self.on_close()


def read_line(conn: socket.socket, limit: int = MAX_LINE, seconds: float = READ_SECONDS) -> bytes | None:
    """One line of at most ``limit`` bytes within ``seconds``; None if it is not that."""
    data = b""
    deadline = time.monotonic() + seconds
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len(data) >= limit:
            return None
        conn.settimeout(remaining)
        chunk = conn.recv(limit - len(data))
        if not chunk:
            return None
        data += chunk
    line, _, _ = data.partition(b"\n")
    return line


class ControlServer:
    def __init__(
        self, path: str, deliver: Callable[[ControlRequest], None], *, read_seconds: float = READ_SECONDS
    ) -> None:
        self.path = path
        self.deliver = deliver
        self.read_seconds = read_seconds
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as err:
            raise ControlSocketError(f"cannot use {path}: {err.strerror}") from None
        if mode is not None:
            if not stat.S_ISSOCK(mode):
                raise ControlSocketError(
                    f"{path} exists and is not a socket; remove it or choose another control_socket"
                )
            os.unlink(path)  # a previous instance's socket (exabgp respawned us)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(path)
            os.chmod(path, 0o660)
            self.sock.listen(MAX_CLIENTS)
        except OSError as err:
            self.sock.close()
            raise ControlSocketError(f"cannot listen on {path}: {err.strerror or err}") from None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._serve, name="control", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                log.warning("announcer.control.busy", count=MAX_CLIENTS)
                with contextlib.suppress(OSError):
                    conn.settimeout(1.0)
                    conn.sendall(b"error busy\n")
                conn.close()
                continue
            threading.Thread(target=self._client, args=(conn,), name="control-client", daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        request = ControlRequest("", conn, self._slots.release)
        try:
            raw = read_line(conn, MAX_LINE, self.read_seconds)
        except OSError:
            raw = None
        if raw is None:
            log.warning("announcer.control.unread", count=MAX_LINE, seconds=self.read_seconds)
            request.reply(
                f"error expected one line of at most {MAX_LINE} bytes within {self.read_seconds:g} s"
            )
            request.close()
            return
        line = raw.decode(errors="replace").strip()
        if line != "drain":
            log.warning("announcer.control.unknown", op=line[:40])
            request.reply("error unknown command")
            request.close()
            return
        conn.settimeout(None)
        request.command = line
        self.deliver(request)


def request_drain(path: str, timeout: float, on_line: Callable[[str], None]) -> bool:
    """Client side of ``lbroute-announcer drain``: True once ``drained`` arrived."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b"drain\n")
        answers = sock.makefile("rb")
        while raw := answers.readline(MAX_LINE):
            line = raw.decode(errors="replace").strip()
            on_line(line)
            if line == "drained":
                return True
    return False
