"""The CLI's edges without daemons: targets from flags and env, bad input, unreachable targets, output."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lbroute.cli.errors import TargetError
from lbroute.cli.main import parser
from lbroute.cli.output import duration, print_json, timestamp
from lbroute.cli.targets import resolve
from lbroute.core.session import Session, sessions_order


def args_of(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def test_flags_win_over_the_environment() -> None:
    env = {
        "LBROUTE_RR": "/env/rr.sock",
        "LBROUTE_ROUTER": "/env/router.sock",
        "LBROUTE_ROUTER_NETNS": "envns",
    }
    t = resolve(args_of("vips", "--rr", "/flag/rr.sock", "--router-netns", "flagns"), env)
    assert [(d.name, d.address) for d in t.rrs] == [("rr", "/flag/rr.sock")]
    assert t.router is not None and t.router.address == "/env/router.sock"
    assert t.router_netns == "flagns"


def test_several_rrs_from_flags_or_env_are_numbered() -> None:
    t = resolve(args_of("peers", "--rr", "a:50051", "--rr", "b:50051"), {})
    assert [(d.name, d.address) for d in t.rrs] == [("rr1", "a:50051"), ("rr2", "b:50051")]
    t = resolve(args_of("peers"), {"LBROUTE_RR": "a:50051, b:50051"})
    assert [d.name for d in t.rrs] == ["rr1", "rr2"]
    assert [d.name for d in t.daemons] == ["rr1", "rr2"]


def test_vip_pools_from_flags_and_env_normalised() -> None:
    t = resolve(args_of("vips", "--vip-pool", "10.1.0.5/16"), {"LBROUTE_VIP_POOL": "10.2.0.0/16,10.1.0.0/16"})
    assert t.vip_pools == ("10.1.0.0/16", "10.2.0.0/16")
    with pytest.raises(TargetError, match="LBROUTE_VIP_POOL"):
        resolve(args_of("vips"), {"LBROUTE_VIP_POOL": "ten"})


def test_missing_targets_say_what_to_pass() -> None:
    t = resolve(args_of("vips"), {})
    with pytest.raises(TargetError, match="--rr"):
        t.need_rrs()
    with pytest.raises(TargetError, match="--router"):
        t.need_daemons()


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
    ):
        result = run_cli(*argv, "--rpc-timeout", "2")
        assert result.returncode == 2, result.stderr
        assert f"RR gobgpd at {socket}" in result.stderr
        assert "--api-hosts" in result.stderr
        assert "Traceback" not in result.stderr


def test_timestamps_and_durations() -> None:
    assert timestamp(1795671833.25) == "2026-11-26T05:43:53.250Z"
    assert [duration(s) for s in (None, 5, 192, 18180, 187200)] == ["-", "5s", "3m12s", "5h03m", "2d04h"]


def test_session_counters_and_order() -> None:
    def session(at: str, neighbor: str, received: int = 0, accepted: int = 0) -> Session:
        return Session(at, neighbor, 65021, "ESTABLISHED", 100.0, received, accepted, 0, 3)

    s = session("rr", "172.16.1.2", received=5, accepted=3)
    assert s.rejected == 2 and s.established
    assert s.age(160.5) == 60.5
    found = [session("router", "10.0.0.2"), session("rr", "172.16.10.2"), session("rr", "172.16.9.2")]
    assert [(x.at, x.neighbor) for x in sessions_order(found, ["rr", "router"])] == [
        ("rr", "172.16.9.2"),
        ("rr", "172.16.10.2"),
        ("router", "10.0.0.2"),
    ]


def test_json_lists_are_one_object_per_line_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    for data in (
        [],
        [{"prefix": "10.1.1.1/32", "fib_next_hops": None}, {"prefix": "10.1.2.1/32"}],
        {"equal": True},
    ):
        print_json(data)
        out = capsys.readouterr().out
        assert json.loads(out) == data
        if isinstance(data, list) and data:
            assert len(out.strip().splitlines()) == len(data) + 2
