"""What the announcer reads is bounded: exabgp's lines (length, JSON nesting) and the drain
socket (line length, time to send it, clients at once; one idle client holds up nobody)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from announcer.control import MAX_CLIENTS, MAX_LINE, ControlRequest, ControlServer, ControlSocketError
from announcer.exabgp import READ_BYTES, ExabgpChannel
from announcer.protocol import MAX_DEPTH, Answer, classify, too_deep
from lbroute.polling import eventually, until

SHUTDOWN = '{"type": "notification", "notification": "shutdown"}'


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("[" * 20000 + "]" * 20000, Answer.NOISE),
        ("{" + '"a":[' * 20000, Answer.NOISE),
        ("{" + '"a":{' * (MAX_DEPTH - 1) + "}" * MAX_DEPTH, Answer.MESSAGE),  # as deep as allowed
        ("{" + '"a":{' * MAX_DEPTH + "}" * (MAX_DEPTH + 1), Answer.NOISE),  # one deeper
        # brackets inside strings are not nesting
        ('{"type": "notification", "notification": "shutdown", "x": "' + "[" * 100 + '"}', Answer.SHUTDOWN),
        (SHUTDOWN + " " * 70000, Answer.NOISE),  # longer than MAX_LINE: not even looked at
        ("done", Answer.DONE),
    ],
    ids=["deep-array", "deep-unclosed", "depth-limit", "past-limit", "brackets-in-strings", "long", "done"],
)
def test_classify_is_bounded(line: str, answer: Answer) -> None:
    assert classify(line) is answer


def test_too_deep_skips_escaped_quotes() -> None:
    assert not too_deep('{"a": "\\"[[[[[[", "b": 1}', 3)
    assert too_deep('{"a": [[[1]]]}', 3)


def test_an_over_long_line_from_exabgp_is_dropped_as_it_streams_and_the_next_line_is_read() -> None:
    r, w = os.pipe()
    with os.fdopen(r, "rb", buffering=0) as stdin, open(os.devnull, "wb") as stdout:
        channel = ExabgpChannel(stdin, stdout)
        largest = 0

        def write() -> None:
            with os.fdopen(w, "wb") as out:
                for _ in range(160):  # 10 MiB in 64 KiB pieces, no newline until the end
                    out.write(b"x" * 65536)
                out.write(b"\ndone\n")

        writer = threading.Thread(target=write)
        writer.start()
        lines = []
        while len(lines) < 1:
            line = channel.read_line(5)
            largest = max(largest, len(channel._buffer))
            if line is not None:
                lines.append(line)
        writer.join()
        assert lines == ["done"]
        assert channel.counters.too_long == 1
        assert largest <= MAX_LINE + READ_BYTES + len(b"\ndone\n")


# --- the drain socket ---------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ControlServer, list[ControlRequest]]]:
    delivered: list[ControlRequest] = []
    srv = ControlServer(str(tmp_path / "a.sock"), delivered.append, read_seconds=0.5)
    srv.start()
    yield srv, delivered
    srv.stop()
    for request in delivered:
        request.close()


def connect(srv: ControlServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(srv.path)
    return sock


def test_an_idle_client_holds_up_nobody(tmp_path: Path) -> None:
    delivered: list[ControlRequest] = []
    srv = ControlServer(str(tmp_path / "a.sock"), delivered.append, read_seconds=5.0)
    srv.start()
    try:
        with connect(srv) as idle, connect(srv) as drain:
            drain.sendall(b"drain\n")
            # one client at a time would deliver it only once the idle one's 5 s are up
            until(lambda: len(delivered) == 1, 2, what="the drain delivered while the idle client waits")
            delivered[0].reply("withdrawn")
            assert drain.recv(64) == b"withdrawn\n"
            idle.settimeout(0)
            with pytest.raises(BlockingIOError):
                idle.recv(64)  # still being waited for, not refused
    finally:
        srv.stop()
        for request in delivered:
            request.close()


def test_a_client_that_says_nothing_is_told_off_when_its_time_is_up(
    server: tuple[ControlServer, list[ControlRequest]],
) -> None:
    srv, delivered = server
    with connect(srv) as idle:
        assert idle.recv(256).startswith(f"error expected one line of at most {MAX_LINE} bytes".encode())
    assert delivered == []


def test_a_line_too_long_or_unknown_is_refused(server: tuple[ControlServer, list[ControlRequest]]) -> None:
    srv, delivered = server
    with connect(srv) as client:
        client.sendall(b"d" * 10_000)
        assert client.recv(256).startswith(b"error expected one line")
    with connect(srv) as client:
        client.sendall(b"reboot\n")
        assert client.recv(256) == b"error unknown command\n"
    assert delivered == []


def test_clients_at_once_are_bounded_and_a_slot_comes_back(
    server: tuple[ControlServer, list[ControlRequest]],
) -> None:
    srv, delivered = server
    waiting = []
    for _ in range(MAX_CLIENTS):
        client = connect(srv)
        client.sendall(b"drain\n")
        waiting.append(client)
    until(lambda: len(delivered) == MAX_CLIENTS, 5, what="every drain client delivered")
    with connect(srv) as extra:
        assert extra.recv(64) == b"error busy\n"
    delivered[0].close()  # one drain client is answered and let go
    waiting[0].close()

    def one_more_gets_in() -> None:
        with connect(srv) as late:
            late.sendall(b"drain\n")
            until(lambda: len(delivered) == MAX_CLIENTS + 1, 1, what="delivered")

    eventually(one_more_gets_in, 5, what="a freed slot")
    for client in waiting[1:]:
        client.close()


def test_a_file_at_the_socket_path_is_left_alone(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    with pytest.raises(ControlSocketError, match="exists and is not a socket"):
        ControlServer(str(precious), lambda _: None)
    assert precious.read_text() == "keep me\n"
    with pytest.raises(ControlSocketError, match="No such file or directory"):
        ControlServer(str(tmp_path / "nope" / "a.sock"), lambda _: None)


def test_a_previous_instances_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.sock"
    first = ControlServer(str(path), lambda _: None)
    first.stop()
    assert path.exists()  # left behind, as by a killed announcer
    second = ControlServer(str(path), lambda _: None)
    second.stop()
