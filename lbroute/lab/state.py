"""The lab's memory on disk: every namespace and process it created, written before use.

A namespace is recorded *before* it is created and a process right after it starts, so
``lab down`` can undo a run that crashed half-way.

Every lab lives in ``<root>/<prefix>``, a directory ``up`` creates and marks as its own
(``MARKER``). The prefix is checked before any path is made from it, here and only here,
so no command can name a directory outside the root; and ``down`` removes a directory
only when it carries the mark, never one the lab did not make.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import structlog

from .errors import LabError
from .scenario import Scenario
from .topology import check_prefix

DEFAULT_STATE_ROOT = Path(os.environ.get("LBROUTE_STATE_ROOT", "/run/lbroute"))
# written by `up` into the state directory it creates: what lets `down` remove that directory
MARKER = ".lbroute-lab"

log = structlog.get_logger()


@dataclass
class ProcessRecord:
    name: str
    pid: int
    start_time: int  # /proc/<pid>/stat field 22: guards against a recycled PID
    netns: str | None
    argv: list[str]
    log: str


@dataclass
class ContainerRecord:
    """A container the lab runs (``--images``): written before ``podman run``, id and conmon
    filled in once it runs (lbroute/lab/containers.py)."""

    name: str  # the lab's name for it: gobgpd-rr, rr-manager-rr, exabgp-lb1
    container: str  # podman's name for it: <prefix>-<name>
    id: str  # "" until ``podman run`` answered
    conmon_pid: int
    conmon_start: int  # /proc/<pid>/stat field 22 of conmon: guards against a recycled PID
    netns: str
    image: str
    log: str


@dataclass
class LabState:
    prefix: str
    lbs: int = 0
    rrs: int = 1
    services: list[dict[str, object]] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    # what the lab was asked to do differently, fixed at `up`
    scenario: Scenario = field(default_factory=Scenario)

    @staticmethod
    def directory(prefix: str, root: Path = DEFAULT_STATE_ROOT) -> Path:
        """``<root>/<prefix>``, for a prefix that is a lab name (a ``TopologyError`` otherwise):
        never an absolute path, ``..``, ``''`` or anything with a slash."""
        return root / check_prefix(prefix)

    @classmethod
    def load(cls, prefix: str, root: Path = DEFAULT_STATE_ROOT) -> LabState | None:
        """The recorded state, or None when there is none (or it cannot be read: then ``down``
        treats the lab as crashed and finds its namespaces by name)."""
        path = cls.directory(prefix, root) / "state.json"
        try:
            raw = json.loads(path.read_text())
            procs = {k: ProcessRecord(**v) for k, v in raw.pop("processes", {}).items()}
            containers = {k: ContainerRecord(**v) for k, v in raw.pop("containers", {}).items()}
            scenario = Scenario.from_json(raw.pop("scenario", {}))
            return cls(processes=procs, containers=containers, scenario=scenario, **raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning("lab.state.unreadable", prefix=prefix, error=f"{path}: {err}")
            return None

    def save(self, root: Path = DEFAULT_STATE_ROOT) -> None:
        directory = self.directory(self.prefix, root)
        if not is_lab_directory(directory):
            raise LabError(f"{directory} is not a lab's state directory; `lbroute lab up` creates it")
        tmp = directory / "state.json.tmp"
        data = {**asdict(self), "scenario": self.scenario.to_json()}
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(directory / "state.json")


def is_lab_directory(directory: Path) -> bool:
    """A real directory (not a symlink) that ``claim_directory`` made: it carries the mark."""
    return directory.is_dir() and not directory.is_symlink() and (directory / MARKER).is_file()


def claim_directory(directory: Path) -> None:
    """Create the lab's state directory, or take over one an earlier lab of the same name left.

    Refuses anything else at that path: the lab writes only into a directory it made.
    """
    if is_lab_directory(directory):
        return
    if directory.is_symlink() or directory.exists():
        raise LabError(
            f"{directory} exists and was not made by the lab; move it away, or choose another "
            "--prefix or LBROUTE_STATE_ROOT"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir()
    (directory / MARKER).write_text("made by `lbroute lab up`; `lbroute lab down` removes this directory\n")


def remove_directory(directory: Path) -> bool:
    """Remove the lab's state directory if the lab made it; True if it was removed."""
    if not is_lab_directory(directory):
        return False
    shutil.rmtree(directory)  # removes symlinks inside, never follows them
    return True
