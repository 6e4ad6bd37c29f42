"""The rr manager's Prometheus metrics, on a registry of its own, served on one named address.

Session state and prefix counts come from the sessions the adapter lists (``Session``, the
same type ``lbroute peers`` prints), read after every reconcile and every event burst:
``received`` is what the speaker sent, ``accepted`` what passed the import policy into the
RIB, and the difference is what the guard rails rejected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from lbroute.config.types import is_wildcard
from lbroute.core.session import Session


@dataclass
class RrMetrics:
    registry: CollectorRegistry
    session_up: Gauge
    prefixes: Gauge
    rejected: Gauge
    reconcile_runs: Counter
    reconcile_errors: Counter
    reconcile_seconds: Histogram
    config_stale: Gauge
    daemon_restarts: Counter
    max_prefix_shutdowns: Counter
    damped: Gauge
    global_settings_differ: Gauge
    bfd_up: Gauge

    @classmethod
    def create(cls) -> RrMetrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
            session_up=Gauge(
                "lbroute_rr_session_up",
                "1 when the BGP session is established",
                ["peer", "group"],
                registry=r,
            ),
            prefixes=Gauge(
                "lbroute_rr_prefixes",
                "prefixes per peer: received, accepted (passed the import policy), rejected, "
                "stale (kept while the peer restarts, under graceful restart)",
                ["peer", "group", "kind"],
                registry=r,
            ),
            rejected=Gauge(
                "lbroute_rr_rejected_prefixes",
                "paths per peer the guard rails reject, by reason (lbroute.core.guard.REASONS)",
                ["peer", "group", "reason"],
                registry=r,
            ),
            reconcile_runs=Counter("lbroute_rr_reconcile_runs", "reconcile passes finished", registry=r),
            reconcile_errors=Counter(
                "lbroute_rr_reconcile_errors", "reconcile passes that failed", ["kind"], registry=r
            ),
            reconcile_seconds=Histogram(
                "lbroute_rr_reconcile_seconds",
                "time of one reconcile pass (observe, plan, apply)",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=r,
            ),
            config_stale=Gauge(
                "lbroute_rr_config_stale",
                "1 while gobgpd may not hold the desired configuration (a change or failure not yet applied)",
                registry=r,
            ),
            daemon_restarts=Counter(
                "lbroute_rr_daemon_reconnects",
                "times gobgpd answered again after the connection dropped",
                registry=r,
            ),
            max_prefix_shutdowns=Counter(
                "lbroute_rr_max_prefix_shutdowns",
                "sessions gobgpd ended because the peer sent more prefixes than max_prefixes",
                ["peer"],
                registry=r,
            ),
            damped=Gauge(
                "lbroute_rr_damped_seconds",
                "how long a speaker that went over max_prefixes is held down (0: not held); doubles "
                "with each shutdown in a series, up to 900 s",
                ["peer"],
                registry=r,
            ),
            global_settings_differ=Gauge(
                "lbroute_rr_global_settings_differ",
                "1 per global setting gobgpd runs with other than the config's: nothing is applied "
                "until gobgpd is restarted",
                ["field"],
                registry=r,
            ),
            bfd_up=Gauge(
                "lbroute_rr_bfd_up",
                "1 when the BFD session with the peer is up, 0 while it is down or starting; "
                "only peers with BFD have a series",
                ["peer", "group"],
                registry=r,
            ),
        )

    def record_sessions(self, sessions: list[Session]) -> None:
        """Replace the per-peer series: peers that are gone drop out instead of lingering."""
        self.session_up.clear()
        self.prefixes.clear()
        self.bfd_up.clear()
        self.rejected.clear()
        for s in sessions:
            for reason, count in s.rejected_by:
                self.rejected.labels(s.neighbor, s.group, reason).set(count)
            self.session_up.labels(s.neighbor, s.group).set(1 if s.established else 0)
            self.prefixes.labels(s.neighbor, s.group, "received").set(s.received)
            self.prefixes.labels(s.neighbor, s.group, "accepted").set(s.accepted)
            self.prefixes.labels(s.neighbor, s.group, "rejected").set(s.rejected)
            self.prefixes.labels(s.neighbor, s.group, "stale").set(s.stale)
            if s.bfd:
                self.bfd_up.labels(s.neighbor, s.group).set(1 if s.bfd_up else 0)


def serve(metrics: RrMetrics, address: str) -> None:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread (the config never allows a wildcard).

    Raises ``OSError`` when the address cannot be bound (in use, not on this host).
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    assert not is_wildcard(ipaddress.ip_address(host)), "config validation lets no wildcard address by"
    start_http_server(int(port), addr=host, registry=metrics.registry)
