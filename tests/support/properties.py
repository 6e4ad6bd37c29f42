"""Shared hypothesis settings for the property tests of bad input (tests/unit/test_properties_*.py).

Bounded and deterministic: ``derandomize`` draws the same examples on every run and machine,
no example database is kept, so a CI failure reproduces locally and the set's time is fixed.
A case hypothesis finds is kept in the test as an ``@example`` (a regression test).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

BAD_INPUT = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# strings a user, an API server or a broken peer might hand us: unicode of every category
# (surrogates excepted: they cannot reach us from a UTF-8 file or a JSON decoder), control
# characters, and the few that mean something to YAML, JSON or a shell
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\n",
            "\u202e",
            "~",
            "-1",
            "0",
            "1e400",
            "nan",
            "::",
            "0.0.0.0",
            "10.0.0.256",
            "{",
            "[",
            "'",
            '"',
            "\\",
            "yes",
            "null",
            "é" * 50,
            "a" * 5000,
        ]
    ),
)

# any JSON value, bounded in size and depth
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)

DELETE = object()  # a mutation that removes the key (or list item) instead of replacing it


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON/YAML value, the value itself (``()``) first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out += paths(inner, (*prefix, i))
    return out


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the place ``path`` set to ``new`` (removed for ``DELETE``)."""
    if not path:
        return None if new is DELETE else new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy: Any = dict(value)
    else:
        copy = list(value)
    if rest:
        copy[head] = replaced(copy[head], rest, new)
    elif new is DELETE:
        del copy[head]
    else:
        copy[head] = new
    return copy


def garbage(big: int = 300) -> st.SearchStrategy[Any]:
    """What a wrong writer puts at a place: any JSON value, a long list, deep nesting, or nothing."""
    deep = st.integers(min_value=30, max_value=200).map(lambda n: _nest(n))
    huge = st.integers(min_value=big // 2, max_value=big).map(lambda n: [{"x": i} for i in range(n)])
    return st.one_of(json_values, st.just(DELETE), huge, deep)


def _nest(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


def mutations(valid: Any, big: int = 300) -> st.SearchStrategy[tuple[tuple[Any, ...], Any]]:
    """(place, new value) for one mutation of ``valid``; apply with ``replaced``."""
    return st.tuples(st.sampled_from(paths(valid)), garbage(big))


def is_within(place: tuple[Any, ...], path: tuple[Any, ...]) -> bool:
    """Whether changing ``place`` can change what is at ``path`` (``place`` is ``path`` or above it)."""
    return path[: len(place)] == place
