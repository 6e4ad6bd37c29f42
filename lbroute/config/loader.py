"""Load a config file into a pydantic model, listing every problem with where it is.

Daemons, ``config check`` commands and tests all go through ``load_config``; a bad file
never gets half-applied because nothing downstream sees a partially valid model.

Input is bounded before it can cost anything (docs/decisions/input-bounds.md): only a
regular file is read, at most ``MAX_BYTES`` of it, as UTF-8; YAML nesting stops at
``MAX_DEPTH`` levels and a number at ``MAX_NUMBER_CHARS`` characters; a key given twice
in one mapping is a problem (YAML would silently keep the last one). Values echoed in
messages are cut (``types.shorten``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .types import shorten

M = TypeVar("M", bound=BaseModel)

# a route reflector's config for 64 speaker groups with their pools is ~13 KB, an
# announcer's for a thousand VIPs ~40 KB; parsing 1 MiB takes ~3 s here
MAX_BYTES = 1 << 20
# the deepest real config is ~5 levels (speaker_groups[0].kubernetes.namespace); Python's
# recursion limit would end a YAML parse at ~300 levels with a traceback
MAX_DEPTH = 32
# an ASN has 10 digits; Python refuses to read an int of more than 4,300
MAX_NUMBER_CHARS = 64


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


class StrictModel(BaseModel):
    """Base for every config model: unknown keys rejected, values frozen, no coercion surprises."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    def problems(self) -> list[Problem]:
        """What only the whole file shows, each at its place; the loader refuses a file with any.
        Runs once every field is valid."""
        return []

    def warnings(self) -> list[Problem]:
        """Valid, but worth a line at ``config check`` and a log event at start (a guard turned off)."""
        return []


class ConfigError(Exception):
    """A config that cannot be used. ``problems`` lists each one; exit code 2 for callers."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))

    def lines(self) -> list[str]:
        return [f"{self.source}: {p}" for p in self.problems]


_HINTS = {
    "extra_forbidden": "unknown key; remove it or check its spelling",
    "missing": "required key is missing",
}


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            # an unknown key is echoed as its place: cut like any other echo, and quoted
            # (escaped) when it holds a character that is not printable (a line break, ESC)
            text = text if len(text) <= 60 else text[:60] + "..."
            text = text if text.isprintable() else repr(text)
            out += ("." if out else "") + text
    return out or "(top level)"


def problems_of(error: ValidationError) -> list[Problem]:
    errors = error.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]
    problems = []
    for e, loc in zip(errors, locs, strict=True):
        # a container's own complaint ("too short after validation") when its items already failed
        if any(other != loc and other[: len(loc)] == loc for other in locs):
            continue
        msg = _HINTS.get(e["type"], e["msg"])
        if msg.startswith("Value error, "):
            # a model's own check reports several problems, one per line: one Problem each
            *more, msg = msg[len("Value error, ") :].split("\n")
            problems += [Problem(_where(loc), part) for part in more]
        shown = e.get("input")
        if e["type"] not in _HINTS and not isinstance(shown, (dict, list)):
            echo = shorten(shown)
            if echo not in msg:
                msg = f"{msg} (got {echo})"
        problems.append(Problem(_where(loc), msg))
    return problems


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1} column {mark.column + 1}"


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the bounds above; what breaks them is collected in ``problems``."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[Problem] = []
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # the composer recurses once per level: stop before Python's recursion limit does
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with << may be overridden here: that is what << is for
            key = self.construct_object(key_node)
            if key in first:
                self.problems.append(
                    Problem(
                        _at(key_node.start_mark),
                        f"duplicate key {shorten(key)} (first at line {first[key].line + 1}); keep one",
                    )
                )
            else:
                first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > MAX_NUMBER_CHARS:
            what = f"a number of {len(node.value)} characters; no setting takes more than {MAX_NUMBER_CHARS}"
            self.problems.append(Problem(_at(node.start_mark), what))
            return 0  # never seen: a file with problems goes no further
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


def load_config_text(text: str, model: type[M], *, source: str = "<config>") -> M:
    if len(text) > MAX_BYTES:
        raise ConfigError(
            source, [Problem("(file)", f"longer than {_size(MAX_BYTES)}; a config is far smaller")]
        )
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as err:
        problem = (
            f"character #x{err.character:04x} at offset {err.position} is not allowed in YAML: a binary file?"
        )
        raise ConfigError(source, [Problem("(file)", problem)]) from None
    try:
        data = loader.get_single_data()
    except _TooDeep as err:
        problem = f"nested deeper than {MAX_DEPTH} levels; a config needs a handful"
        raise ConfigError(source, [Problem(_at(err.mark), problem)]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = _at(mark) if mark else "(file)"
        what = str(getattr(err, "problem", err))
        raise ConfigError(source, [Problem(where, f"not valid YAML: {what[:200]}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise ConfigError(source, loader.problems)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem("(top level)", "expected a mapping of keys to values")])
    try:
        cfg = model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, problems_of(err)) from None
    problems = cfg.problems() if isinstance(cfg, StrictModel) else []
    if problems:
        raise ConfigError(source, problems)
    return cfg


def read_text_file(path: str | Path, *, max_bytes: int = MAX_BYTES, what: str = "a config") -> str:
    """A regular file's text, at most ``max_bytes`` of UTF-8; a ``ConfigError`` saying why not.

    A device, pipe or directory is refused before it is opened: ``/dev/zero`` would
    otherwise be read until memory runs out.
    """
    try:
        return _read_bounded(path, max_bytes, what)
    except _Unreadable as err:
        raise ConfigError(str(path), [Problem("(file)", str(err))]) from None


class _Unreadable(Exception):
    pass


def _read_bounded(path: str | Path, max_bytes: int, what: str) -> str:
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind:
            raise _Unreadable(f"{kind}, not a regular file; give the path of {what}")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            kind = _not_regular(info.st_mode)  # replaced since the stat: still refuse
            if kind:
                raise _Unreadable(f"{kind}, not a regular file; give the path of {what}")
            data = b"" if info.st_size > max_bytes else f.read(max_bytes + 1)
    except OSError as err:
        raise _Unreadable(f"cannot read: {err.strerror}") from None
    size = max(info.st_size, len(data))
    if size > max_bytes:
        raise _Unreadable(f"{size:,} bytes; {what} is at most {_size(max_bytes)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _Unreadable(
            f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); a binary file?"
        ) from None


def read_secret_file(path: str | Path, *, max_bytes: int, what: str) -> str:
    """``read_text_file`` for a file a config names (a key): ``ValueError`` with the reason."""
    try:
        return _read_bounded(path, max_bytes, what)
    except _Unreadable as err:
        raise ValueError(str(err)) from None


def load_config(path: str | Path, model: type[M]) -> M:
    return load_config_text(read_text_file(path), model, source=str(path))


def _not_regular(mode: int) -> str:
    """What a non-regular file is, "" for a regular one."""
    if stat.S_ISREG(mode):
        return ""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a file"


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"
