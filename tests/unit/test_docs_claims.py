"""What README.md and docs/ say about the code, checked against the code: which commands take
``--json``, the gobgpd command line they show, the test tiers, and that no test sleeps."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from lbroute.cli.main import parser

ROOT = Path(__file__).parents[2]


def leaf_commands(
    p: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), p
        return
    for name, child in subs[0].choices.items():
        yield from leaf_commands(child, (*path, name))


def test_every_command_that_prints_results_takes_json() -> None:
    # README.md, "The lab": every command but `completion` (a bash script) and `lab demo` (a show);
    # `bench` passes its options on, and each benchmark takes --json (tests/process/test_cli_bench.py)
    commands = dict(leaf_commands(parser()))
    without = {name for name, p in commands.items() if "--json" not in p._option_string_actions}
    assert without == {"completion", "lab demo", "bench"}
    assert {"vips", "diff", "peers", "rib", "fib", "watch", "lab up", "lab probe"} <= set(commands)


def _doc_files() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        *sorted((ROOT / "configs").rglob("*")),
    ]


def test_every_gobgpd_command_line_in_the_docs_closes_the_metrics_listener() -> None:
    # gobgpd serves /metrics on 127.0.0.1:6060 unless --metrics-path is empty (decisions/gobgpd-listeners.md)
    flags = re.compile(r"--api-hosts\s+\S+\s+--pprof-disable(?P<rest>[^`\n]*)")
    shown = []
    for path in _doc_files():
        if not path.is_file():
            continue
        for match in flags.finditer(path.read_text()):
            shown.append(path.name)
            assert "--metrics-path=" in match.group("rest"), f"{path.relative_to(ROOT)}: {match.group(0)}"
    assert {"README.md", "deploy.md", "rr.yaml"} <= set(shown)


def test_the_readme_names_the_test_tiers_there_are() -> None:
    tiers = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert tiers == {"unit", "process", "integration"}
    readme = (ROOT / "README.md").read_text()
    tests_section = readme[readme.index("## Tests") :].split("\n## ")[0]
    assert set(re.findall(r"^- `tests/(\w+)`", tests_section, re.M)) == tiers


def test_no_test_sleeps() -> None:
    # README.md, "Tests": they poll with eventually() or step a fake clock
    sleeping = re.compile(r"\btime\.sleep\(|from time import[^\n]*\bsleep\b")
    found = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if sleeping.search(p.read_text())
    ]
    assert found == []
