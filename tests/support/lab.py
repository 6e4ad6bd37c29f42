"""Labs for integration tests: real daemons, a unique namespace prefix each, always taken down."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from lbroute.kernel.ip import list_netns
from lbroute.lab import processes
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Service, Topology

STATE_ROOT = Path(os.environ.get("LBROUTE_TEST_STATE_ROOT", "/run/lbroute-test"))


def unique_prefix() -> str:
    return "t" + secrets.token_hex(3)


class LabFactory:
    """``make_lab(lbs=3, services=..., rrs=1, **Scenario fields)`` brings a lab up and waits for
    the router's FIB; ``take_down()`` removes every lab it made and says what was left behind."""

    def __init__(self, root: Path = STATE_ROOT) -> None:
        self.root = root
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
        lab.up(topo, Scenario(**scenario), timeout=timeout)
        return lab

    def take_down(self) -> list[str]:
        leftovers = []
        for lab in self.labs:
            records = list(lab.state.processes.values())
            lab.down()
            leftovers += [f"{r.name} pid {r.pid}" for r in records if processes.is_alive(r)]
            leftovers += [ns for ns in list_netns() if ns.startswith(lab.prefix + "-")]
        return leftovers
