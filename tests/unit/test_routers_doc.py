"""docs/routers.md shows exactly the configs the lab renders and runs.

Every fenced block on the page follows a marker naming what it is: ``snippet: NAME`` (the
whole file the lab writes for NAME), ``snippet-part: NAME`` (whole lines of it, in order),
or ``untested: why`` (and says so on the page). A block without a marker fails, so no
config can appear there unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lbroute.frr.frr_conf import render
from lbroute.lab import configs, daemons
from lbroute.lab.frr_router import frr_router
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Topology

PAGE = Path(__file__).parents[2] / "docs" / "routers.md"
# the lab of `lbroute lab up [--rrs 2]`: prefix lbr, 3 LBs, in the default state directory
LAB_DIR = Path("/run/lbroute/lbr")
ONE_RR = Topology("lbr", 3)
TWO_RRS = Topology("lbr", 3, rrs=2)


def _scenario(topo: Topology, router: str) -> Scenario:
    return Scenario(router=router).for_topology(topo)


SNIPPETS: dict[str, Callable[[], str]] = {
    "frr.conf": lambda: render(frr_router(ONE_RR, _scenario(ONE_RR, "frr"))),
    "frr.conf --rrs 2": lambda: render(frr_router(TWO_RRS, _scenario(TWO_RRS, "frr"))),
    "router.yaml": lambda: daemons.yaml_text(
        configs.router_config_of(LAB_DIR, ONE_RR, _scenario(ONE_RR, "gobgp"))
    ),
    "rr.yaml": lambda: daemons.yaml_text(
        configs.rr_config_of(LAB_DIR, ONE_RR, _scenario(ONE_RR, "gobgp"), 1)
    ),
}
BLOCK = re.compile(r"(?:<!-- (snippet|snippet-part|untested): ([^>]+?) -->\n)?```[a-z]*\n(.*?)```", re.S)


def blocks() -> list[tuple[str | None, str, str]]:
    return [(kind, name, body) for kind, name, body in BLOCK.findall(PAGE.read_text())]


def test_every_block_on_the_page_is_marked() -> None:
    found = blocks()
    assert found, "no config blocks found on docs/routers.md"
    # the one unmarked block allowed is the bgpd command line, checked below
    unmarked = [body for kind, _, body in found if not kind]
    assert len(unmarked) == 1 and unmarked[0].startswith("bgpd "), unmarked
    assert {name for kind, name, _ in found if kind in ("snippet", "snippet-part")} == set(SNIPPETS)


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_each_snippet_is_what_the_lab_renders(name: str) -> None:
    rendered = SNIPPETS[name]()
    for kind, marked, body in blocks():
        if marked != name:
            continue
        if kind == "snippet":
            assert body == rendered, f"docs/routers.md's {name} is not what the lab renders:\n{rendered}"
        else:
            assert body.endswith("\n") and ("\n" + body) in ("\n" + rendered), f"not whole lines of {name}"


def test_the_bgpd_command_line_is_the_labs() -> None:
    from lbroute.lab.frr_router import bgpd_argv

    [(_, _, body)] = [b for b in blocks() if not b[0]]
    argv = [a.replace(str(Path("/d")), "DIR") for a in bgpd_argv(Path("/d"))]
    assert body.strip() == " ".join(["bgpd", *argv[1:]])
