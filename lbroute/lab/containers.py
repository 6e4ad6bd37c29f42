"""The lab's containers: the LB pods' sidecars and the RRs run from lbroute's images, inside
the lab's own namespaces (``podman run --network ns:/run/netns/NAME``), so the end-to-end
tests exercise the bytes a user deploys.

A container is recorded in the state file under its name before ``podman run``, and with
its id and conmon's PID (and that PID's start time) right after, so ``lab down`` removes it
by id even after a crash. Every container carries a label naming the lab's state directory:
``sweep`` finds by it what a lost state file no longer lists. Nothing here acts on a
container by a name pattern, only by a recorded id or by that label.

What each container runs, as whom and with which capabilities is a ``ContainerSpec``
(``speaker``, ``rr_gobgpd``, ``rr_manager``): pure, so its least privilege is checked
without podman.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from . import daemons, processes
from .podman import PodmanError, podman
from .state import ContainerRecord, ProcessRecord
from .supervision import log_tails

log = structlog.get_logger()

# the images' own user (deploy/*.Dockerfile): gobgpd and lbroute-rr on an RR, the sidecar
IMAGE_UID = 10001
LABEL_DIR = "lbroute.lab.dir"


@dataclass(frozen=True)
class ContainerSpec:
    """What one container runs. Paths in ``mounts`` are bind-mounted at the same path, so the
    configs the lab wrote name the same files inside the container as outside."""

    name: str  # the lab's name for it, as a process's: gobgpd-rr, rr-manager-rr, exabgp-lb1
    image: str
    netns: str
    command: tuple[str, ...] = ()  # () runs the image's own command
    user: str | None = None  # None: the image's user
    cap_add: tuple[str, ...] = ()  # every other capability is dropped
    mounts: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    tmpfs: tuple[str, ...] = ()


def speaker(image: str, netns: str, pod_dir: Path, lb: str) -> ContainerSpec:
    """exabgp + lbroute-announcer: the image's command renders exabgp.conf from the pod's
    announcer.yaml into its own /run/lbroute, then starts exabgp. No capability (exabgp
    connects out, and sets MD5 keys on its own sockets), a read-only root."""
    return ContainerSpec(
        name=f"exabgp-{lb}",
        image=image,
        netns=netns,
        mounts=(pod_dir,),
        env=(("LBROUTE_ANNOUNCER_CONFIG", str(pod_dir / "announcer.yaml")),),
        tmpfs=("/run/lbroute:rw,U,mode=0700",),
    )


def rr_gobgpd(image: str, netns: str, socket: Path) -> ContainerSpec:
    """gobgpd as the image's user: port 179 by NET_BIND_SERVICE alone."""
    argv = daemons.gobgpd_argv(socket)
    return ContainerSpec(
        name=f"gobgpd-{socket.parent.name}",
        image=image,
        netns=netns,
        command=("gobgpd", *argv[1:]),
        user=f"{IMAGE_UID}:{IMAGE_UID}",
        cap_add=("NET_BIND_SERVICE",),
        mounts=(socket.parent,),
    )


def rr_manager(image: str, netns: str, socket: Path, config: Path) -> ContainerSpec:
    """lbroute-rr as its gobgpd's user (gobgpd makes the API socket 0755): no capability."""
    return ContainerSpec(
        name=f"rr-manager-{socket.parent.name}",
        image=image,
        netns=netns,
        command=("lbroute-rr", "run", "--config", str(config)),
        user=f"{IMAGE_UID}:{IMAGE_UID}",
        mounts=(socket.parent, config.parent),
    )


def give_to_image_user(directory: Path) -> None:
    """A directory the image's user writes in (gobgpd's socket, the announcer's drain socket)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chown(directory, IMAGE_UID, IMAGE_UID)


def run_argv(
    spec: ContainerSpec, container: str, labels: dict[str, str], files: Path, logs: Path
) -> list[str]:
    """``podman run`` for ``spec``: detached, recorded in ``files``, logging to ``logs``."""
    argv = [
        "run", "--detach", "--name", container, "--pull=never",
        "--cidfile", str(files / f"{spec.name}.cid"),
        "--conmon-pidfile", str(files / f"{spec.name}.conmon"),
        "--network", f"ns:/run/netns/{spec.netns}",
        "--log-driver", "k8s-file", "--log-opt", f"path={logs / f'{spec.name}.log'}",
        "--cap-drop", "all", "--read-only",
        # a hostname that /etc/hosts answers: exabgp looks its FQDN up at start, and no DNS
        # server is reachable from a lab namespace (a 5 s timeout otherwise)
        "--hostname", spec.name, "--add-host", f"{spec.name}:127.0.0.1",
    ]  # fmt: skip
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    for cap in spec.cap_add:
        argv += ["--cap-add", cap]
    if spec.user is not None:
        argv += ["--user", spec.user]
    for path in spec.mounts:
        argv += ["--volume", f"{path}:{path}"]
    for key, value in spec.env:
        argv += ["--env", f"{key}={value}"]
    for mount in spec.tmpfs:
        argv += ["--tmpfs", mount]
    return [*argv, spec.image, *spec.command]


class Containers:
    """The lab's containers, by the records of its current state."""

    def __init__(
        self, records: dict[str, ContainerRecord], lab_dir: Path, prefix: str, save: Callable[[], None]
    ) -> None:
        self.records = records
        self.dir = lab_dir
        self.prefix = prefix
        self._save = save

    @property
    def files(self) -> Path:
        return self.dir / "containers"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def run(self, spec: ContainerSpec) -> ContainerRecord:
        """Start ``spec``'s container, recorded before it exists and again once it runs."""
        container = f"{self.prefix}-{spec.name}"
        record = ContainerRecord(
            name=spec.name, container=container, id="", conmon_pid=0, conmon_start=0, netns=spec.netns,
            image=spec.image, log=str(self.logs / f"{spec.name}.log"),
        )  # fmt: skip
        self.records[spec.name] = record
        self._save()
        self.files.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        for suffix in (".cid", ".conmon"):
            (self.files / f"{spec.name}{suffix}").unlink(missing_ok=True)  # podman refuses to overwrite
        labels = {"lbroute.lab": self.prefix, LABEL_DIR: str(self.dir), "lbroute.lab.name": spec.name}
        podman(*run_argv(spec, container, labels, self.files, self.logs))
        record.id = (self.files / f"{spec.name}.cid").read_text().strip()
        record.conmon_pid = int((self.files / f"{spec.name}.conmon").read_text().strip())
        record.conmon_start = processes.start_time_of(record.conmon_pid) or 0
        self._save()
        log.info("lab.container.started", target=spec.name, op=record.id[:12])
        return record

    def stop(self, name: str, *, grace: float = 5.0, forget: bool = False) -> None:
        """Stop and remove the container recorded as ``name``: SIGTERM (its stop signal), SIGKILL
        after ``grace`` seconds (0: at once, as ``kill -9``). ``forget`` drops the record too."""
        record = self.records.pop(name, None) if forget else self.records.get(name)
        if record is not None:
            self._remove(record, grace)
        if forget:
            self._save()

    def remove_all(self) -> list[str]:
        """Remove every recorded container (one podman command for all of them), then any other
        container labelled with this lab's directory (one a crash left unrecorded)."""
        records = list(self.records.values())
        targets = [t for t in (r.id or self._id_by_recorded_name(r) for r in records) if t]
        if targets:
            try:
                podman("rm", "--force", "--ignore", "--time", "5", *targets, timeout=120)
            except PodmanError as err:
                log.warning("lab.container.remove_failed", count=len(targets), error=str(err))
        for record in records:
            if record.conmon_pid:
                _wait_gone(record.conmon_pid, record.conmon_start)
        return [r.name for r in records] + self.sweep()

    def sweep(self) -> list[str]:
        """Remove the containers labelled with this lab's directory; their podman names."""
        listed = podman("ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={LABEL_DIR}={self.dir}")
        removed = []
        for cid in listed.stdout.split():
            conmon = podman("inspect", "--format", "{{.State.ConmonPid}}", cid, check=False).stdout.strip()
            podman("rm", "--force", "--ignore", "--time", "5", cid)
            if conmon.isdigit() and int(conmon) > 0:
                _wait_gone(int(conmon), processes.start_time_of(int(conmon)) or 0)
            removed.append(cid[:12])
        if removed:
            log.warning("lab.container.swept", prefix=self.prefix, count=len(removed))
        return removed

    def is_running(self, name: str) -> bool:
        record = self.records.get(name)
        if record is None or not record.id:
            return False
        state = podman("inspect", "--format", "{{.State.Running}}", record.id, check=False)
        return state.returncode == 0 and state.stdout.strip() == "true"

    def logs_tail(self, lines: int = 15) -> str:
        return log_tails(
            ((name, Path(r.log), f"container {r.container}, {r.log}") for name, r in self.records.items()),
            lines,
        )

    def _remove(self, record: ContainerRecord, grace: float) -> None:
        target = record.id or self._id_by_recorded_name(record)  # "" if it never started
        if target:
            try:
                podman("rm", "--force", "--ignore", "--time", f"{grace:g}", target, timeout=grace + 60)
            except PodmanError as err:
                log.warning("lab.container.remove_failed", target=record.name, error=str(err))
        if record.conmon_pid:
            _wait_gone(record.conmon_pid, record.conmon_start)
        log.info("lab.container.removed", target=record.name)

    def _id_by_recorded_name(self, record: ContainerRecord) -> str:
        """A container whose ``podman run`` never returned: found by its exact recorded name, and
        only if it carries this lab's label."""
        listed = podman(
            "ps", "--all", "--quiet", "--no-trunc",
            "--filter", f"name=^{record.container}$", "--filter", f"label={LABEL_DIR}={self.dir}",
        )  # fmt: skip
        return listed.stdout.strip().split("\n")[0]


def _wait_gone(pid: int, start_time: int, timeout: float = 10.0) -> None:
    """conmon outlives ``podman rm`` by a second or two (it runs the cleanup): wait for it, by
    its PID and start time, never longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not conmon_alive(pid, start_time):
            return
        time.sleep(0.05)
    log.warning("lab.container.conmon_lingers", op=str(pid), seconds=timeout)


def conmon_alive(pid: int, start_time: int) -> bool:
    """Whether that conmon still runs: same PID, same start time, not a zombie (this machine's
    PID 1, which inherits conmon, may reap it late)."""
    return processes.is_alive(ProcessRecord("conmon", pid, start_time, None, [], ""))
