"""``lbroute``'s command line, at random: real commands and options mixed with random tokens,
run in process through ``main``. Every argv ends with exit 0, 1 or 2 and no traceback.

Nothing can be touched: every target is a socket that does not exist (in a temporary
directory) or a closed loopback port, the lab state root is an empty temporary directory
(so no lab exists to act on), the verbs that build a lab (``up``, ``demo``) are never
generated, and a guard fails the test if anything would signal a process or remove a
directory outside the temporary one.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbroute.cli import main as cli_main
from lbroute.cli.main import main
from lbroute.lab import lab as lab_module
from lbroute.lab.state import LabState
from tests.support.properties import BAD_INPUT, odd_text

ROOT = Path("/nonexistent-lbroute-property-root")  # replaced per test by a temporary one
COMMANDS = ["vips", "diff", "peers", "rib", "fib", "watch", "completion", "lab"]
LAB_VERBS = ["status", "down", "probe", "scale", "backends", "hold", "restart", "break", "heal", "flap",
             "hang", "unhang", "link"]  # fmt: skip
BUILDS = {"up", "demo"}  # build a lab: never generated, and refused below should one slip in
OPTIONS = ["--rr", "--router", "--router-vtysh", "--router-netns", "--vip-pool", "--rpc-timeout", "--json",
           "--lab", "--vip", "--count", "--log-level", "--prefix", "--timeout", "--lbs", "--help", "-h",
           "--version", "--stop", "--", "-", "--no-such-option"]  # fmt: skip


CIDR = re.compile(r"[0-9a-fA-F:.]*/[0-9]*")


def values(tmp: str) -> st.SearchStrategy[str]:
    """Values for options; a path only inside ``tmp`` (hypothesis mixes in strings from the
    code under test, such as /run/lbroute: those are left out)."""
    return _values(tmp).filter(lambda t: "/" not in t or tmp in t or bool(CIDR.fullmatch(t)))


def _values(tmp: str) -> st.SearchStrategy[str]:
    return st.one_of(
        odd_text.filter(lambda t: t not in BUILDS),
        st.sampled_from([f"unix://{tmp}/nosuch.sock", f"{tmp}/nosuch.sock", "127.0.0.1:1", "[::1]:1",
                         "0.2", "0", "-1", "1e9", "inf", "nan", "10.1.1.1/32", "2001:db8::1", "0.0.0.0/0",
                         "lbr", "zz9", "lb1", "lb99", "rr", "rr2", "router", "up", "down", "bash",
                         "nosuchns", "debug", "10", "20000", tmp]),
    )  # fmt: skip


def _choices(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands() -> dict[tuple[str, ...], list[str]]:
    """Each command (``("vips",)``, ``("lab", "status")``) that may run here, with its options."""
    out = {}
    for name, sub in _choices(cli_main.parser()).items():
        inner = _choices(sub)
        for head, p in ({(name, verb): q for verb, q in inner.items()} if inner else {(name,): sub}).items():
            if BUILDS & set(head):
                continue
            out[head] = [o for a in p._actions for o in a.option_strings]
    return out


COMMAND_OPTIONS = commands()


def argvs(tmp: str) -> st.SearchStrategy[list[str]]:
    """A command, then its own options with values of any kind, now and then a stray token."""

    def rest(head: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
        option = st.sampled_from(COMMAND_OPTIONS[head]).flatmap(
            lambda o: st.tuples(st.just(o), values(tmp)).map(list) | st.just([o])
        )
        stray = st.one_of(values(tmp), st.sampled_from(OPTIONS + LAB_VERBS)).map(lambda t: [t])
        parts = st.lists(st.one_of(option, option, option, stray), max_size=5)
        return parts.map(lambda ps: [*head, *(t for p in ps for t in p)])

    commands = st.sampled_from(sorted(COMMAND_OPTIONS)).flatmap(rest)
    tokens = st.lists(st.one_of(st.sampled_from(OPTIONS + COMMANDS + LAB_VERBS), values(tmp)), max_size=6)
    # a watch, and every read of a target, is bounded: a short deadline for each read
    bounded = ["--rpc-timeout", "0.2"]
    return st.one_of(commands, commands, commands, tokens).map(
        lambda argv: [*argv, *bounded] if "--" not in argv else argv
    )


class Forbidden(Exception):
    pass


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty lab state root in ``tmp_path``, and nothing outside it to signal or remove."""
    root = tmp_path / "state"
    root.mkdir()
    # the state root is bound as a default at import ($LBROUTE_STATE_ROOT): point every default here
    for fn in (lab_module.Lab.__init__, lab_module.running_labs):
        monkeypatch.setattr(fn, "__defaults__", tuple(root if d == lab_module.DEFAULT_STATE_ROOT else d
                                                      for d in fn.__defaults__ or ()))  # fmt: skip
    for name in ("directory", "load"):
        fn = getattr(LabState, name).__func__ if name == "load" else getattr(LabState, name)
        monkeypatch.setattr(fn, "__defaults__", (root,))
    monkeypatch.setattr(LabState.save, "__defaults__", (root,))

    def no_kill(pid: int, sig: int) -> None:
        raise Forbidden(f"os.kill({pid}, {sig})")

    real_rmtree = shutil.rmtree

    def rmtree_inside(path: Any, *args: Any, **kwargs: Any) -> None:
        if not Path(path).resolve().is_relative_to(tmp_path.resolve()):
            raise Forbidden(f"rmtree({path})")
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr("os.kill", no_kill)
    monkeypatch.setattr("shutil.rmtree", rmtree_inside)
    # main() would configure structlog onto this test's captured stderr, closed after it
    monkeypatch.setattr(cli_main.logs, "configure", lambda *args, **kwargs: None)
    for var in (
        "LBROUTE_RR",
        "LBROUTE_ROUTER",
        "LBROUTE_ROUTER_VTYSH",
        "LBROUTE_ROUTER_NETNS",
        "LBROUTE_VIP_POOL",
    ):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path


def _too_long(signum: int, frame: FrameType | None) -> None:
    raise Forbidden("an argv ran for more than 20 s")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        parsed = cli_main.parser().parse_args(argv)
    except SystemExit:
        parsed = None
    except Forbidden:
        raise
    if parsed is not None and getattr(parsed, "lab_command", None) in BUILDS:
        raise AssertionError(f"a building verb was generated: {argv}")
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _too_long)
    signal.alarm(20)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capsys.readouterr()
    return code, out, err


@settings(BAD_INPUT, max_examples=80)
@given(data=st.data())
def test_any_argv_exits_0_1_or_2_without_a_traceback(
    guarded: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    argv = data.draw(argvs(str(guarded)), label="argv")
    before = sorted(p.name for p in guarded.rglob("*"))
    code, out, err = run(argv, capsys)
    assert code in (0, 1, 2), (argv, code, err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out, (argv, err[-3000:])
    lines = err.strip().splitlines()
    if code == 2:
        assert lines, argv  # a refusal says why, on printable lines
        assert all(line.isprintable() for line in lines), (argv, lines)
        assert len(err) < 20000, argv  # and does not echo a page back
    assert sorted(p.name for p in guarded.rglob("*")) == before, argv  # no lab here to change


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "down", "--prefix", "zz9"],  # no such lab in the (empty) state root: nothing removed
        ["lab", "status", "--prefix", "zz9"],
        ["lab", "break", "lb1", "--prefix", "zz9"],
        ["lab", "probe", "--count", "0"],
        ["vips", "--rr", "127.0.0.1:1"],
        ["watch", "--count", "1", "--rr", "127.0.0.1:1"],
        ["fib", "--router-netns", "nosuchns"],
        ["--log-level", "garbage", "vips"],
    ],
)
def test_examples(guarded: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _out, err = run([*argv, "--rpc-timeout", "0.2"], capsys)
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err and err.strip()


@pytest.mark.parametrize("token", ["stray\nlbroute: forged line", "\x1b[2J", "a\u2028b", "\x9b31m"])
def test_an_unknown_argument_is_echoed_on_one_printable_line(
    guarded: Path, capsys: pytest.CaptureFixture[str], token: str
) -> None:
    # found by the property test: argparse echoed an unrecognized argument raw, so a newline
    # in it split the refusal into two lines (and an ESC sequence reached the terminal)
    code, _out, err = run(["vips", token], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.isprintable() and line.startswith("lbroute: unrecognized arguments: "), line


def test_the_guard_refuses_a_removal_outside(guarded: Path) -> None:
    with pytest.raises(Forbidden):
        shutil.rmtree("/nonexistent-outside")
    assert lab_module.Lab("zz9").root == guarded / "state"
