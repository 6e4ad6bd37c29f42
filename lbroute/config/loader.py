"""Load a config file into a pydantic model, listing every problem with where it is.

Daemons, ``config check`` commands and tests all go through ``load_config``; a bad file
never gets half-applied because nothing downstream sees a partially valid model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys rejected, values frozen, no coercion surprises."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


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
            out += ("." if out else "") + str(part)
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
        if e["type"] not in _HINTS and not isinstance(shown, (dict, list)) and repr(shown) not in msg:
            msg = f"{msg} (got {shown!r})"
        problems.append(Problem(_where(loc), msg))
    return problems


def load_config_text(text: str, model: type[M], *, source: str = "<config>") -> M:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(
            source, [Problem(where, f"not valid YAML: {getattr(err, 'problem', err)}")]
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem("(top level)", "expected a mapping of keys to values")])
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, problems_of(err)) from None


def load_config(path: str | Path, model: type[M]) -> M:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(str(path), [Problem("(file)", f"cannot read: {err.strerror}")]) from None
    return load_config_text(text, model, source=str(path))
