"""Labs for integration tests: real daemons, a unique namespace prefix each, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lbroute.lab.lab import preflight
from lbroute.lab.scenario import ROUTER_KINDS
from tests.support.lab import LabFactory


@pytest.fixture(autouse=True)
def _needs_the_real_parts() -> None:
    problems = preflight()
    if problems:
        pytest.fail("integration tests need the real daemons: " + "; ".join(problems))


@pytest.fixture
def make_lab() -> Iterator[LabFactory]:
    """``make_lab(lbs=3, services=..., rrs=1, **Scenario fields)`` brings a lab up; every lab is
    taken down after the test."""
    factory = LabFactory()
    yield factory
    leftovers = factory.take_down()
    assert not leftovers, f"left behind after the test: {leftovers}"


@pytest.fixture(params=ROUTER_KINDS)
def router_kind(request: pytest.FixtureRequest) -> str:
    """Each upstream router the lab runs (``make_lab(router=router_kind)``): a test that takes
    this runs once against gobgpd + zebra and once against FRR's bgpd + zebra."""
    return str(request.param)
