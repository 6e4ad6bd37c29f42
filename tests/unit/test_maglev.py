"""The Maglev table: deterministic, even, and minimally disrupted when a backend comes or goes."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbroute.core import maglev

BACKENDS = [f"172.16.{i}.10" for i in range(1, 11)]


def test_the_table_depends_on_the_backends_not_their_order() -> None:
    assert maglev.table(BACKENDS) == maglev.table(list(reversed(BACKENDS))) == maglev.table(BACKENDS * 2)


def test_size_and_seed_change_the_table() -> None:
    base = maglev.table(BACKENDS, 4093, 1)
    assert maglev.table(BACKENDS, 4093, 2) != base
    assert len(maglev.table(BACKENDS, 1021, 1)) == 1021


@pytest.mark.parametrize(
    ("size", "problem"),
    [(4092, "not a prime"), (5, "between"), (65537, "between"), (1, "between")],
)
def test_a_size_that_is_no_prime_in_range_is_refused(size: int, problem: str) -> None:
    assert problem in (maglev.size_problem(size) or "")
    with pytest.raises(ValueError, match=problem):
        maglev.table(BACKENDS, size)


def test_a_seed_beyond_32_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        maglev.table(BACKENDS, 4093, 1 << 32)


def test_no_backends_no_table() -> None:
    assert maglev.table([], 4093) == ()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 40])
def test_every_backend_holds_size_over_n_buckets_give_or_take_one(n: int) -> None:
    counts = Counter(maglev.table(BACKENDS[:n] if n <= 10 else [f"10.9.{i}.1" for i in range(n)]))
    assert len(counts) == n
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == maglev.DEFAULT_SIZE


def test_backend_order_is_numeric_for_addresses() -> None:
    assert maglev.backend_order(["172.16.1.10", "172.16.1.9", "172.16.10.1"]) == [
        "172.16.1.9",
        "172.16.1.10",
        "172.16.10.1",
    ]


def test_a_backend_leaving_moves_its_own_buckets_and_few_others() -> None:
    before = maglev.table(BACKENDS)
    after = maglev.table(BACKENDS[:-1])
    own = [i for i, b in enumerate(before) if b == BACKENDS[-1]]
    assert all(after[i] != BACKENDS[-1] for i in own)
    others = sum(1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b and i not in own)
    # measured: 40 of 4093 (1%); Maglev's own paper reports a few percent
    assert others <= 0.03 * maglev.DEFAULT_SIZE, others


def test_a_backend_joining_takes_its_share_and_moves_few_others() -> None:
    before = maglev.table(BACKENDS)
    after = maglev.table([*BACKENDS, "172.16.99.10"])
    taken = sum(1 for b in after if b == "172.16.99.10")
    moved = maglev.moved(before, after)
    assert taken >= maglev.DEFAULT_SIZE // 11
    assert moved - taken <= 0.03 * maglev.DEFAULT_SIZE


def test_moved_refuses_tables_of_different_sizes() -> None:
    with pytest.raises(ValueError):
        maglev.moved(maglev.table(BACKENDS, 251), maglev.table(BACKENDS, 4093))


addresses = st.sets(st.integers(1, 250).map(lambda i: f"172.16.7.{i}"), min_size=2, max_size=10)


@settings(max_examples=100, deadline=None)
@given(backends=addresses, size=st.sampled_from([1021, 4093]), seed=st.integers(0, (1 << 32) - 1))
def test_property_removal_moves_few_buckets_of_the_survivors(
    backends: set[str], size: int, seed: int
) -> None:
    """In the regime Maglev is meant for: 100 buckets or more per backend (measured worst
    over 60 draws each for 2-10 backends: 0.9 of one backend's share)."""
    ordered = sorted(backends)
    gone = ordered[len(ordered) // 2]
    before = maglev.table(ordered, size, seed)
    after = maglev.table([b for b in ordered if b != gone], size, seed)
    counts = Counter(before)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert gone not in after
    survivors_moved = sum(1 for a, b in zip(before, after, strict=True) if a != gone and a != b)
    # each survivor keeps most of its buckets: what moves among them is at most about one
    # backend's share (the table refills, each survivor taking a turn per round)
    assert survivors_moved <= size / len(ordered) + 0.02 * size, (survivors_moved, size, len(ordered))


@settings(max_examples=30, deadline=None)
@given(backends=addresses, seed=st.integers(0, (1 << 32) - 1))
def test_property_every_pod_computes_the_same_table(backends: set[str], seed: int) -> None:
    one = maglev.table(sorted(backends), 1021, seed)
    other = maglev.table(sorted(backends, reverse=True), 1021, seed)
    assert one == other
    assert maglev.digest(one, 1021, seed) == maglev.digest(other, 1021, seed)
