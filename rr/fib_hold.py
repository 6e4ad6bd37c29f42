"""When the resilient FIB writer leaves the kernel as it is (fail static), and when it lets go.
Pure: the caller passes the time and what it knows of gobgpd, and logs what it returns.

A restarted gobgpd starts with an empty RIB and fills it as its sessions come up and the
RRs send their tables. Writing the FIB from that would take next-hops out of groups and put
them back, and every move costs connections. So the writer holds the kernel as it is while
gobgpd does not answer, and after it answers again (or the manager starts) until the RIB is
*learned*: some session has been established for ``settle`` seconds. A hold that lasts
``limit`` seconds is released: from then on the FIB follows whatever gobgpd says, or, with
no gobgpd answering, our routes go (as zebra's go when its gobgpd is gone).
docs/decisions/resilient-fib.md.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from lbroute.core.session import Session


class Verdict(enum.Enum):
    WRITE = "write"  # the RIB is learned: the FIB follows it
    HOLD = "hold"  # leave the kernel as it is
    RELEASE = "release"  # held too long: follow what is known, even if it is nothing


class Say(enum.Enum):
    STARTED = "started"
    ENDED = "ended"  # the RIB was learned: holding is over
    RELEASED = "released"  # the limit ran out before it was


@dataclass(frozen=True)
class Hold:
    since: float | None = None  # when this hold began; None: not holding
    released: bool = False

    def seconds(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since


def learned(sessions: Iterable[Session], now: float, settle: float) -> bool:
    """Some session has been up ``settle`` seconds: what its neighbor had, gobgpd has
    (``now`` in epoch seconds, as gobgpd's uptimes are)."""
    for s in sessions:
        age = s.age(now)
        if s.established and age is not None and age >= settle:
            return True
    return False


def decide(hold: Hold, whole: bool, now: float, limit: float) -> tuple[Hold, Verdict, Say | None]:
    """``whole``: gobgpd answers and its RIB is learned."""
    if whole:
        return Hold(), Verdict.WRITE, Say.ENDED if hold.since is not None else None
    if hold.since is None:
        return Hold(since=now), Verdict.HOLD, Say.STARTED
    if hold.released:
        return hold, Verdict.RELEASE, None
    if now - hold.since >= limit:
        return Hold(hold.since, released=True), Verdict.RELEASE, Say.RELEASED
    return hold, Verdict.HOLD, None


def due(hold: Hold, limit: float) -> float | None:
    """When a hold runs out (the writer looks again then), if one is on."""
    if hold.since is None or hold.released:
        return None
    return hold.since + limit
