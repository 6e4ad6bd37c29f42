"""The adapter that runs health checks: HTTP, TCP connect, exec. One thread per service.

A probe only reports ``(ok, seconds, reason)``; what a result means is decided by the
pure ``health.step`` on the main thread. What a probe reads is bounded: an HTTP body up to
64 KiB (http.client bounds the headers), an exec check's output not at all (its exit code
is the answer; see docs/decisions/announcer-input-bounds.md).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from lbroute.config import ConfigError
from lbroute.config.loader import read_text_file
from lbroute.core.dataplane import StatusUnreadable, gate, parse_status

from .config import HealthCheckConfig
from .lifecycle import ProbeResult

HTTP_BODY_BYTES = 65536
STATUS_BYTES = 1 << 22  # the status of 64 services with 1,000 backends each is ~3 MB


def probe_http(check: HealthCheckConfig) -> tuple[bool, str]:
    parts = urlsplit(check.url or "")
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=check.timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read(HTTP_BODY_BYTES)
    finally:
        conn.close()
    if response.status != check.expect_status:
        return False, f"status {response.status}"
    if check.body_contains is not None and check.body_contains.encode() not in body:
        return False, "body does not match"
    return True, ""


def probe_tcp(check: HealthCheckConfig) -> tuple[bool, str]:
    with socket.create_connection((check.host or "", check.port or 0), timeout=check.timeout):
        return True, ""


def probe_exec(check: HealthCheckConfig) -> tuple[bool, str]:
    try:
        result = subprocess.run(
            list(check.command),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=check.timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, "timeout"
    return result.returncode == 0, f"exit {result.returncode}" if result.returncode else ""


def probe_dataplane(check: HealthCheckConfig, service: str) -> tuple[bool, str]:
    """The data plane's own status: synced, the kernel holding its table, a ready backend."""
    try:
        text = read_text_file(check.status_file or "", max_bytes=STATUS_BYTES, what="a data-plane status")
        status = parse_status(text)
    except ConfigError as err:
        return False, err.problems[0].what if err.problems else "unreadable"
    except StatusUnreadable as err:
        return False, str(err)
    return gate(status, check.dataplane_service or service, now=time.time(), max_age=check.max_age)


PROBES: dict[str, Callable[[HealthCheckConfig], tuple[bool, str]]] = {
    "http": probe_http,
    "tcp": probe_tcp,
    "exec": probe_exec,
}


def run_probe(service: str, check: HealthCheckConfig) -> ProbeResult:
    started = time.monotonic()
    try:
        if check.kind == "dataplane":
            ok, reason = probe_dataplane(check, service)
        else:
            ok, reason = PROBES[check.kind](check)
    except (OSError, http.client.HTTPException) as err:
        # a refused, reset or timed-out probe is a failed check, never a crash
        ok, reason = False, f"{type(err).__name__}: {err}"
    return ProbeResult(service, ok, time.monotonic() - started, reason)


class ProbeLoop:
    """Runs one service's check every ``interval`` seconds (start to start) until stopped."""

    def __init__(self, service: str, check: HealthCheckConfig, report: Callable[[ProbeResult], None]) -> None:
        self.service = service
        self.check = check
        self.report = report
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=f"probe-{self.service}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.report(run_probe(self.service, self.check))
            next_at += self.check.interval
            now = time.monotonic()
            if next_at < now:  # fell behind (a slow probe): no burst of catch-up probes
                next_at = now
            self._stop.wait(next_at - now)
