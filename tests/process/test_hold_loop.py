"""The hold probe's own judgement, against an echo server on loopback that echoes every line
(``web1 <line>``) until the test silences it, at the moment the disruption "ends" (the done
file appears): every echo due from then on never comes. An echo still due when the hold ends
is waited for (up to the timeout), so both connections are lost (stalled), never counted as
survived. Without that wait (``_settle`` a no-op, as the probe was before) the same run says
survived: the difference is proved both ways."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbroute.lab import hold_loop
from lbroute.polling import eventually


class Echo:
    """A loopback TCP echo server that can be silenced (connections stay open, unanswered)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.silent = threading.Event()
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = conn.recv(256)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not self.silent.is_set():
                    conn.sendall(b"web1 " + line + b"\n")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.server.close()


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    try:
        yield server
    finally:
        server.close()


def hold_then_silence(echo: Echo, tmp_path: Path) -> dict[str, object]:
    """Two connections held 0.2 s after the done file, which appears just after the echo went
    silent; an echo is late after 2 s."""
    progress, done = tmp_path / "progress", tmp_path / "done"
    report: dict[str, object] = {}

    def probe() -> None:
        report.update(
            hold_loop.run("127.0.0.1", echo.port, 2, 0.2, 0.05, 2.0, None, progress, done, "backend")
        )

    thread = threading.Thread(target=probe)
    thread.start()
    try:

        def ready() -> None:
            assert progress.exists()

        eventually(ready, 10, what="the probe's connections open and answered")
        echo.silent.set()
        done.touch()
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive(), "the probe did not end"
    return report


def test_an_echo_due_at_the_end_is_waited_for_and_the_silent_connection_is_lost(
    echo: Echo, tmp_path: Path
) -> None:
    report = hold_then_silence(echo, tmp_path)
    assert report["held"] == 2 and report["lost_by_kind"] == {"stalled": 2}, report
    assert report["by_backend"] == {"web1": {"held": 2, "survived": 0, "lost": 2}}, report


def test_without_the_wait_the_same_silent_connections_were_counted_survived(
    echo: Echo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hold_loop, "_settle", lambda held, timeout, sel: None)
    report = hold_then_silence(echo, tmp_path)
    assert report["held"] == 2 and report["lost"] == 0, report


def test_a_connection_still_answered_survives_the_wait(echo: Echo, tmp_path: Path) -> None:
    report = hold_loop.run("127.0.0.1", echo.port, 3, 0.2, 0.05, 2.0, answers="backend")
    assert report["by_backend"] == {"web1": {"held": 3, "survived": 3, "lost": 0}}, report
