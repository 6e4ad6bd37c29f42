"""The announcer's pure decisions: commands, what exabgp's lines mean, what it acknowledged."""

from __future__ import annotations

import pytest

from announcer.exabgp import Ack, Announcer
from announcer.protocol import Answer, classify
from announcer.state import NextHops, Route, ServiceRoutes, all_routes, commands

NH = "10.0.0.11"


def routes(*prefixes: str, nh: str = NH) -> frozenset[Route]:
    return frozenset(Route(p, nh) for p in prefixes)


def test_announce_command_names_the_node_as_next_hop() -> None:
    r = Route("10.1.1.1/32", NH, ("65021:100",), med=10, local_preference=200)
    assert r.announce_command() == (
        "announce route 10.1.1.1/32 next-hop 10.0.0.11 med 10 local-preference 200 community [65021:100]"
    )
    assert r.withdraw_command() == "withdraw route 10.1.1.1/32 next-hop 10.0.0.11"
    assert "self" not in r.announce_command()


@pytest.mark.parametrize(
    ("desired", "announced", "expected"),
    [
        (routes("10.1.1.1/32"), routes(), [("announce", "10.1.1.1/32")]),
        (routes("10.1.1.1/32"), routes("10.1.1.1/32"), []),
        (
            routes(),
            routes("10.1.1.1/32", "10.1.2.1/32"),
            [("withdraw", "10.1.1.1/32"), ("withdraw", "10.1.2.1/32")],
        ),
        # next-hop moved: re-announce replaces the path, no withdraw gap
        (routes("10.1.1.1/32", nh="10.0.0.12"), routes("10.1.1.1/32"), [("announce", "10.1.1.1/32")]),
    ],
    ids=["new", "equal", "gone", "moved"],
)
def test_commands_are_the_difference(
    desired: frozenset[Route], announced: frozenset[Route], expected: list[tuple[str, str]]
) -> None:
    assert [(verb, r.prefix) for verb, r in commands(desired, announced)] == expected


def test_routes_cover_every_vip_of_every_service_via_the_next_hop_of_its_family() -> None:
    services = [ServiceRoutes("a", ("10.1.1.1/32",)), ServiceRoutes("b", ("10.1.2.1/32", "2001:db8::1/128"))]
    got = all_routes(services, NextHops(NH, "fd00::11"))
    assert got == {
        Route("10.1.1.1/32", NH),
        Route("10.1.2.1/32", NH),
        Route("2001:db8::1/128", "fd00::11"),
    }
    assert Route("2001:db8::1/128", "fd00::11").announce_command() == (
        "announce route 2001:db8::1/128 next-hop fd00::11"
    )
    # a family without a next-hop: never announced, and said so
    assert all_routes(services, NextHops(NH)) == {Route("10.1.1.1/32", NH), Route("10.1.2.1/32", NH)}
    assert services[1].unroutable(NextHops(NH)) == ("2001:db8::1/128",)
    assert all_routes(services, NextHops(v6="fd00::11")) == {Route("2001:db8::1/128", "fd00::11")}


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("done", Answer.DONE),
        ("error", Answer.ERROR),
        ('{"type": "notification", "notification": "shutdown"}', Answer.SHUTDOWN),
        ('{"type": "state", "neighbor": {}}', Answer.MESSAGE),
        ("{not json", Answer.NOISE),
        ("", Answer.NOISE),
        ("garbage", Answer.NOISE),
    ],
)
def test_classify(line: str, answer: Answer) -> None:
    assert classify(line) is answer


class RecordingChannel:
    """Acks like exabgp; refuses commands for prefixes in ``reject``, leaves those in ``silent``
    unanswered (a timeout)."""

    def __init__(self, reject: set[str] | None = None, silent: set[str] | None = None) -> None:
        self.sent: list[str] = []
        self.reject = reject or set()
        self.silent = silent or set()

    def send(self, command: str, *, timeout: float = 5.0) -> Ack:
        self.sent.append(command)
        prefix = command.split()[2]
        if prefix in self.silent:
            return Ack.TIMEOUT
        return Ack.ERROR if prefix in self.reject else Ack.DONE


def test_rejected_announcement_is_not_counted_as_announced() -> None:
    channel = RecordingChannel(reject={"10.1.2.1/32"})
    announcer = Announcer(channel)
    announcer.converge(routes("10.1.1.1/32", "10.1.2.1/32"))
    assert {r.prefix for r in announcer.announced} == {"10.1.1.1/32"}
    channel.reject.clear()
    announcer.converge(routes("10.1.1.1/32", "10.1.2.1/32"))
    assert channel.sent[-1] == "announce route 10.1.2.1/32 next-hop 10.0.0.11"
    assert len(channel.sent) == 3


def test_an_unanswered_command_is_unknown_so_it_is_withdrawn_if_no_longer_wanted() -> None:
    channel = RecordingChannel(silent={"10.1.2.1/32"})
    announcer = Announcer(channel)
    assert not announcer.converge(routes("10.1.2.1/32", "10.1.3.1/32"))
    # the round stopped at the unanswered command: a late answer must not pass for the next one
    assert channel.sent == ["announce route 10.1.2.1/32 next-hop 10.0.0.11"]
    assert announcer.announced == frozenset() and announcer.maybe_announced == routes("10.1.2.1/32")
    channel.silent.clear()
    # no longer wanted: exabgp may hold it, so it is withdrawn, not forgotten
    assert announcer.converge(routes("10.1.3.1/32"))
    assert channel.sent[1:] == [
        "withdraw route 10.1.2.1/32 next-hop 10.0.0.11",
        "announce route 10.1.3.1/32 next-hop 10.0.0.11",
    ]
    assert announcer.announced == routes("10.1.3.1/32") and announcer.maybe_announced == frozenset()


def test_an_unanswered_command_that_is_still_wanted_is_sent_again() -> None:
    channel = RecordingChannel(silent={"10.1.2.1/32"})
    announcer = Announcer(channel)
    announcer.converge(routes("10.1.2.1/32"))
    channel.silent.clear()
    assert announcer.converge(routes("10.1.2.1/32"))
    assert channel.sent == ["announce route 10.1.2.1/32 next-hop 10.0.0.11"] * 2
    assert announcer.announced == routes("10.1.2.1/32") and announcer.maybe_announced == frozenset()


def test_a_refused_command_leaves_what_exabgp_may_hold_in_doubt() -> None:
    left = routes("10.1.1.1/32")  # a predecessor's
    channel = RecordingChannel(reject={"10.1.1.1/32"})
    announcer = Announcer(channel, maybe_announced=left)
    assert not announcer.converge(frozenset())
    assert announcer.maybe_announced == left  # still to be withdrawn
    channel.reject.clear()
    assert announcer.converge(frozenset())
    assert announcer.maybe_announced == frozenset()
