"""The hold probe's echo, as the LB pods' responder and the backends both answer it."""

from __future__ import annotations

import io
import socket
import socketserver

import pytest

from lbroute.lab import echo, responder, web


def answers(sent: bytes, first: bytes | None = None) -> bytes:
    out = io.BytesIO()
    echo.echo("lb2", io.BytesIO(sent), out, first)
    return out.getvalue()


def test_every_whole_line_is_answered_with_the_name() -> None:
    assert answers(b"1\n2\n") == b"lb2 1\nlb2 2\n"
    assert answers(b"2\n", first=b"1\n") == b"lb2 1\nlb2 2\n"  # a line the caller read already


@pytest.mark.parametrize(
    "sent",
    [b"1\n2", b"1\n" + b"x" * echo.MAX_LINE + b"\n3\n"],
    ids=["a line the client ends without a newline", "a line over the bound"],
)
def test_what_is_not_a_whole_line_within_the_bound_ends_the_connection(sent: bytes) -> None:
    assert answers(sent) == b"lb2 1\n"


def test_silence_past_the_timeout_ends_the_connection_quietly() -> None:
    class Silent(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            raise TimeoutError("timed out")

    out = io.BytesIO()
    echo.echo("lb2", Silent(), out, first=b"1\n")
    assert out.getvalue() == b"lb2 1\n"


@pytest.mark.parametrize(
    "handler",
    [responder.make_echo_handler("lb2"), web.make_handler("lb2")],
    ids=["the LB pod's responder", "a backend"],
)
def test_the_responder_and_the_backends_answer_alike(
    handler: type[socketserver.StreamRequestHandler],
) -> None:
    """Over a socket pair (no process, no port): the same answers, bound and idle timeout."""
    assert handler.timeout == echo.IDLE_SECONDS
    ours, theirs = socket.socketpair()
    with ours, theirs:
        long = b"y" * 300 + b"\n"
        theirs.sendall(b"1\n" + long + b"2")  # the last line never ends
        theirs.shutdown(socket.SHUT_WR)
        handler(ours, ("client", 0), None)  # type: ignore[arg-type]  # handles the connection, then returns
        ours.shutdown(socket.SHUT_WR)
        got = b"".join(iter(lambda: theirs.recv(65536), b""))
    assert got == b"lb2 1\n" + b"lb2 " + long
