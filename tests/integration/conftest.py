"""Labs for integration tests: real daemons, a unique namespace prefix each, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lbroute.lab.lab import preflight
from tests.support.images import built_images
from tests.support.lab import LabFactory

RUNTIMES = ("processes", "images")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``also_from_images`` runs twice: its lab's LB pods and RRs as processes,
    and from this tree's images (that variant is marked ``images``)."""
    if metafunc.definition.get_closest_marker("also_from_images") and "make_lab" in metafunc.fixturenames:
        metafunc.parametrize("make_lab", RUNTIMES, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("make_lab") == "images":
            item.add_marker(pytest.mark.images)


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
