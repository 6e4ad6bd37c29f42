"""Playing exabgp to a real ``lbroute-announcer run`` process: read its commands from its
stdout, answer on its stdin, as exabgp's API does."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

from lbroute.polling import eventually


class PlayExabgp:
    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "announcer.main", "run", "--config", str(config), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.buffer = b""

    def read_command(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()

        def check() -> str:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                self.buffer += os.read(fd, 4096)
            assert b"\n" in self.buffer, f"no command yet (have {self.buffer!r})"
            line, self.buffer = self.buffer.split(b"\n", 1)
            return line.decode()

        return eventually(check, timeout, interval=0, what="a command from the announcer")

    def answer(self, text: str | bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((text.encode() if isinstance(text, str) else text) + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        """Wait for the process to end; its exit code and stderr."""
        code = self.proc.wait(timeout=timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        return code, err

    def kill(self) -> None:
        """End the process if it still runs (by its own handle, never by name) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        if self.proc.stderr is not None and not self.proc.stderr.closed:
            self.finish()


def expect(exabgp: PlayExabgp, *commands: str, answer: str = "done", timeout: float = 30) -> None:
    """The next commands are exactly ``commands`` (in any order); each gets ``answer``."""
    got = []
    for _ in commands:
        got.append(exabgp.read_command(timeout=timeout))
        exabgp.answer(answer)
    assert sorted(got) == sorted(commands)


def no_command_within(exabgp: PlayExabgp, seconds: float) -> None:
    """Nothing arrives on the API channel for ``seconds``. Absence from a real process can only
    be shown by waiting, so keep ``seconds`` short; what the decisions are is proven without a
    clock by tests/unit/test_announcer_lifecycle.py."""
    assert exabgp.proc.stdout is not None
    ready, _, _ = select.select([exabgp.proc.stdout.fileno()], [], [], seconds)
    assert not ready and b"\n" not in exabgp.buffer, f"unexpected command: {exabgp.buffer!r}"
