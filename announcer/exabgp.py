"""The exabgp API: commands out on stdout, answers (``done``/``error``) in on stdin, and what
exabgp has acknowledged.

exabgp acknowledges each command with one line. Anything else that arrives (JSON
messages, blank lines, noise) is logged and skipped, never fatal. A line longer than
``protocol.MAX_LINE`` is dropped as it streams in, so no line from exabgp costs more memory
than that (docs/decisions/announcer-input-bounds.md).
"""

from __future__ import annotations

import enum
import os
import select
import time
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import structlog

from . import metrics
from .protocol import MAX_LINE, Answer, classify
from .state import Route, commands

log = structlog.get_logger()
READ_BYTES = 65536


class ExabgpGone(Exception):
    """stdin closed or exabgp announced its shutdown: nothing more can be sent."""


class Ack(enum.Enum):
    DONE = "done"
    ERROR = "error"  # exabgp refused the command: nothing changed
    TIMEOUT = "timeout"  # no answer: exabgp may or may not have acted on it


@dataclass
class Counters:
    commands: int = 0
    done: int = 0
    errors: int = 0
    unexpected: int = 0
    timeouts: int = 0
    too_long: int = 0


class ExabgpChannel:
    def __init__(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self._in = stdin
        self._out = stdout
        self._buffer = b""
        self._skipping = False  # inside a line longer than MAX_LINE: drop up to its newline
        self.counters = Counters()

    def fileno(self) -> int:
        return self._in.fileno()

    def has_buffered_line(self) -> bool:
        """A whole line already read from the pipe: select() on the fd would not see it."""
        return b"\n" in self._buffer

    def send(self, command: str, *, timeout: float = 5.0) -> Ack:
        """Write one command and wait for its answer."""
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
                return Ack.TIMEOUT
            line = self.read_line(remaining)
            if line is None:
                continue
            answer = self._note(line)
            if answer is Answer.DONE:
                return Ack.DONE
            if answer is Answer.ERROR:
                log.error("announcer.ack.error", op=command)
                return Ack.ERROR

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
        while True:
            if b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                if self._skipping:
                    self._skipping = False  # the end of an over-long line: already reported
                    continue
                return raw.decode(errors="replace").strip()
            if len(self._buffer) > MAX_LINE:
                if not self._skipping:
                    self.counters.too_long += 1
                    metrics.UNEXPECTED.inc()
                    log.warning("announcer.exabgp.line_too_long", count=MAX_LINE)
                self._buffer = b""
                self._skipping = True
            ready, _, _ = select.select([self._in], [], [], max(timeout, 0))
            if not ready:
                return None
            chunk = os.read(self._in.fileno(), READ_BYTES)
            if not chunk:
                raise ExabgpGone()
            self._buffer += chunk

    def drain_unsolicited(self) -> None:
        """Consume whatever exabgp sent without being asked; raises ExabgpGone on EOF."""
        while True:
            line = self.read_line(0)
            if line is None:
                return
            answer = self._note(line)
            if answer in (Answer.DONE, Answer.ERROR):
                log.warning("announcer.ack.unexpected", line=line)


class Sender(Protocol):
    def send(self, command: str, *, timeout: float = ...) -> Ack: ...


class Announcer:
    """What exabgp acknowledged, and sending it only the difference.

    ``maybe_announced`` are routes exabgp may hold without having said so: what a previous
    instance of us announced (exabgp respawned us), and a command that got no answer. They
    are withdrawn explicitly unless desired, so the cache never silently differs from exabgp
    (docs/decisions/announcer-resync.md).
    """

    def __init__(
        self,
        channel: Sender,
        *,
        maybe_announced: frozenset[Route] = frozenset(),
        ack_timeout: float = 5.0,
    ) -> None:
        self.channel = channel
        self.announced: frozenset[Route] = frozenset()
        self.maybe_announced = maybe_announced
        self.ack_timeout = ack_timeout
        self.failed = 0

    def converge(self, desired: frozenset[Route], hold: frozenset[str] = frozenset()) -> bool:
        """Send the difference; True when exabgp accepted all of it."""
        announced = set(self.announced)
        maybe = set(self.maybe_announced)
        failed = 0
        plan = commands(desired, self.announced, maybe_announced=self.maybe_announced, hold=hold)
        for verb, route in plan:
            command = route.announce_command() if verb == "announce" else route.withdraw_command()
            ack = self.channel.send(command, timeout=self.ack_timeout)
            if ack is not Ack.DONE:
                failed += 1
                log.error("announcer.command.failed", op=verb, prefix=route.prefix, nexthop=route.next_hop)
            if ack is Ack.ERROR:
                continue  # refused: exabgp holds what it held
            same_prefix = {r for r in announced | maybe if r.prefix == route.prefix}
            maybe -= same_prefix
            announced -= same_prefix
            if ack is Ack.TIMEOUT:
                # exabgp may have acted on it or not, and a late answer would pass for the
                # next command's: stop here, and let the retry start from "unknown"
                maybe |= same_prefix | {route}
                break
            if verb == "announce":
                announced.add(route)
                log.info("announcer.vip.announced", prefix=route.prefix, nexthop=route.next_hop)
            else:
                log.info("announcer.vip.withdrawn", prefix=route.prefix, nexthop=route.next_hop)
        self.announced = frozenset(announced)
        self.maybe_announced = frozenset(maybe)
        self.failed = failed
        return failed == 0
