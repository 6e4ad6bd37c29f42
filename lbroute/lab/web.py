"""A backend (web) pod of the lab: answers HTTP with its name, and echoes lines for held
connections. Runs inside the backend's namespace, bound to every address (the VIPs on its
``lo`` under nft-dsr, its own address under nft-nat).

    GET / HTTP/1.0 ...      -> 200, body "<name>\\n", then close (a probe's request)
    any other line "X\\n"   -> "<name> X\\n", for as long as the client keeps the connection
                            (``lbroute.lab.echo``, as the LB pods' responder answers)
"""

from __future__ import annotations

import argparse
import socketserver

from .echo import IDLE_SECONDS, MAX_LINE, echo


def make_handler(name: str) -> type[socketserver.StreamRequestHandler]:
    body = f"{name}\n".encode()

    class Handler(socketserver.StreamRequestHandler):
        timeout = IDLE_SECONDS

        def handle(self) -> None:
            first = self.rfile.readline(MAX_LINE)
            if first.startswith(b"GET "):
                while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass
                head = f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
                self.wfile.write(head.encode() + body)
                return
            echo(name, self.rfile, self.wfile, first)

    return Handler


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, default=80)
    args = parser.parse_args(argv)
    with Server(("0.0.0.0", args.port), make_handler(args.name)) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
