"""Damping a speaker that keeps going over its max-prefix limit. Pure: the caller passes the time.

gobgpd ends the session of a speaker that sends more prefixes than ``max_prefixes`` allows,
and a dynamic neighbor is back ~40 ms later, to be cut off again, for ever (measured with
gobgpd 4.8): each cycle its first routes may reach the router's FIB and leave it again. A
damped speaker is held down instead: its address becomes an explicit peer in admin state
down, which gobgpd refuses connections from, for ``first`` seconds after a shutdown; each
shutdown within ``forget_after`` of the last doubles that, up to ``most``. When the time is
over the speaker may connect again: fixed, it stays; still over the limit, it is cut off
and held down for longer. See docs/decisions/guard-rails.md ("Max-prefix").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Damping:
    first: float = 30.0
    most: float = 900.0
    forget_after: float = 1800.0  # a shutdown this long after the last starts over at ``first``


@dataclass(frozen=True)
class Damped:
    until: float  # held down until then
    period: float  # how long this hold is
    shutdowns: int  # max-prefix shutdowns in the current series


State = Mapping[str, Damped]


def record(state: State, address: str, now: float, rules: Damping = Damping()) -> dict[str, Damped]:
    """The state after a max-prefix shutdown of ``address`` at ``now``. A shutdown while the
    speaker is held down (gobgpd reporting one it had already made) changes nothing."""
    out = dict(state)
    old = state.get(address)
    if old is not None and now < old.until:
        return out
    if old is not None and now - old.until < rules.forget_after:
        period, shutdowns = min(old.period * 2, rules.most), old.shutdowns + 1
    else:
        period, shutdowns = rules.first, 1
    out[address] = Damped(now + period, period, shutdowns)
    return out


def held(state: State, now: float) -> frozenset[str]:
    """The addresses held down at ``now``."""
    return frozenset(a for a, d in state.items() if now < d.until)
