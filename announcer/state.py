"""Which routes this pod should announce, and the exabgp commands that get there. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .health import HealthState, Phase


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


@dataclass(frozen=True)
class ServiceView:
    """All that is known about one service at one moment.

    ``vips`` is None while a Kubernetes-sourced service has never been listed (nothing is
    known, so nothing is decided); ``ready_endpoints`` is None when the endpoint gate is off
    or the count is unknown (fail static: an unknown count never withdraws).
    """

    routes: ServiceRoutes
    health: HealthState
    vips: tuple[str, ...] | None
    ready_endpoints: int | None = None

    @property
    def wanted(self) -> bool:
        return self.health.phase is Phase.UP and self.ready_endpoints != 0


def decide(views: Iterable[ServiceView], next_hop: str) -> tuple[frozenset[Route], frozenset[str]]:
    """(routes to announce, prefixes on hold). A service still in INIT is on hold: neither
    announced nor withdrawn, so whatever exabgp already holds for it stays until decided."""
    desired: set[Route] = set()
    hold: set[str] = set()
    for view in views:
        if view.vips is None:
            continue
        service = ServiceRoutes(
            view.routes.name,
            view.vips,
            view.routes.communities,
            view.routes.med,
            view.routes.local_preference,
        )
        if view.health.phase is Phase.INIT:
            hold.update(view.vips)
        elif view.wanted:
            desired |= desired_routes([service], next_hop)
    return frozenset(desired), frozenset(hold)


def commands(
    desired: frozenset[Route],
    announced: frozenset[Route],
    *,
    maybe_announced: frozenset[Route] = frozenset(),
    hold: frozenset[str] = frozenset(),
) -> list[tuple[str, Route]]:
    """Withdrawals first, then announcements; nothing for what is equal.

    A prefix that stays but changes next-hop or attributes is re-announced, not withdrawn:
    the new announcement replaces the old path without a gap. ``maybe_announced`` are routes
    a previous announcer instance may have left in exabgp (withdrawn explicitly if not
    desired; exabgp drops a repeated identical announcement, so re-announcing is free).
    Prefixes on ``hold`` are left alone.
    """
    keep = {r.prefix for r in desired} | hold
    out: list[tuple[str, Route]] = [
        ("withdraw", r) for r in sorted((announced | maybe_announced) - desired) if r.prefix not in keep
    ]
    out += [("announce", r) for r in sorted(desired - announced)]
    return out
