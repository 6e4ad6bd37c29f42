"""The LB pod's stand-in data plane: answers every HTTP request with the LB's name.

Runs inside the pod's namespace, bound to the VIPs' port on one dual-stack socket (IPv4
and IPv6 VIPs alike); enough to see which LB the router's ECMP hash picked for each flow.
With ``--echo-port`` it also keeps long-lived connections: every line it reads there it
answers with ``<name> <line>``, for as long as the client keeps the connection open (the
hold probe, ``lbroute.lab.hold_loop``). ``/healthz`` is what the announcer's health check
asks; ``lbroute lab break|heal|flap`` steer it through a small file:

    no file or "ok"   200
    "fail"            503
    "flap"            503 and 200 in turn, one per request (a check that flips every probe)
"""

from __future__ import annotations

import argparse
import itertools
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .echo import make_echo_handler


class HealthSwitch:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def healthy(self) -> bool:
        try:
            mode = self.path.read_text().strip() if self.path else "ok"
        except FileNotFoundError:
            mode = "ok"
        if mode == "flap":
            with self._lock:
                return next(self._turn) % 2 == 1
        return mode != "fail"


def make_handler(name: str, health: HealthSwitch) -> type[BaseHTTPRequestHandler]:
    body = f"{name}\n".encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok = health.healthy()
                self._answer(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n")
                return
            self._answer(200, body)

        def _answer(self, code: int, payload: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per request would drown the lab's logs

    return Handler


class DualStackServer(ThreadingHTTPServer):
    """Listens on ``[::]`` with IPV6_V6ONLY off: IPv4 clients arrive as ::ffff:a.b.c.d."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class EchoServer(socketserver.ThreadingTCPServer):
    """Dual-stack, like the HTTP one; hundreds of connections may arrive at once."""

    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--health-file", type=Path, default=None)
    parser.add_argument("--echo-port", type=int, default=None, help="also echo lines on this port")
    args = parser.parse_args(argv)
    # inside the pod's own namespace, whose only addresses are the pod's and its VIPs
    if args.echo_port:
        echo = EchoServer(("::", args.echo_port), make_echo_handler(args.name))
        threading.Thread(target=echo.serve_forever, name="echo", daemon=True).start()
    server = DualStackServer(("::", args.port), make_handler(args.name, HealthSwitch(args.health_file)))
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
