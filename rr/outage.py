"""When to say that gobgpd is not answering: once when it stops, at most every so often while it
stays away, once when it answers again. Pure: the caller passes the time and logs what it returns.

A manager started against a dead gobgpd used to log every retry (~119 warnings a minute);
an operator needs the state changes, and a reminder that the state holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Say(enum.Enum):
    LOST = "lost"  # the first failure of an outage
    STILL = "still"  # the outage goes on, and ``every`` seconds have passed since we last said so
    BACK = "back"  # the first success after failures


@dataclass(frozen=True)
class Outage:
    since: float | None = None  # when the first failure of this outage happened; None: no outage
    said: float = 0.0  # when we last said something about it
    failures: int = 0

    def seconds(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since


def failed(outage: Outage, now: float, every: float) -> tuple[Outage, Say | None]:
    """One more failure at ``now``; what to say about it, if anything."""
    if outage.since is None:
        return Outage(since=now, said=now, failures=1), Say.LOST
    counted = replace(outage, failures=outage.failures + 1)
    if now - outage.said >= every:
        return replace(counted, said=now), Say.STILL
    return counted, None


def answered(outage: Outage) -> tuple[Outage, Say | None]:
    """A success: the end of the outage, if there was one (read its length before this)."""
    if outage.since is None:
        return outage, None
    return Outage(), Say.BACK
