"""The config loaders of every program, fed the shipped configs mutated at random: a value
of the wrong type, a key gone or added, a huge list, deep nesting, odd unicode; and the
file's text itself broken: truncated, binary bytes inserted, oversize. Each ends in a valid
config or the loader's ``ConfigError`` listing one-line problems, each at its place — never
another exception; ``config check`` of each program exits 0 or 2 without a traceback and
writes no file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from announcer.config import AnnouncerConfig
from announcer.main import main as announcer_main
from dataplane.config import DataplaneConfig, RealserverConfig
from dataplane.main import main as dataplane_main
from dataplane.realserver_main import main as realserver_main
from lbroute.config import ConfigError
from lbroute.config.loader import MAX_BYTES, load_config, load_config_text
from rr.config import RrConfig
from rr.main import main as rr_main
from tests.support.properties import BAD_INPUT, DELETE, mutations, replaced

CONFIGS = Path(__file__).parents[2] / "configs"
SHIPPED: list[tuple[str, type[BaseModel], Callable[[list[str]], int]]] = [
    ("rr.yaml", RrConfig, rr_main),
    ("router.yaml", RrConfig, rr_main),
    ("router-resilient.yaml", RrConfig, rr_main),
    ("compose/rr.yaml", RrConfig, rr_main),
    ("announcer.yaml", AnnouncerConfig, announcer_main),
    ("compose/announcer.yaml", AnnouncerConfig, announcer_main),
    ("dataplane.yaml", DataplaneConfig, dataplane_main),
    ("dataplane-realserver.yaml", RealserverConfig, realserver_main),
]
IDS = [name for name, _, _ in SHIPPED]


def shipped(name: str) -> Any:
    return yaml.safe_load((CONFIGS / name).read_text())


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_IP", "10.0.0.11")
    monkeypatch.setenv("NODE_IP6", "2001:db8:0:1::11")
    monkeypatch.setenv("POD_IP", "172.16.1.10")
    # main() would configure structlog onto this test's captured stderr, closed after it
    monkeypatch.setattr("lbroute.logs.configure", lambda *args, **kwargs: None)


def assert_clear(err: ConfigError, source: str) -> None:
    """Problems listed one a line, each with its place and what is wrong, none echoing a page."""
    assert err.problems
    for problem in err.problems:
        assert problem.where and problem.what
        # one line of printable characters (an echoed line break or ESC would forge or hide lines)
        assert str(problem).isprintable() and len(str(problem)) < 600, str(problem)[:2000]
    assert all(line.startswith(f"{source}: ") for line in err.lines())


def load_or_refuse(text: str, model: type[BaseModel]) -> BaseModel | None:
    try:
        return load_config_text(text, model, source="cfg")
    except ConfigError as err:
        assert_clear(err, "cfg")
        return None


def merged(valid: Any, place: tuple[Any, ...], new: Any) -> Any:
    """``new`` set at ``place``; a mapping put on a mapping adds its keys (unknown ones, mostly)."""
    at = valid
    for key in place:
        at = at[key]
    if isinstance(at, dict) and isinstance(new, dict) and new is not DELETE:
        return replaced(valid, place, {**at, **new})
    return replaced(valid, place, new)


@pytest.mark.parametrize(("name", "model"), [(n, m) for n, m, _ in SHIPPED], ids=IDS)
def test_the_shipped_configs_load(name: str, model: type[BaseModel]) -> None:
    assert isinstance(load_config_text((CONFIGS / name).read_text(), model), model)


@pytest.mark.parametrize(("name", "model"), [(n, m) for n, m, _ in SHIPPED], ids=IDS)
@BAD_INPUT
@given(data=st.data())
def test_a_mutated_config_loads_or_lists_its_problems(
    name: str, model: type[BaseModel], data: st.DataObject
) -> None:
    valid = shipped(name)
    place, new = data.draw(mutations(valid), label="mutation")
    mutated = merged(valid, place, new)
    load_or_refuse(yaml.safe_dump(mutated, allow_unicode=True), model)


text_edits = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=20)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(b"")),
    st.tuples(st.just("repeat"), st.integers(0, 10**6), st.integers(1, 50).map(lambda n: b"x" * n)),
    st.tuples(st.just("oversize"), st.just(0), st.sampled_from([b" ", b"#", b"a: 1\n"])),
)


def edited(raw: bytes, edit: tuple[str, int, bytes]) -> bytes:
    kind, at, more = edit
    at = at % (len(raw) + 1)
    if kind == "insert":
        return raw[:at] + more + raw[at:]
    if kind == "truncate":
        return raw[:at]
    if kind == "repeat":  # a line given twice: a duplicate key, or a list item more
        start = raw.rfind(b"\n", 0, at) + 1
        end = raw.find(b"\n", at)
        line = raw[start : end if end >= 0 else len(raw)]
        return raw[:start] + line + b"\n" + raw[start:]
    return raw + more * (MAX_BYTES // len(more) + 1)


@pytest.mark.parametrize(("name", "model"), [(n, m) for n, m, _ in SHIPPED], ids=IDS)
@settings(BAD_INPUT, max_examples=20)
@given(edit=text_edits)
@example(edit=("insert", 0, b"\xff\xfe"))
@example(edit=("insert", 0, b"\x00"))
@example(edit=("insert", 0, b"[" * 40 + b"\n"))
def test_a_broken_file_loads_or_lists_its_problems(
    tmp_path: Path, name: str, model: type[BaseModel], edit: tuple[str, int, bytes]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(edited((CONFIGS / name).read_bytes(), edit))
    try:
        load_config(path, model)
    except ConfigError as err:
        assert_clear(err, str(path))


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


ONE_EACH = ["rr.yaml", "router.yaml", "announcer.yaml", "dataplane.yaml", "dataplane-realserver.yaml"]


@pytest.mark.parametrize(("name", "main"), [(n, f) for n, _, f in SHIPPED if n in ONE_EACH], ids=ONE_EACH)
@settings(BAD_INPUT, max_examples=15)
@given(data=st.data())
def test_config_check_of_a_mutated_config_exits_0_or_2_and_writes_nothing(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    main: Callable[[list[str]], int],
    data: st.DataObject,
) -> None:
    root = tmp_path_factory.mktemp("check")
    monkeypatch.chdir(root)  # a relative path a mutation puts in the config lands here
    valid = shipped(name)
    place, new = data.draw(mutations(valid, big=300), label="mutation")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(merged(valid, place, new), allow_unicode=True))
    before = tree(root)
    try:
        code = main(["config", "check", str(path)])
    except SystemExit as exit_:
        code = exit_.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    if main is announcer_main:
        assert out == ""  # stdout is exabgp's channel, even for errors
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line]
        assert lines and all(line.startswith(f"{path}: ") for line in lines), lines
    assert tree(root) == before
    assert os.getcwd() == str(root)


@pytest.mark.parametrize("key", ["\x1e", "a\nb: 1", "\x1b[2J", "\u2028", "\u202eevil"])
def test_an_unknown_key_is_echoed_on_one_printable_line(key: str) -> None:
    # found by the property test above: an unknown key holding U+001E (a line boundary to
    # str.splitlines) was echoed raw, so its problem came out as two lines
    text = yaml.safe_dump({**shipped("compose/announcer.yaml"), key: None})
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, AnnouncerConfig, source="cfg")
    [line] = refused.value.lines()
    assert line.isprintable() and line.startswith(f"cfg: {key!r}: unknown key"), line
