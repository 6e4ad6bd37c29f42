"""What ``lbroute`` accepts on its command line, and how it says no: the parser alone, no process."""

from __future__ import annotations

import argparse
import re

import pytest

from lbroute.cli import argtypes
from lbroute.cli.main import parser


def parse(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "text", ["unix:///run/gobgpd/gobgp.sock", "/run/gobgpd/gobgp.sock", "10.0.0.2:50051", "rr1.example:1",
             "[::1]:50051", "localhost:65535"],
)  # fmt: skip
def test_good_targets(text: str) -> None:
    assert argtypes.target(text) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
        ("127.0.0.1:0", "port 0 is not between 1 and 65535"),
        ("unix:relative.sock", "unix:///absolute/path"),
        ("unix://relative.sock", "must be absolute"),
        ("10.0.0.2", "is not a gobgpd address"),
        ("::1:50051", "is not a gobgpd address"),
        ("[::zz]:50051", "is not an IPv6 address"),
        ("", "is not a gobgpd address"),
    ],
)
def test_bad_targets(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        argtypes.target(text)


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "0", "-1", "601", "1e9", "ten"])
def test_rpc_timeout_is_finite_positive_and_bounded(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        argtypes.rpc_timeout(text)
    assert argtypes.rpc_timeout("0.5") == 0.5 and argtypes.rpc_timeout("600") == 600


@pytest.mark.parametrize("text", ["0", "-1", "20000", "10001", "1.5", "", "٣", "+5"])
def test_probe_counts_outside_1_to_10000_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 10000"):
        argtypes.bounded_int(1, 10_000)(text)
    assert argtypes.bounded_int(1, 10_000)("10000") == 10_000


def test_bad_values_are_echoed_cut(capsys: pytest.CaptureFixture[str]) -> None:
    huge = "x" * 1_000_000
    for argv in (
        ["vips", "--vip", huge],
        ["vips", "--rr", huge],
        ["lab", "up", "--lbs", huge],
        ["lab", "probe", "--count", huge],
        ["lab", "break", huge],
        ["diff", "--settle", huge],
        ["rib", "--at", huge],  # argparse's own messages: a bad choice, an unknown argument
        ["vips", huge],
        [huge],
    ):
        err = refused(capsys, *argv)
        assert len(err) < 400 and re.search(r"\(100000\d characters\)", err), err[:400]


def test_global_options_work_after_the_command_too() -> None:
    assert parse("--log-level", "info", "watch").log_level == "info"
    assert parse("watch", "--log-level", "info").log_level == "info"
    assert parse("lab", "status", "--log-level", "debug").log_level == "debug"
    assert parse("vips").log_level is None


def test_help_and_errors_show_no_markup_and_no_module_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--help")
    out = capsys.readouterr().out
    assert "``" not in out and out.count("lbroute") >= 1
    err = refused(capsys, "lab")
    assert "lab_cmd" not in err and "required: COMMAND" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse("--version")
    assert exit_.value.code == 0
    name, number = capsys.readouterr().out.split()
    assert name == "lbroute" and number[0].isdigit()


def test_every_lab_command_that_reports_has_json_and_every_option_has_help() -> None:
    lab = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["lab"]
    commands = next(a for a in lab._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        options = {o for a in sub._actions for o in a.option_strings}
        if name != "demo":
            assert "--json" in options, name
        for action in sub._actions:
            if action.option_strings and action.help != argparse.SUPPRESS:
                assert action.help, f"lab {name} {action.option_strings[0]} has no help"


def test_lab_refuses_the_other_target_flags(capsys: pytest.CaptureFixture[str]) -> None:
    # (checked when targets are resolved: see test_cli_targets_and_output)
    assert parse("vips", "--lab", "lbr").lab == "lbr"
    refused(capsys, "vips", "--lab", "../x")


def test_phases_go_to_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from lbroute.cli import lab_cmd

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    report = lab_cmd.progress("lab lbr up")
    assert report is not None
    report("namespaces built", 0.84)
    assert terminal.getvalue() == "lab lbr up: namespaces built (0.8s)\n"
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a pipe or a file: log events only
    assert lab_cmd.progress("lab lbr up") is None


@pytest.mark.parametrize(
    ("vip", "count", "says"),
    [("10.1.1.1", 0, "between 1 and 10000"), ("10.1.1.1", 10_001, "between 1 and 10000"),
     ("8.8.8.8", 5, "only to the lab's VIP pool"), ("10.1.1.1/32", 5, "not an address"),
     ("2001:db8:2::1", 5, "only to the lab's VIP pool"), ("fd00::11", 5, "only to the lab's VIP pool")],
)  # fmt: skip
def test_the_lab_sends_requests_only_to_its_vips_and_only_so_many(vip: str, count: int, says: str) -> None:
    from lbroute.lab.errors import LabError
    from lbroute.lab.traffic import check_request

    with pytest.raises(LabError, match=says):
        check_request(vip, count)
    check_request("10.1.2.1", 10_000)
    check_request("2001:db8:1::1", 1)


def test_lab_up_takes_a_router_kind_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse("lab", "up").router == "gobgp"
    assert parse("lab", "up", "--router", "frr").router == "frr"
    assert "invalid choice: 'bird'" in refused(capsys, "lab", "up", "--router", "bird")


def test_lab_up_takes_bfd_timers_or_off_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse("lab", "up").bfd == (300, 3)
    assert parse("lab", "up", "--bfd", "50x4").bfd == (50, 4)
    assert parse("lab", "up", "--bfd", "off").bfd is None
    assert "is not MSxN such as 300x3, or off" in refused(capsys, "lab", "up", "--bfd", "300")
    assert "a multiplier of 2 to 255" in refused(capsys, "lab", "up", "--bfd", "300x1")
    assert "an interval of 10 to 60000 ms" in refused(capsys, "lab", "up", "--bfd", "5x3")
    assert "... (200 characters)" in refused(capsys, "lab", "up", "--bfd", "x" * 200)


def test_lab_faults_name_a_host_and_refuse_anything_else(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse("lab", "hang", "lb2").who == "lb2"
    assert parse("lab", "hang", "rr2").hang is True
    assert parse("lab", "unhang", "rr").hang is False
    assert parse("lab", "link", "lb1", "down").state == "down"
    for argv in (("hang", "router"), ("hang", "lb"), ("unhang", "lbx"), ("link", "rr3", "down")):
        assert "is not a lab host such as lb2, rr or rr2" in refused(capsys, "lab", *argv)
    assert "invalid choice: 'sideways'" in refused(capsys, "lab", "link", "lb1", "sideways")
