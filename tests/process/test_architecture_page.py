"""docs/architecture.md cannot rot: its table names every package and module of lbroute/, rr/
and announcer/ (and nothing that is gone), and each room's "may import" list is what the
import-linter contracts in pyproject.toml let it import."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "docs" / "architecture.md"
TREES = ("lbroute", "rr", "announcer")


def table() -> dict[str, tuple[str, str]]:
    """room (as written, e.g. ``lbroute/core/``) -> (what lives there, may import)."""
    rows = {}
    for line in PAGE.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 3, f"a row of docs/architecture.md that is not 3 cells: {line[:80]}"
        room = re.fullmatch(r"`([^`]+)`", cells[0])
        assert room, f"a room that is not one `path`: {cells[0]}"
        rows[room.group(1)] = (cells[1], cells[2])
    return rows


def rooms_on_disk() -> dict[str, Path]:
    """Every package of the three trees (``lbroute/core/``) and top-level module (``lbroute/logs.py``)."""
    out = {}
    for tree in TREES:
        out[f"{tree}/"] = ROOT / tree
    for child in (ROOT / "lbroute").iterdir():
        if (child / "__init__.py").is_file():
            out[f"lbroute/{child.name}/"] = child
        elif child.suffix == ".py" and child.stem != "__init__":
            out[f"lbroute/{child.name}"] = child
    del out["lbroute/"]  # the namespace of the rooms, not a room
    return out


def test_every_package_and_module_has_its_room_and_no_room_is_gone() -> None:
    rows = table()
    on_disk = rooms_on_disk()
    assert sorted(set(on_disk) - set(rows)) == [], "rooms missing from docs/architecture.md"
    named_in_trees = {r for r in rows if r.startswith(tuple(f"{t}/" for t in TREES))}
    assert sorted(named_in_trees - set(on_disk)) == [], "rooms in docs/architecture.md that do not exist"


@pytest.mark.parametrize("room", sorted(r for r in rooms_on_disk() if r.endswith("/")))
def test_every_module_is_named_in_its_rooms_row(room: str) -> None:
    what, _ = table()[room]
    directory = ROOT / room
    modules = {p.name for p in directory.glob("*.py") if p.stem != "__init__"}
    packages = {f"{p.name}/" for p in directory.iterdir() if (p / "__init__.py").is_file()}
    named = set(re.findall(r"`(\w+\.py)`", what)) | set(re.findall(r"`(\w+/)`", what))
    assert sorted((modules | packages) - named) == [], f"{room}: modules its row does not name"
    assert sorted(n for n in named if n.endswith(".py") and n not in modules) == [], (
        f"{room}: its row names modules that do not exist"
    )


def allowed_rooms() -> dict[str, set[str]]:
    """Each room of the layers contract -> the rooms it may import, with the forbidden contracts
    whose source is that room (or the whole of it) taken off."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [spec] = [c["layers"] for c in contracts if c["type"] == "layers"]
    layers = [[m.strip() for m in layer.split("|")] for layer in spec]
    allowed = {}
    for i, layer in enumerate(layers):
        for module in layer:
            allowed[module] = {x for below in layers[i + 1 :] for x in below}
    for c in contracts:
        if c["type"] != "forbidden":
            continue
        for source in c["source_modules"]:
            if source in allowed:
                allowed[source] -= set(c["forbidden_modules"])
    return allowed


def _room_of(module: str) -> str:
    """``lbroute.core`` -> the page's ``lbroute/core/``; ``lbroute.logs`` -> ``lbroute/logs.py``."""
    path = module.replace(".", "/")
    return f"{path}.py" if (ROOT / f"{path}.py").is_file() else f"{path}/"


def _short(module: str) -> str:
    return module.removeprefix("lbroute.")


@pytest.mark.parametrize("module", sorted(allowed_rooms()))
def test_may_import_lists_what_the_contracts_allow(module: str) -> None:
    _, may_import = table()[_room_of(module)]
    first = may_import.split(";")[0].strip()
    listed = set() if first == "no other room" else {name.strip() for name in first.split(",")}
    assert listed == {_short(m) for m in allowed_rooms()[module]}, (
        f"{_room_of(module)}: 'may import' begins {first!r}"
    )
