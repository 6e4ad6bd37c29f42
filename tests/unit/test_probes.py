"""The probe adapter against real local endpoints: a result for every outcome, never a crash."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from announcer.config import HealthCheckConfig
from announcer.probes import run_probe


@pytest.fixture
def http_port() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code, body = {"/ok": (200, b"all good"), "/sick": (503, b"sick")}.get(self.path, (404, b"?"))
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: connections are refused


def check(**kw: object) -> HealthCheckConfig:
    return HealthCheckConfig.model_validate({"interval": 1.0, "timeout": 0.5, **kw})


@pytest.mark.parametrize(
    ("path", "extra", "ok", "reason"),
    [
        ("/ok", {}, True, ""),
        ("/ok", {"body_contains": "good"}, True, ""),
        ("/ok", {"body_contains": "bad"}, False, "body does not match"),
        ("/sick", {}, False, "status 503"),
        ("/sick", {"expect_status": 503}, True, ""),
    ],
)
def test_http(http_port: int, path: str, extra: dict[str, object], ok: bool, reason: str) -> None:
    result = run_probe("web", check(kind="http", url=f"http://127.0.0.1:{http_port}{path}", **extra))
    assert (result.ok, result.reason) == (ok, reason)
    assert 0 <= result.seconds < 0.5


def test_http_refused_is_a_failed_check() -> None:
    result = run_probe("web", check(kind="http", url=f"http://127.0.0.1:{closed_port()}/"))
    assert not result.ok and "ConnectionRefusedError" in result.reason


def test_tcp(http_port: int) -> None:
    assert run_probe("web", check(kind="tcp", host="127.0.0.1", port=http_port)).ok
    refused = run_probe("web", check(kind="tcp", host="127.0.0.1", port=closed_port()))
    assert not refused.ok and "Refused" in refused.reason
