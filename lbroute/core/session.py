"""BGP sessions at each daemon: state, age, prefix counters. One type for the CLI and the rr manager. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .rib import address_order

ESTABLISHED = "ESTABLISHED"
BFD_UP = "UP"


@dataclass(frozen=True)
class Session:
    """One BGP session at one gobgpd (``at`` names the daemon: "rr", "rr2", "router").

    ``accepted`` counts the neighbor's paths that passed the import policy and sit in the
    daemon's RIB. gobgpd's own ``accepted`` counter ignores the global RIB's import policy
    (docs/decisions/rr-guard-rails.md), so the adapter counts them in the RIB instead, and
    ``rejected`` is what the guard rails kept out.
    """

    at: str
    neighbor: str
    peer_asn: int
    state: str  # IDLE, CONNECT, ACTIVE, OPENSENT, OPENCONFIRM, ESTABLISHED
    since: float | None  # epoch seconds the session came up (or went down when not established)
    received: int  # prefixes (paths) received, summed over the session's address families
    accepted: int  # of those, in the RIB: passed the import policy
    advertised: int | None  # paths sent to the neighbor; None when not asked for (costly at gobgpd)
    hold_time: int  # negotiated; 0 before the OPEN exchange
    peer_group: str = ""
    description: str = ""
    admin_down: bool = False
    max_prefix_shutdown: bool = False  # down because it sent more than max_prefixes
    graceful_restart: str = ""  # "" off, "on" (both ways), "helper" (keeps the neighbor's paths only)
    stale: int = 0  # paths kept, stale, while the neighbor restarts (graceful restart)
    bfd: str = ""  # "" no BFD; else UP, DOWN, INIT or ADMIN_DOWN: gobgpd's BFD session with the neighbor
    # (reason, paths) the guard rails rejected, in core.guard.REASONS order; () when none or unread
    rejected_by: tuple[tuple[str, int], ...] = ()

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED

    @property
    def bfd_up(self) -> bool:
        return self.bfd == BFD_UP

    @property
    def rejected(self) -> int:
        return max(self.received - self.accepted, 0)

    @property
    def group(self) -> str:
        """The peer group, else our description's role (``lbroute:rr``): what metrics label it with."""
        return self.peer_group or self.description

    def age(self, now: float) -> float | None:
        """Seconds in the current state (up or down), or None when gobgpd does not know."""
        if self.since is None:
            return None
        return max(now - self.since, 0.0)


def sessions_order(sessions: Iterable[Session], daemons: Iterable[str]) -> list[Session]:
    """Grouped by daemon in the order given, then by neighbor address."""
    rank = {name: i for i, name in enumerate(daemons)}
    return sorted(sessions, key=lambda s: (rank.get(s.at, len(rank)), address_order(s.neighbor)))
