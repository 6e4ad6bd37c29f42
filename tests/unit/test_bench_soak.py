"""The soak's arguments and its counts, without a lab."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.soak import parse, summarize


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--events", "0"], "--events 0: give 1 or more"),
        (["--prefix", "Bad/x"], "--prefix 'Bad/x'"),
        (["--requests", "500"], "--requests 500: between 0 and 200"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_defaults_are_a_thousand_events() -> None:
    args = parse([])
    assert (args.events, args.seed, args.prefix, args.json) == (1000, 1, "bsoak", False)


def test_misses_add_their_wrong_next_hops_and_requests_add_up() -> None:
    events: list[dict[str, Any]] = [
        {"kind": "break", "seconds": 1.0, "requests": 20, "failed_requests": 0},
        {"kind": "break", "seconds": 3.0},
        {
            "kind": "restart_rr",
            "seconds": None,
            "deadline_miss": True,
            "diff": {"stale": 1, "missing": 2, "foreign": 0},
            "requests": 20,
            "failed_requests": 4,
        },
    ]
    s = summarize(events)
    assert (s["events"], s["deadline_misses"], s["requests"], s["failed_requests"]) == (3, 1, 40, 4)
    assert (s["stale_next_hops"], s["missing_next_hops"], s["foreign_next_hops"]) == (1, 2, 0)
    assert s["time_to_invariant"]["break"] == {"count": 2, "median_s": 2.0, "max_s": 3.0}
    assert s["time_to_invariant"]["restart_rr"] == {"count": 1, "median_s": None, "max_s": None}
