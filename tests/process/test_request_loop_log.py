"""The request loop's per-request log (``--log-file``), against a server on loopback."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lbroute.lab.request_loop import run


class Named(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"lb7\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Named)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_each_request_is_logged_as_it_ends_with_its_answer_or_its_error(server: int) -> None:
    log = io.StringIO()
    result = run("127.0.0.1", server, 3, 1.0, 0, log=log)
    run("127.0.0.1", closed_port(), 1, 1.0, 0, log=log)
    lines = [line.split(" ") for line in log.getvalue().splitlines()]
    assert [answer for _, answer in lines] == ["lb7", "lb7", "lb7", "!ConnectionRefusedError"]
    stamps = [float(t) for t, _ in lines]
    assert stamps == sorted(stamps)
    assert result["answers"] == {"lb7": 3}
