"""A network namespace of a test's own, for tests of kernel adapters against the real kernel."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from lbroute.kernel.ip import ip, list_netns


@contextmanager
def namespace(tag: str = "ns") -> Iterator[str]:
    """A fresh network namespace (loopback up), named ``t<random>-<tag>``, deleted afterwards
    whatever happens."""
    name = f"t{secrets.token_hex(3)}-{tag}"
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", netns=name)
        yield name
    finally:
        ip("netns", "del", name, check=False)
    # after the body succeeded only: an assert in ``finally`` would hide the body's own error
    assert name not in list_netns(), f"namespace {name} is still there after ip netns del"
