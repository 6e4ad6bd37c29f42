"""``lbroute`` as a real process without daemons: every bad input is one line on stderr and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lbroute.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", **(env or {})},
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["vips", "--vip", "10.1.1.x"], "'10.1.1.x' is not a prefix"),
        (["rib", "--at", "somewhere"], "invalid choice: 'somewhere'"),
        (["watch", "--rr", "/x", "--count", "0"], "'0' is not a positive whole number"),
        (["diff", "--rr", "/x", "--settle", "-1"], "'-1' is not a positive number of seconds"),
        (["vips"], "no RR target: pass --rr"),
        (["fib", "--router-netns", "lbroute-no-such-ns"], "namespace 'lbroute-no-such-ns'"),
        (["vips", "--lab", "zz9"], "lab 'zz9' is not up"),
        (["vips", "--rr", "127.0.0.1:99999"], "port 99999 is not between 1 and 65535"),
        (["peers", "--rr", "/x", "--rpc-timeout", "inf"], "'inf' is not a positive number of seconds"),
        (["peers", "--rr", "/x", "--rpc-timeout", "3601"], "at most 600"),
        (
            ["vips", "--lab", "zz9", "--router-netns", "x"],
            "--lab zz9 sets every target itself; drop --router-netns",
        ),
        (["lab", "probe", "--count", "0"], "give a whole number from 1 to 10000"),
        (["lab", "probe", "--count", "-1"], "give a whole number from 1 to 10000"),
        (["lab", "probe", "--count", "20000"], "give a whole number from 1 to 10000"),
        (["lab", "probe", "--vip", "192.0.2.1"], "requests go only to the lab's VIP pool"),
        (["lab", "status", "--prefix", "nosuch"], "no lab 'nosuch' in /nonexistent/lbroute"),
        (["lab", "scale", "2", "--prefix", "nosuch"], "lab 'nosuch' is not up"),
        (["lab", "up", "--lbs", "65"], "give a whole number from 0 to 64"),
        (["lab", "up", "--timeout", "inf"], "'inf' is not a positive number of seconds"),
        (["lab", "up", "--service", "web"], "expected NAME=VIP"),
        (["lab"], "required: COMMAND"),
        (["lab", "hold", "--connections", "0"], "give a whole number from 1 to 2000"),
        (["lab", "hold", "--seconds", "601"], "at most 600"),
        (["lab", "hold", "--vip", "192.0.2.1"], "requests go only to the lab's VIP pools"),
        (["lab", "hold", "--vip", "2001:db8:1::1"], "client namespace has IPv4 only"),
        (["lab", "hold", "--close-after", "0"], "'0' is not a positive number of seconds"),
        (["lab", "hold", "--during", "reboot"], "invalid choice: 'reboot'"),
        (["lab", "hold", "--prefix", "nosuch"], "lab 'nosuch' is not up"),
        (["lab", "up", "--fib", "bird"], "invalid choice: 'bird'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], says: str) -> None:
    result = run_cli(*argv, env={"LBROUTE_STATE_ROOT": "/nonexistent/lbroute"})
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unreachable_gobgpd_names_the_target_and_what_to_check(tmp_path: Path) -> None:
    socket = tmp_path / "gobgp.sock"  # nothing listens here
    for argv in (
        ["vips", "--rr", str(socket)],
        ["peers", "--rr", str(socket)],
        ["watch", "--rr", str(socket)],
        # the documented form (docs/decisions/cli-watch.md): the option after the command
        ["watch", "--log-level", "info", "--rr", str(socket)],
    ):
        result = run_cli(*argv, "--rpc-timeout", "2")
        assert result.returncode == 2, result.stderr
        assert f"RR gobgpd at {socket}" in result.stderr
        assert "--api-hosts" in result.stderr
        assert "Traceback" not in result.stderr


def test_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout == f"lbroute {version('lbroute')}\n"
