"""Tiers come from the directory: tests/unit -> ``unit``, tests/process -> ``process``,
tests/integration -> ``integration``."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).relative_to(ROOT).parts[0]
        if tier in ("unit", "process", "integration"):
            item.add_marker(getattr(pytest.mark, tier))
