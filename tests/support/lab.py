"""Labs for integration tests: real daemons, a unique namespace prefix each, always taken down."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from lbroute.kernel.ip import list_netns
from lbroute.lab import processes
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import LabImages, Scenario
from lbroute.lab.topology import Service, Topology
from tests.support.images import containers_labelled, live_conmons

STATE_ROOT = Path(os.environ.get("LBROUTE_TEST_STATE_ROOT", "/run/lbroute-test"))


def unique_prefix() -> str:
    return "t" + secrets.token_hex(3)


class LabFactory:
    """``make_lab(lbs=3, services=..., rrs=1, **Scenario fields)`` brings a lab up and waits for
    the router's FIB; ``take_down()`` removes every lab it made and says what was left behind.
    With ``images``, every lab runs its LB pods' sidecars and its RRs from those images."""

    def __init__(self, root: Path = STATE_ROOT, images: LabImages | None = None) -> None:
        self.root = root
        self.images = images
        self.labs: list[Lab] = []

    def __call__(
        self,
        lbs: int = 3,
        services: tuple[Service, ...] | None = None,
        rrs: int = 1,
        *,
        timeout: float = 30,
        **scenario: Any,
    ) -> Lab:
        prefix = unique_prefix()
        lab = Lab(prefix, root=self.root)
        self.labs.append(lab)
        topo = Topology(prefix, lbs, services, rrs) if services else Topology(prefix, lbs, rrs=rrs)
        lab.up(topo, Scenario(**{"images": self.images, **scenario}), timeout=timeout)
        return lab

    def take_down(self) -> list[str]:
        leftovers = []
        for lab in self.labs:
            records = list(lab.state.processes.values())
            conmons = [(c.conmon_pid, c.conmon_start) for c in lab.state.containers.values() if c.conmon_pid]
            lab.down()
            leftovers += [f"{r.name} pid {r.pid}" for r in records if processes.is_alive(r)]
            leftovers += [ns for ns in list_netns() if ns.startswith(lab.prefix + "-")]
            if self.images or conmons:
                leftovers += [f"container {name}" for name in containers_labelled(lab.dir)]
                leftovers += [f"conmon pid {pid}" for pid in live_conmons(conmons)]
        return leftovers
