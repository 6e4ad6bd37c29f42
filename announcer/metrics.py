"""The announcer's Prometheus metrics, served on the configured address (never a wildcard:
the config refuses 0.0.0.0, :: and ::ffff:0.0.0.0)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .health import Phase
from .state import Route

REGISTRY = CollectorRegistry()

VIP_ANNOUNCED = Gauge(
    "lbroute_announcer_vip_announced", "1 while exabgp has acknowledged this VIP's announcement",
    ["service", "prefix"], registry=REGISTRY,
)  # fmt: skip
SERVICE_PHASE = Gauge(
    "lbroute_announcer_service_phase", "1 for the service's current health phase",
    ["service", "phase"], registry=REGISTRY,
)  # fmt: skip
CHECKS = Counter("lbroute_announcer_checks", "health check results", ["service", "result"], registry=REGISTRY)
CHECK_SECONDS = Histogram(
    "lbroute_announcer_check_seconds", "health check latency", ["service"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)  # fmt: skip
COMMANDS = Counter("lbroute_announcer_commands", "API commands sent to exabgp", ["op"], registry=REGISTRY)
ACKS = Counter(
    "lbroute_announcer_acks", "exabgp's answers: done, error or timeout", ["answer"], registry=REGISTRY
)
UNEXPECTED = Counter(
    "lbroute_announcer_unexpected_lines", "lines from exabgp that answered nothing", registry=REGISTRY
)
KUBE_SYNCED = Gauge(
    "lbroute_announcer_kube_synced", "1 while the Kubernetes watches are live, 0 while stale",
    registry=REGISTRY,
)  # fmt: skip


def set_phase(service: str, phase: Phase) -> None:
    for p in Phase:
        SERVICE_PHASE.labels(service=service, phase=p.value).set(1 if p is phase else 0)


class MetricsError(Exception):
    """The metrics listener cannot start (the port is taken, the address is not ours)."""


def serve(address: str, port: int) -> None:
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
