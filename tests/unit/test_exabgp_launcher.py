"""The exabgp launcher's one change, against a peer that keeps its backoff the way exabgp 4.2 does."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from announcer.exabgp_launcher import reset_backoff_when_established


class Delay:
    """exabgp 4.2's schedule: each failure waits longer (0, 1, 2, 3, 4, 5, 7, ... 60 s)."""

    def __init__(self) -> None:
        self.next = 0

    def reset(self) -> None:
        self.next = 0

    def increase(self) -> int:
        wait, self.next = self.next, min(int(1 + self.next * 1.2), 60)
        return wait


class Peer:
    def __init__(self) -> None:
        self._delay = Delay()

    def _main(self) -> Generator[str, None, str]:
        yield "keepalive"
        yield "update"
        return "session over"

    def session(self) -> tuple[list[str], str]:
        """The session comes up, runs, drops; returns what it yielded and returned."""
        main = self._main()
        actions = []
        try:
            while True:
                actions.append(next(main))
        except StopIteration as stop:
            return actions, stop.value


def waits(peer: Peer, failures: int) -> list[int]:
    return [peer._delay.increase() for _ in range(failures)]


def test_without_the_launcher_every_session_drop_waits_longer() -> None:
    peer = Peer()
    assert waits(peer, 3) == [0, 1, 2]  # the RR is down for three attempts
    peer.session()
    assert waits(peer, 3) == [3, 4, 5]  # the next restart starts where the last one ended


def test_with_the_launcher_a_session_that_came_up_starts_the_schedule_over() -> None:
    cls: Any = type("PatchedPeer", (Peer,), {})
    reset_backoff_when_established(cls)
    reset_backoff_when_established(cls)  # twice is once
    peer = cls()
    assert waits(peer, 3) == [0, 1, 2]
    actions, result = peer.session()
    assert (actions, result) == (["keepalive", "update"], "session over")  # exabgp's loop unchanged
    assert waits(peer, 3) == [0, 1, 2]
