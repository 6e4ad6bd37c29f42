"""Start daemons inside namespaces and end them by the PID we recorded, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from lbroute.kernel.ip import netns_exec

from .state import ProcessRecord


def start_time_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) may hold spaces; fields after the closing paren are fixed
    return int(stat.rsplit(")", 1)[1].split()[19])


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads'), oldest first."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in task.read_text().split()]
    return sorted(set(found), key=lambda c: start_time_of(c) or 0)


def is_alive(record: ProcessRecord) -> bool:
    started = start_time_of(record.pid)
    if started is None or started != record.start_time:
        return False
    state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def is_stopped(record: ProcessRecord) -> bool:
    """Whether the recorded process is stopped (SIGSTOP: state T)."""
    if start_time_of(record.pid) != record.start_time:
        return False
    return Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def pause(record: ProcessRecord, stopped: bool) -> bool:
    """SIGSTOP (``stopped``) or SIGCONT the recorded PID, if it is still that process; whether
    it was signalled."""
    if not is_alive(record):
        return False
    try:
        os.kill(record.pid, signal.SIGSTOP if stopped else signal.SIGCONT)
    except ProcessLookupError:
        return False
    return True


def spawn(
    name: str,
    argv: list[str],
    *,
    netns: str | None,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessRecord:
    """Start ``argv`` (inside ``netns``) in its own session, output to ``log``."""
    full = netns_exec(netns, *argv) if netns else argv
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            full,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    started = start_time_of(proc.pid)
    # the child is not ours to wait for once recorded: the lab outlives this process
    proc.returncode = 0
    return ProcessRecord(
        name=name,
        pid=proc.pid,
        start_time=started or 0,
        netns=netns,
        argv=full,
        log=str(log),
    )


def stop(record: ProcessRecord, *, sig: int = signal.SIGTERM, grace: float = 5.0) -> bool:
    """Signal the recorded PID (only if it is still that process); SIGKILL after ``grace``.

    Returns True when the process is gone.
    """
    if not is_alive(record):
        _reap(record.pid)
        return True
    try:
        os.kill(record.pid, sig)
        os.kill(record.pid, signal.SIGCONT)  # a process `lab hang --stop` left stopped handles it
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_alive(record):
            return True
        time.sleep(0.02)
    try:
        os.kill(record.pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_alive(record):
            return True
        time.sleep(0.02)
    return not is_alive(record)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (it is when started by this run)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
