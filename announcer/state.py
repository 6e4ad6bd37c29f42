"""Which routes this pod should announce, and the exabgp commands that get there. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Route:
    prefix: str
    next_hop: str
    communities: tuple[str, ...] = ()
    med: int | None = None
    local_preference: int | None = None

    def announce_command(self) -> str:
        parts = [f"announce route {self.prefix} next-hop {self.next_hop}"]
        if self.med is not None:
            parts.append(f"med {self.med}")
        if self.local_preference is not None:
            parts.append(f"local-preference {self.local_preference}")
        if self.communities:
            parts.append(f"community [{' '.join(self.communities)}]")
        return " ".join(parts)

    def withdraw_command(self) -> str:
        return f"withdraw route {self.prefix} next-hop {self.next_hop}"


@dataclass(frozen=True)
class ServiceRoutes:
    name: str
    vips: tuple[str, ...]
    communities: tuple[str, ...] = ()
    med: int | None = None
    local_preference: int | None = None


def desired_routes(services: Iterable[ServiceRoutes], next_hop: str) -> frozenset[Route]:
    return frozenset(
        Route(vip, next_hop, s.communities, s.med, s.local_preference) for s in services for vip in s.vips
    )


def commands(desired: frozenset[Route], announced: frozenset[Route]) -> list[tuple[str, Route]]:
    """Withdrawals first, then announcements; nothing for what is equal.

    A prefix that stays but changes next-hop or attributes is re-announced, not withdrawn:
    the new announcement replaces the old path without a gap.
    """
    keep = {r.prefix for r in desired}
    out: list[tuple[str, Route]] = [
        ("withdraw", r) for r in sorted(announced - desired) if r.prefix not in keep
    ]
    out += [("announce", r) for r in sorted(desired - announced)]
    return out
