"""The layering contracts in pyproject.toml hold (lint-imports, run as a process), and the layers
contract names every room of the tree, so a new package cannot slip past it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_layers_contract_names_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["type"] == "layers"]
    named = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    rooms = {f"lbroute.{p.stem}" for p in (ROOT / "lbroute").iterdir() if _is_module(p)}
    assert rooms - {"lbroute.__init__"} <= named, sorted(rooms - named)
    assert set(config["root_packages"]) - {"lbroute"} <= named


def _is_module(path: Path) -> bool:
    return (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
