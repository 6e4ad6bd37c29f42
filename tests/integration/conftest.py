"""Labs for integration tests: real daemons, a unique namespace prefix each, always torn down."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lbroute.kernel.ip import list_netns
from lbroute.lab import processes
from lbroute.lab.lab import Lab, preflight
from lbroute.lab.topology import Service, Topology

STATE_ROOT = Path(os.environ.get("LBROUTE_TEST_STATE_ROOT", "/run/lbroute-test"))


@pytest.fixture(autouse=True)
def _needs_the_real_parts() -> None:
    problems = preflight()
    if problems:
        pytest.fail("integration tests need the real daemons: " + "; ".join(problems))


def unique_prefix() -> str:
    return "t" + secrets.token_hex(3)


LabFactory = Callable[..., Lab]


@pytest.fixture
def make_lab() -> Iterator[LabFactory]:
    """``make_lab(lbs=3, services=..., rrs=1, **Lab.up options)`` brings a lab up; every lab is
    taken down after the test."""
    labs: list[Lab] = []

    def make(lbs: int = 3, services: tuple[Service, ...] | None = None, rrs: int = 1, **up: Any) -> Lab:
        prefix = unique_prefix()
        lab = Lab(prefix, root=STATE_ROOT)
        labs.append(lab)
        topo = Topology(prefix, lbs, services, rrs) if services else Topology(prefix, lbs, rrs=rrs)
        lab.up(topo, timeout=30, **up)
        return lab

    yield make
    leftovers = []
    for lab in labs:
        records = list(lab.state.processes.values())
        lab.down()
        leftovers += [f"{r.name} pid {r.pid}" for r in records if processes.is_alive(r)]
        leftovers += [ns for ns in list_netns() if ns.startswith(lab.prefix + "-")]
    assert not leftovers, f"left behind after the test: {leftovers}"
