"""The announcer's Prometheus metrics, served on the configured address (never a wildcard:
the config refuses 0.0.0.0, :: and ::ffff:0.0.0.0).

prometheus_client (about 4 MB of the announcer's RSS, with http.server and email) is imported
only when metrics are on: ``serve`` (or ``enable``) builds the real registry; until then every
metric is a no-op that nobody could read anyway. Callers name them at the point of use
(``metrics.CHECKS.labels(...).inc()``), so they see whichever is in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .health import Phase
from .state import Route


class _Unserved:
    """A metric while metrics are off: takes every update, keeps nothing."""

    def labels(self, **_labels: str) -> _Unserved:
        return self

    def inc(self, _amount: float = 1) -> None:
        pass

    def set(self, _value: float) -> None:
        pass

    def observe(self, _value: float) -> None:
        pass

    def remove(self, *_labels: str) -> None:
        pass


REGISTRY: Any = None
VIP_ANNOUNCED: Any = _Unserved()
SERVICE_PHASE: Any = _Unserved()
CHECKS: Any = _Unserved()
CHECK_SECONDS: Any = _Unserved()
COMMANDS: Any = _Unserved()
ACKS: Any = _Unserved()
UNEXPECTED: Any = _Unserved()
KUBE_SYNCED: Any = _Unserved()


def enable() -> None:
    """The real metrics, in ``REGISTRY``; once (a second call changes nothing)."""
    global REGISTRY, VIP_ANNOUNCED, SERVICE_PHASE, CHECKS, CHECK_SECONDS, COMMANDS, ACKS, UNEXPECTED
    global KUBE_SYNCED
    if REGISTRY is not None:
        return
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    VIP_ANNOUNCED = Gauge(
        "lbroute_announcer_vip_announced", "1 while exabgp has acknowledged this VIP's announcement",
        ["service", "prefix"], registry=registry,
    )  # fmt: skip
    SERVICE_PHASE = Gauge(
        "lbroute_announcer_service_phase", "1 for the service's current health phase",
        ["service", "phase"], registry=registry,
    )  # fmt: skip
    CHECKS = Counter(
        "lbroute_announcer_checks", "health check results", ["service", "result"], registry=registry
    )
    CHECK_SECONDS = Histogram(
        "lbroute_announcer_check_seconds", "health check latency", ["service"], registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )  # fmt: skip
    COMMANDS = Counter("lbroute_announcer_commands", "API commands sent to exabgp", ["op"], registry=registry)
    ACKS = Counter(
        "lbroute_announcer_acks", "exabgp's answers: done, error or timeout", ["answer"], registry=registry
    )
    UNEXPECTED = Counter(
        "lbroute_announcer_unexpected_lines", "lines from exabgp that answered nothing", registry=registry
    )
    KUBE_SYNCED = Gauge(
        "lbroute_announcer_kube_synced", "1 while the Kubernetes watches are live, 0 while stale",
        registry=registry,
    )  # fmt: skip
    REGISTRY = registry


def set_phase(service: str, phase: Phase) -> None:
    for p in Phase:
        SERVICE_PHASE.labels(service=service, phase=p.value).set(1 if p is phase else 0)


class MetricsError(Exception):
    """The metrics listener cannot start (the port is taken, the address is not ours)."""


def serve(address: str, port: int) -> None:
    enable()
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=address, registry=REGISTRY)
    except OSError as err:
        where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        raise MetricsError(f"cannot listen on {where}: {err.strerror or err}") from None


_exported: set[tuple[str, str]] = set()


def export_vips(vips: Iterable[tuple[str, str]], announced: Iterable[Route]) -> None:
    """``(service, prefix)`` for every VIP now known: 1 where exabgp acknowledged it, else 0;
    the gauge of a VIP a Service no longer has is removed."""
    held = {r.prefix for r in announced}
    exported = set()
    for service, prefix in vips:
        VIP_ANNOUNCED.labels(service=service, prefix=prefix).set(1 if prefix in held else 0)
        exported.add((service, prefix))
    for service, prefix in _exported - exported:
        VIP_ANNOUNCED.remove(service, prefix)
    _exported.clear()
    _exported.update(exported)
