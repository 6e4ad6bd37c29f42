"""``lbroute bench``: the table of benchmarks, its errors and what it passes on (no benchmark is run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lbroute.cli import bench_cmd
from lbroute.cli import main as cli_main
from lbroute.cli.main import main


@pytest.fixture(autouse=True)
def _logs_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() would configure structlog onto this test's captured stderr, which pytest closes
    # after the test: every later test's log line would then fail on a closed file
    monkeypatch.setattr(cli_main.logs, "configure", lambda *args, **kwargs: None)


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # from a directory outside the checkout: the benchmarks are found from lbroute's own place
    return subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": "/usr/sbin:/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    ("argv", "says"), [([], "no benchmark given"), (["nope"], "unknown benchmark 'nope'")]
)
def test_no_or_an_unknown_name_is_one_line_listing_the_names_and_exit_2(
    tmp_path: Path, argv: list[str], says: str
) -> None:
    result = run_cli("bench", *argv, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert lines[0].endswith("choose one of: " + ", ".join(bench_cmd.BENCHMARKS))


def test_help_lists_every_benchmark_with_its_line(tmp_path: Path) -> None:
    result = run_cli("bench", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name, bench in bench_cmd.BENCHMARKS.items():
        assert any(line.split() == [name, *bench.about.split()] for line in result.stdout.splitlines()), name


def test_the_options_reach_the_benchmark_and_its_own_errors_come_back(tmp_path: Path) -> None:
    # traffic's own parser refuses the rate before any lab is built: the options were passed on
    result = run_cli("bench", "traffic", "--rate", "0", "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "lbroute bench traffic: --step must be 1 to 120 s and --rate 1 to 200 requests/s"
        " (see `lbroute bench traffic --help`)\n"
    )


def test_the_name_picks_its_module_and_the_rest_is_passed_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []

    def fake_load(module: str, checkout: Path) -> SimpleNamespace:
        return SimpleNamespace(main=lambda argv: calls.append((module, argv)) or 7)

    monkeypatch.setattr(bench_cmd, "load", fake_load)
    assert main(["bench", "scale", "--json", "--runs", "16x250"]) == 7
    assert main(["bench", "restart", "--help"]) == 7
    assert calls == [("rr_scale", ["--json", "--runs", "16x250"]), ("rr_restart", ["--help"])]


def test_without_the_benchmarks_package_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(bench_cmd.BENCHMARKS, "ghost", bench_cmd.Benchmark("no_such_benchmark", "x"))
    monkeypatch.setattr(bench_cmd, "CHECKOUT", tmp_path)  # a place with no benchmarks/ in it
    assert main(["bench", "ghost"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("lbroute bench: the benchmarks are not installed here")
    assert "run lbroute bench from a git checkout" in err


@pytest.mark.parametrize("name", list(bench_cmd.BENCHMARKS))
def test_every_benchmark_takes_json_and_argv(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = bench_cmd.load(bench_cmd.BENCHMARKS[name].module, bench_cmd.CHECKOUT)
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: lbroute bench {name} ")  # named as it is run
    assert "--json" in out
