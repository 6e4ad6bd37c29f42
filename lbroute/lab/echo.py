"""The hold probe's echo (``lbroute.lab.hold_loop``), as the LB pods' responder and the backends
answer it: every line read is answered with ``<name> <line>``, for as long as the client
keeps the connection and talks."""

from __future__ import annotations

import socketserver
from io import BufferedIOBase

MAX_LINE = 4096  # bytes; a longer line, or one the client ends without a newline, ends the connection
IDLE_SECONDS = 600.0  # a held connection sends a line every second or so; a silent one is let go


def echo(name: str, rfile: BufferedIOBase, wfile: BufferedIOBase, first: bytes | None = None) -> None:
    """Answer ``first`` (a line already read) and every line after it, until the client closes
    or sends what is not a whole line of at most ``MAX_LINE`` bytes, or is silent longer than
    the socket's timeout."""
    prefix = name.encode() + b" "
    try:
        line = first if first is not None else rfile.readline(MAX_LINE)
        while line.endswith(b"\n"):
            wfile.write(prefix + line)
            wfile.flush()
            line = rfile.readline(MAX_LINE)
    except TimeoutError:
        return  # idle: let go


def make_echo_handler(name: str) -> type[socketserver.StreamRequestHandler]:
    class Echo(socketserver.StreamRequestHandler):
        timeout = IDLE_SECONDS

        def handle(self) -> None:
            echo(name, self.rfile, self.wfile)

    return Echo
