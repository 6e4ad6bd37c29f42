"""Maglev consistent hashing (Eisenbud et al., NSDI 2016): one lookup table per service. Pure.

Every LB pod must send a flow to the same backend, whichever pod the router's ECMP hash
picks, so the table is a function of three things only: the backends (sorted, so the order
in which the API server listed them does not matter), the table size (a prime) and a seed.
Every driver fills its kernel table from ``table()``; the kernel hashes the flow to a
bucket with the same size and seed.

Each backend walks the buckets in its own permutation (``offset``, ``skip`` from a keyed
BLAKE2b hash of its name) and the backends take turns claiming their next free bucket.
So every backend holds ``size // n`` or ``size // n + 1`` buckets, and a backend that comes
or goes moves its own buckets and only a few others.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Sequence

# the IPVS mh scheduler's default table size (CONFIG_IP_VS_MH_TAB_INDEX 12): the same size
# whichever driver programs the kernel; > 100 buckets a backend for up to 40 backends
DEFAULT_SIZE = 4093
MIN_SIZE = 7
# an nftables map of this many elements still loads in one transaction in well under a second
MAX_SIZE = 65521
_PERSON = b"lbroute-maglev"


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def size_problem(size: int) -> str | None:
    """Why ``size`` cannot be a table size, or None. A prime keeps every ``skip`` coprime to it,
    so each permutation visits every bucket."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        return f"table size {size}: must be between {MIN_SIZE} and {MAX_SIZE}"
    if not is_prime(size):
        return f"table size {size} is not a prime (e.g. 251, 1021, 4093, 16381, 65521)"
    return None


def backend_order(backends: Iterable[str]) -> list[str]:
    """Distinct backends in the order every pod agrees on: addresses numerically, names after."""

    def key(name: str) -> tuple[int, int, str]:
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return (1, 0, name)
        return (0, int(ip) + (ip.version - 4) * (1 << 32), name)

    return sorted(set(backends), key=key)


def permutation(backend: str, size: int, seed: int) -> tuple[int, int]:
    """``(offset, skip)`` of ``backend``'s walk through a table of ``size`` buckets."""
    digest = hashlib.blake2b(
        backend.encode(), digest_size=16, key=seed.to_bytes(8, "big"), person=_PERSON
    ).digest()
    offset = int.from_bytes(digest[:8], "big") % size
    skip = int.from_bytes(digest[8:], "big") % (size - 1) + 1
    return offset, skip


def table(backends: Iterable[str], size: int = DEFAULT_SIZE, seed: int = 0) -> tuple[str, ...]:
    """Bucket -> backend for ``size`` buckets; empty when there are no backends.

    Raises ``ValueError`` for a size that is not a prime in range (``size_problem``) or a
    seed that is not a 32-bit unsigned number (what the kernel's jhash takes).
    """
    problem = size_problem(size)
    if problem:
        raise ValueError(problem)
    if not 0 <= seed < 1 << 32:
        raise ValueError(f"seed {seed}: must be between 0 and {(1 << 32) - 1}")
    names = backend_order(backends)
    if not names:
        return ()
    walks = [permutation(name, size, seed) for name in names]
    taken = [-1] * size
    next_step = [0] * len(names)
    filled = 0
    while True:
        for i, (offset, skip) in enumerate(walks):
            bucket = (offset + next_step[i] * skip) % size
            while taken[bucket] >= 0:
                next_step[i] += 1
                bucket = (offset + next_step[i] * skip) % size
            taken[bucket] = i
            next_step[i] += 1
            filled += 1
            if filled == size:
                return tuple(names[i] for i in taken)


def moved(before: Sequence[str], after: Sequence[str]) -> int:
    """Buckets whose backend differs between two tables of one size."""
    if len(before) != len(after):
        raise ValueError(f"tables of {len(before)} and {len(after)} buckets cannot be compared")
    return sum(1 for a, b in zip(before, after, strict=True) if a != b)


def digest(buckets: Sequence[str], size: int, seed: int) -> str:
    """A short fingerprint of a table and its hash parameters: equal on every pod that agrees."""
    h = hashlib.blake2b(digest_size=6)
    h.update(f"{size}/{seed}/".encode())
    for name in buckets:
        h.update(name.encode() + b"\n")
    return h.hexdigest()
