"""Which routes this pod should announce, and the exabgp commands that get there. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .health import HealthState, Phase

# RFC 8326: a route about to be withdrawn; a make-before-break drain marks its routes with it
GRACEFUL_SHUTDOWN = "65535:0"


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
class NextHops:
    """The node's addresses, one per family: a VIP is announced via the one of its own family.

    exabgp takes an IPv6 next-hop for an IPv4 route (and the reverse) without a word, and
    the router cannot use either, so a VIP whose family has no next-hop is never announced.
    """

    v4: str | None = None
    v6: str | None = None

    def for_prefix(self, prefix: str) -> str | None:
        return self.v6 if ipaddress.ip_network(prefix).version == 6 else self.v4


@dataclass(frozen=True)
class ServiceRoutes:
    """One service's VIPs and the attributes every one of its routes carries.

    Built once per service from its config (``ServiceConfig.routes``); a Kubernetes update
    replaces ``vips``. ``vips`` is None while a Kubernetes-sourced service has never been
    listed: nothing is known, so nothing is decided.
    """

    name: str
    vips: tuple[str, ...] | None
    communities: tuple[str, ...] = ()
    med: int | None = None
    local_preference: int | None = None

    def routes(self, next_hops: NextHops) -> frozenset[Route]:
        """A route for every VIP that has a next-hop of its family."""
        out = set()
        for vip in self.vips or ():
            next_hop = next_hops.for_prefix(vip)
            if next_hop is not None:
                out.add(Route(vip, next_hop, self.communities, self.med, self.local_preference))
        return frozenset(out)

    def unroutable(self, next_hops: NextHops) -> tuple[str, ...]:
        """The VIPs no next-hop fits (their family has none): never announced."""
        return tuple(vip for vip in self.vips or () if next_hops.for_prefix(vip) is None)


@dataclass(frozen=True)
class ServiceView:
    """All that is known about one service at one moment.

    ``ready_endpoints`` is None when the endpoint gate is off or the count is unknown
    (fail static: an unknown count never withdraws).
    """

    routes: ServiceRoutes
    health: HealthState = field(default_factory=HealthState)
    ready_endpoints: int | None = None

    @property
    def wanted(self) -> bool:
        return self.health.phase is Phase.UP and self.ready_endpoints != 0


def all_routes(services: Iterable[ServiceRoutes], next_hops: NextHops) -> frozenset[Route]:
    """Every route the services could announce, whatever their health."""
    return frozenset(route for service in services for route in service.routes(next_hops))


def decide(views: Iterable[ServiceView], next_hops: NextHops) -> tuple[frozenset[Route], frozenset[str]]:
    """(routes to announce, prefixes on hold). A service still in INIT is on hold: neither
    announced nor withdrawn, so whatever exabgp already holds for it stays until decided."""
    desired: set[Route] = set()
    hold: set[str] = set()
    for view in views:
        if view.routes.vips is None:
            continue
        if view.health.phase is Phase.INIT:
            hold.update(view.routes.vips)
        elif view.wanted:
            desired |= view.routes.routes(next_hops)
    return frozenset(desired), frozenset(hold)


def marked(routes: frozenset[Route]) -> frozenset[Route]:
    """The routes with GRACEFUL_SHUTDOWN added to their communities (once)."""
    return frozenset(
        replace(r, communities=(*r.communities, GRACEFUL_SHUTDOWN))
        if GRACEFUL_SHUTDOWN not in r.communities
        else r
        for r in routes
    )


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
    exabgp may hold without having said so (a previous announcer instance's, or a command
    that got no answer): withdrawn explicitly if not desired; exabgp drops a repeated
    identical announcement and answers ``done`` to the withdrawal of a route it does not
    hold, so both are safe to send again. Prefixes on ``hold`` are left alone.
    """
    keep = {r.prefix for r in desired} | hold
    out: list[tuple[str, Route]] = [
        ("withdraw", r) for r in sorted((announced | maybe_announced) - desired) if r.prefix not in keep
    ]
    out += [("announce", r) for r in sorted(desired - announced)]
    return out
