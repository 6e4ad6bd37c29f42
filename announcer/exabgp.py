"""The exabgp API channel: commands out on stdout, answers (``done``/``error``) in on stdin.

exabgp acknowledges each command with one line. Anything else that arrives (JSON
messages, blank lines, noise) is logged and skipped, never fatal.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass
from typing import BinaryIO

import structlog

from . import metrics
from .protocol import Answer, classify

log = structlog.get_logger()


class ExabgpGone(Exception):
    """stdin closed or exabgp announced its shutdown: nothing more can be sent."""


@dataclass
class Counters:
    commands: int = 0
    done: int = 0
    errors: int = 0
    unexpected: int = 0
    timeouts: int = 0


class ExabgpChannel:
    def __init__(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self._in = stdin
        self._out = stdout
        self._buffer = b""
        self.counters = Counters()

    def fileno(self) -> int:
        return self._in.fileno()

    def has_buffered_line(self) -> bool:
        """A whole line already read from the pipe: select() on the fd would not see it."""
        return b"\n" in self._buffer

    def send(self, command: str, *, timeout: float = 5.0) -> bool:
        """Write one command and wait for its answer. True on ``done``."""
        self._out.write(command.encode() + b"\n")
        self._out.flush()
        self.counters.commands += 1
        metrics.COMMANDS.labels(op=command.split(" ", 1)[0]).inc()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.counters.timeouts += 1
                metrics.ACKS.labels(answer="timeout").inc()
                log.warning("announcer.ack.timeout", op=command, seconds=timeout)
                return False
            line = self.read_line(remaining)
            if line is None:
                continue
            answer = self._note(line)
            if answer is Answer.DONE:
                return True
            if answer is Answer.ERROR:
                log.error("announcer.ack.error", op=command)
                return False

    def _note(self, line: str) -> Answer:
        answer = classify(line)
        if answer is Answer.DONE:
            self.counters.done += 1
            metrics.ACKS.labels(answer="done").inc()
        elif answer is Answer.ERROR:
            self.counters.errors += 1
            metrics.ACKS.labels(answer="error").inc()
        elif answer is Answer.SHUTDOWN:
            log.info("announcer.exabgp.shutdown")
            raise ExabgpGone("exabgp is shutting down")
        elif line:
            self.counters.unexpected += 1
            metrics.UNEXPECTED.inc()
            log.info("announcer.exabgp.message", kind=answer.value, line=line[:200])
        return answer

    def read_line(self, timeout: float) -> str | None:
        """One line from exabgp, None on timeout; raises ExabgpGone on EOF."""
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], max(timeout, 0))
            if not ready:
                return None
            chunk = os.read(self._in.fileno(), 65536)
            if not chunk:
                raise ExabgpGone()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def drain_unsolicited(self) -> None:
        """Consume whatever exabgp sent without being asked; raises ExabgpGone on EOF."""
        while True:
            line = self.read_line(0)
            if line is None:
                return
            answer = self._note(line)
            if answer in (Answer.DONE, Answer.ERROR):
                log.warning("announcer.ack.unexpected", line=line)
