"""What gobgpd's event stream reports (one vocabulary for the rr manager and ``lbroute watch``),
and the changes ``watch`` prints from it. Pure.

gobgpd's WatchEvent says *that* something changed, not always *what* (with multipath gobgpd
4.8's BEST event carries only the path that came or went, not the set the prefix now has;
3.36's carried the set, every path best=False), so a table event is
taken as "these prefixes changed": ``watch`` re-reads them, the rr manager logs them and
refreshes its metrics. The functions here turn those observations into changes worth a
line: nothing is reported twice.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import NamedTuple

from .rib import Path, address_order
from .session import ESTABLISHED


@dataclass(frozen=True)
class SessionReport:
    """A session's state as a watch stream reported it."""

    neighbor: str
    state: str
    initial: bool = False  # part of the snapshot gobgpd sends when a watch starts
    # gobgpd ended the session: the neighbor sent more prefixes than max_prefixes allows
    max_prefix_shutdown: bool = False

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED


@dataclass(frozen=True)
class SnapshotDone:
    """gobgpd finished the start-of-watch snapshot: what follows is live."""


class TouchedPath(NamedTuple):
    """One path named by a table event. Its next-hop is left out on purpose: with multipath the
    event's paths do not say what the daemon now holds (re-read the prefix for that)."""

    prefix: str
    source: str  # the peer it came from; "" for a local path
    withdrawn: bool


@dataclass(frozen=True)
class PrefixesTouched:
    """A table event: paths of these prefixes came or went (re-read them to learn how)."""

    paths: tuple[TouchedPath, ...]

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Each prefix once, in the event's order."""
        return tuple(dict.fromkeys(p.prefix for p in self.paths))


WatchReport = SessionReport | SnapshotDone | PrefixesTouched


@dataclass(frozen=True)
class SessionChange:
    time: float  # epoch seconds when lbroute received the report
    at: str
    neighbor: str
    state: str
    previous: str | None  # None: the session was not known before (a new dynamic neighbor)


@dataclass(frozen=True)
class PathChange:
    time: float
    at: str
    prefix: str
    next_hops: tuple[str, ...]  # in address order; empty when the prefix is gone
    paths: int


Change = SessionChange | PathChange


def session_change(
    known: MutableMapping[str, str], at: str, report: SessionReport, now: float
) -> SessionChange | None:
    """Record ``report`` in ``known`` (neighbor -> state); a change when it is live news."""
    previous = known.get(report.neighbor)
    known[report.neighbor] = report.state
    if report.initial or previous == report.state:
        return None
    return SessionChange(now, at, report.neighbor, report.state, previous)


def path_change(
    known: MutableMapping[str, tuple[tuple[str, ...], int]],
    at: str,
    prefix: str,
    paths: Iterable[Path],
    now: float,
) -> PathChange | None:
    """Record a re-read prefix in ``known``; a change unless it equals what was last reported.

    A burst of events for one prefix re-reads it several times; only the first re-read
    that shows a new state is worth a line.
    """
    held = [p for p in paths if p.prefix == prefix]
    hops = tuple(sorted({p.next_hop for p in held}, key=address_order))
    state = (hops, len(held))
    if known.get(prefix) == state:
        return None
    known[prefix] = state
    return PathChange(now, at, prefix, hops, len(held))
