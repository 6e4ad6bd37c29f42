"""The benchmarks' pure summaries: random LB counts, percentiles, the traffic timeline and shares."""

from __future__ import annotations

import argparse
import io

import pytest

from benchmarks.convergence import lb_changes, percentiles
from benchmarks.failover import absent_seconds
from benchmarks.flows import evenness
from benchmarks.report import Progress, text
from benchmarks.rr_scale import runs
from benchmarks.traffic import parse_log, per_second, phase_summary


def test_lb_changes_always_change_stay_in_range_and_repeat_with_the_seed() -> None:
    counts = lb_changes(200, 4, 3, seed=1)
    assert len(counts) == 200
    assert set(counts) == {1, 2, 3, 4}
    assert all(a != b for a, b in zip([3, *counts], counts, strict=False))
    assert lb_changes(200, 4, 3, seed=1) == counts
    assert lb_changes(200, 4, 3, seed=2) != counts


def test_percentiles_are_nearest_rank() -> None:
    assert percentiles([float(v) for v in range(100, 0, -1)]) == {
        "n": 100, "p50_s": 50.0, "p90_s": 90.0, "p99_s": 99.0, "max_s": 100.0,
    }  # fmt: skip
    assert percentiles([2.5]) == {"n": 1, "p50_s": 2.5, "p90_s": 2.5, "p99_s": 2.5, "max_s": 2.5}


LOG = "10.00 lb1\n10.40 lb2\n10.90 !ConnectionRefusedError\n11.20 lb1\n12.95 lb2\n"


def test_the_request_log_becomes_requests_per_lb_per_second_with_failures_apart() -> None:
    requests = parse_log(LOG + "13.0")  # a line cut short by the loop's end is skipped
    assert requests[2] == (10.9, "!ConnectionRefusedError")
    assert per_second(requests, t0=10.0) == {"failed": [1, 0, 0], "lb1": [1, 1, 0], "lb2": [1, 0, 1]}
    assert per_second([], t0=0.0) == {}


def test_a_phase_gives_shares_beside_the_even_share_and_its_failures() -> None:
    requests = parse_log(LOG)
    phase = phase_summary(requests, 10.0, 12.0, lbs=2)
    assert phase == {
        "lbs": 2, "seconds": 2.0, "requests": 4, "failed": 1,
        "shares": {"lb1": 0.667, "lb2": 0.333}, "even_share": 0.5, "max_over_min": 2.0,
    }  # fmt: skip
    # an LB that answered nothing: no ratio, rather than one over the others only
    assert phase_summary(requests, 10.0, 12.0, lbs=3)["max_over_min"] is None


def test_the_human_summary_is_indented_key_value_lines() -> None:
    assert text({"a": {"n": 3, "p50": 1.5}, "b": [1, 2], "c": {}}) == [
        "a:",
        "  n: 3",
        "  p50: 1.5",
        "b: [1, 2]",
        "c: {}",
    ]


def test_scale_runs_are_speakers_x_vips_and_anything_else_is_refused() -> None:
    assert runs("16x250,64x1000") == [(16, 250), (64, 1000)]
    for bad in ("3y4", "0x4", "16x", "16x250,", "1x2x3"):
        with pytest.raises(argparse.ArgumentTypeError, match="give SPEAKERSxVIPS runs"):
            runs(bad)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_redrawn_in_place_on_a_terminal_and_lines_elsewhere() -> None:
    log = io.StringIO()
    lines = Progress(2, "scale", stream=log)
    lines.step("16x250: FIB 1.1 s")
    lines.step("64x1000: FIB 3.6 s")
    assert log.getvalue() == "16x250: FIB 1.1 s\n64x1000: FIB 3.6 s\n"
    tty = Terminal()
    bar = Progress(4, "failover", stream=tty)
    bar.step("drain 0.19 s")
    first = tty.getvalue()
    assert first.startswith("\rfailover [" + "#" * 8 + "." * 22 + "] 1/4 ") and "drain 0.19 s" in first
    assert "\n" not in first  # redrawn in place until the last step
    for _ in range(3):
        bar.step("health 0.58 s")
    assert tty.getvalue().endswith("\x1b[K\n") and "] 4/4 " in tty.getvalue()


def test_evenness_is_pearsons_chi_square_against_an_even_split() -> None:
    assert evenness([100, 100, 100]) == {
        "per_lb": [100, 100, 100], "chi2": 0.0, "df": 2, "critical_5pct": 5.991, "max_over_min": 1.0,
    }  # fmt: skip
    skewed = evenness([150, 75, 75])  # expected 100 each: 25 + 6.25 + 6.25
    assert (skewed["chi2"], skewed["max_over_min"]) == (37.5, 2.0)
    assert skewed["chi2"] > skewed["critical_5pct"]
    assert evenness([10, 0])["max_over_min"] is None


def test_the_time_a_next_hop_was_absent_sums_the_sampled_intervals_it_was_missing_in() -> None:
    a, b = frozenset({"10.0.0.11", "10.0.0.13"}), frozenset({"10.0.0.11"})
    samples = [(0.0, a), (0.1, b), (0.25, b), (0.3, a), (0.5, a)]
    assert absent_seconds(samples, "10.0.0.13") == pytest.approx(0.2)
    assert absent_seconds(samples, "10.0.0.11") == 0.0
