"""The drain protocol's unix socket (docs/decisions/drain-protocol.md).

A client sends one line, ``drain``. The running announcer answers ``withdrawn`` once
exabgp has acknowledged every withdrawal, then ``drained`` when the drain period is
over, and closes. A second client (the data-plane container's preStop hook) gets the
same answers, at once if the drain is already over. Text lines, so ``socat`` works too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger()


@dataclass(eq=False)
class ControlRequest:
    command: str
    conn: socket.socket

    def reply(self, line: str) -> None:
        with contextlib.suppress(OSError):  # the client may have given up; the drain goes on
            self.conn.sendall(line.encode() + b"\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


class ControlServer:
    def __init__(self, path: str, deliver: Callable[[ControlRequest], None]) -> None:
        self.path = path
        self.deliver = deliver
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a previous instance's socket (exabgp respawned us)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o660)
        self.sock.listen(8)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._serve, name="control", daemon=True)
        thread.start()
        return thread

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            conn.settimeout(5.0)
            try:
                line = conn.makefile("rb").readline(256).decode(errors="replace").strip()
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            if line != "drain":
                log.warning("announcer.control.unknown", op=line[:40])
                with contextlib.suppress(OSError):
                    conn.sendall(b"error unknown command\n")
                conn.close()
                continue
            self.deliver(ControlRequest(line, conn))


def request_drain(path: str, timeout: float, on_line: Callable[[str], None]) -> bool:
    """Client side of ``lbroute-announcer drain``: True once ``drained`` arrived."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(b"drain\n")
        for raw in sock.makefile("rb"):
            line = raw.decode(errors="replace").strip()
            on_line(line)
            if line == "drained":
                return True
    return False
