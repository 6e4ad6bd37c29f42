"""The lab's processes: each started into its own log, recorded at once, ended by its PID.

A ``Supervisor`` works on the process records of the lab's state, so what it starts is in
the state file before anything else can fail, and ``lab down`` ends it even after a crash.
It never signals a process by name, and never a PID whose start time has changed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from . import processes
from .state import ProcessRecord


class Supervisor:
    def __init__(self, records: dict[str, ProcessRecord], logs: Path, save: Callable[[], None]) -> None:
        self.records = records
        self.logs = logs
        self._save = save

    def spawn(
        self,
        name: str,
        argv: list[str],
        netns: str | None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ProcessRecord:
        """Start ``argv`` (inside ``netns``), output to ``logs/<name>.log``, and record it."""
        record = processes.spawn(name, argv, netns=netns, log=self.logs / f"{name}.log", env=env, cwd=cwd)
        self.records[name] = record
        self._save()
        return record

    def stop(self, name: str, *, sig: int = signal.SIGTERM, grace: float = 5.0, forget: bool = False) -> None:
        """End the process recorded as ``name`` (if it still is that process); ``forget`` drops
        its record too."""
        record = self.records.pop(name, None) if forget else self.records.get(name)
        if record is not None:
            processes.stop(record, sig=sig, grace=grace)
        if forget:
            self._save()

    def stop_all(self) -> list[str]:
        """End every recorded process, the last started first; returns their names."""
        names = list(reversed(list(self.records)))
        for name in names:
            processes.stop(self.records[name])
        return names

    def is_running(self, name: str) -> bool:
        record = self.records.get(name)
        return record is not None and processes.is_alive(record)

    def first_child(self, name: str) -> int | None:
        """The oldest child of the process recorded as ``name``, or None."""
        record = self.records.get(name)
        if record is None or not processes.is_alive(record):
            return None
        children = processes.children_of(record.pid)
        return children[0] if children else None

    def logs_tail(self, lines: int = 15) -> str:
        """The last lines of every recorded process's log, for a message about what went wrong."""
        return log_tails(((name, Path(r.log), str(Path(r.log))) for name, r in self.records.items()), lines)


def log_tails(logs: Iterable[tuple[str, Path, str]], lines: int) -> str:
    """``--- NAME (WHAT) ---`` and the last ``lines`` lines of each existing log, one after another:
    what a message about a failed lab step shows of its processes and containers."""
    out = []
    for name, path, what in logs:
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name} ({what}) ---\n" + "\n".join(tail))
    return "\n".join(out)
