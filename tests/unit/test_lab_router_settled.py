"""``Router.wait_settled`` across a restarting daemon, with a fake RIB: a gobgpd that refuses
connections for a moment (its socket is there, it does not listen yet) is not settled yet,
not an error."""

from __future__ import annotations

import pytest

from lbroute.core.rib import Path as BgpPath
from lbroute.core.session import Session
from lbroute.gobgp.errors import GobgpRejected, GobgpUnavailable
from lbroute.lab.router import Router
from lbroute.polling import Timeout

RR = "10.0.0.2"
UP = Session(at="router", neighbor=RR, peer_asn=65021, state="ESTABLISHED", since=None,
             received=1, accepted=1, advertised=None, hold_time=3)  # fmt: skip


class Restarting:
    """Refuses ``refusals`` calls (as gobgpd does while it starts), then answers ``sessions``."""

    def __init__(self, refusals: int, error: Exception | None = None) -> None:
        self.refusals = refusals
        self.error = error or GobgpUnavailable("unix:/x/gobgp.sock", "UNAVAILABLE", "Connection refused")
        self.calls = 0

    def sessions(self) -> list[Session]:
        self.calls += 1
        if self.calls <= self.refusals:
            raise self.error
        return [UP]

    def paths(self, prefixes: tuple[str, ...] = ()) -> list[BgpPath]:
        return []


def router(rib: Restarting) -> Router:
    return Router("t-router", rib, frozenset({RR}), lambda: "")


def test_a_daemon_refusing_connections_for_a_while_is_waited_for() -> None:
    rib = Restarting(refusals=3)
    router(rib).wait_settled(5)
    assert rib.calls == 4


def test_a_daemon_that_never_answers_is_a_timeout_not_a_crash() -> None:
    with pytest.raises(Timeout, match="router sessions down"):
        router(Restarting(refusals=10**6)).wait_settled(0.2)


def test_a_refusal_that_is_no_restart_is_raised() -> None:
    with pytest.raises(GobgpRejected):
        router(Restarting(refusals=1, error=GobgpRejected("x", "INVALID_ARGUMENT"))).wait_settled(5)
