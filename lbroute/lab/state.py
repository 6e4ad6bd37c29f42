"""The lab's memory on disk: every namespace and process it created, written before use.

A namespace is recorded *before* it is created and a process right after it starts, so
``lab down`` can undo a run that crashed half-way.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_STATE_ROOT = Path(os.environ.get("LBROUTE_STATE_ROOT", "/run/lbroute"))


@dataclass
class ProcessRecord:
    name: str
    pid: int
    start_time: int  # /proc/<pid>/stat field 22: guards against a recycled PID
    netns: str | None
    argv: list[str]
    log: str


@dataclass
class LabState:
    prefix: str
    lbs: int = 0
    rrs: int = 1
    services: list[dict[str, object]] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    # explicit-peer mode: the (fake) Kubernetes API the RR managers watch for LB pods
    kube_api: str = ""
    # LBs whose exabgp holds a wrong MD5 key (explicit-peer mode): they must get no session
    wrong_md5: list[int] = field(default_factory=list)
    # an LB that also announces routes the guard rails must reject (0: none)
    rogue_lb: int = 0
    # replaces keys of the RR's speaker group (a benchmark's longer timers, a higher max_prefixes)
    group_overrides: dict[str, object] = field(default_factory=dict)
    # graceful restart between router and RRs: the RRs' restart time in seconds, 0 for off
    graceful_restart: int = 0

    @staticmethod
    def directory(prefix: str, root: Path = DEFAULT_STATE_ROOT) -> Path:
        return root / prefix

    @classmethod
    def load(cls, prefix: str, root: Path = DEFAULT_STATE_ROOT) -> LabState | None:
        path = cls.directory(prefix, root) / "state.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        procs = {k: ProcessRecord(**v) for k, v in raw.pop("processes", {}).items()}
        return cls(processes=procs, **raw)

    def save(self, root: Path = DEFAULT_STATE_ROOT) -> None:
        directory = self.directory(self.prefix, root)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(directory / "state.json")
