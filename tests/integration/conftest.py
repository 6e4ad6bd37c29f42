"""Labs for integration tests: real daemons, a unique namespace prefix each, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lbroute.lab.lab import preflight
from lbroute.lab.scenario import ROUTER_KINDS
from tests.support.images import built_images
from tests.support.lab import LabFactory

RUNTIMES = ("processes", "images")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``also_from_images`` runs a second time with its lab's LB pods and RRs from
    this tree's images (that variant is marked ``images``)."""
    if metafunc.definition.get_closest_marker("also_from_images") and "make_lab" in metafunc.fixturenames:
        metafunc.parametrize("make_lab", RUNTIMES, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The images variant runs against the gobgp router only: the images hold the LB pods and
    RRs, the same whichever router the lab runs (each router kind is tested as processes)."""
    dropped = []
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params  # type: ignore[attr-defined]
        if params and params.get("make_lab") == "images":
            if params.get("router_kind", "gobgp") != "gobgp":
                dropped.append(item)
            item.add_marker(pytest.mark.images)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(autouse=True)
def _needs_the_real_parts() -> None:
    problems = preflight()
    if problems:
        pytest.fail("integration tests need the real daemons: " + "; ".join(problems))


@pytest.fixture
def make_lab(request: pytest.FixtureRequest) -> Iterator[LabFactory]:
    """``make_lab(lbs=3, services=..., rrs=1, **Scenario fields)`` brings a lab up; every lab is
    taken down after the test (with nothing left running, no namespace and no container)."""
    runtime = getattr(request, "param", "processes")
    factory = LabFactory(images=built_images() if runtime == "images" else None)
    yield factory
    leftovers = factory.take_down()
    assert not leftovers, f"left behind after the test: {leftovers}"


@pytest.fixture(params=ROUTER_KINDS)
def router_kind(request: pytest.FixtureRequest) -> str:
    """Each upstream router the lab runs (``make_lab(router=router_kind)``): a test that takes
    this runs once against gobgpd + zebra and once against FRR's bgpd + zebra."""
    return str(request.param)
