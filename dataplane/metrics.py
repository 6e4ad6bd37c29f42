"""``lbroute-dataplane``'s Prometheus metrics, on a registry of its own, served on one named
address (the config allows no wildcard)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from lbroute.config.types import is_wildcard
from lbroute.core.dataplane import Dataplane


@dataclass
class DataplaneMetrics:
    registry: CollectorRegistry
    backends: Gauge
    generation: Gauge
    in_sync: Gauge
    synced: Gauge
    loads: Counter
    load_errors: Counter
    input_errors: Counter
    buckets_moved: Counter
    config_reloads: Counter
    reconcile_seconds: Histogram

    @classmethod
    def create(cls) -> DataplaneMetrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
            backends=Gauge(
                "lbroute_dataplane_backends",
                "backends per service: ready (in the table), draining (serving, terminating: flows kept)",
                ["service", "state"],
                registry=r,
            ),
            generation=Gauge("lbroute_dataplane_table_generation", "tables loaded since start", registry=r),
            in_sync=Gauge(
                "lbroute_dataplane_in_sync",
                "1 when the kernel holds the table the controller stands behind",
                registry=r,
            ),
            synced=Gauge(
                "lbroute_dataplane_synced", "1 when every backend source has listed and watches", registry=r
            ),
            loads=Counter(
                "lbroute_dataplane_loads", "transactions loaded into the kernel", ["how"], registry=r
            ),
            load_errors=Counter(
                "lbroute_dataplane_load_errors",
                "tables the kernel refused (the last good one stayed)",
                registry=r,
            ),
            input_errors=Counter(
                "lbroute_dataplane_input_errors",
                "bad input: an EndpointSlice refused (garbage, outside the pod networks, wrong port) "
                "or a service left with no ready backend",
                ["kind"],
                registry=r,
            ),
            buckets_moved=Counter(
                "lbroute_dataplane_buckets_moved",
                "Maglev buckets that changed backend",
                ["service"],
                registry=r,
            ),
            config_reloads=Counter(
                "lbroute_dataplane_config_reloads",
                "SIGHUP reloads: applied or refused",
                ["result"],
                registry=r,
            ),
            reconcile_seconds=Histogram(
                "lbroute_dataplane_reconcile_seconds",
                "one reconcile: desired state, read the kernel, load, read back",
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                registry=r,
            ),
        )

    def record(self, dp: Dataplane) -> None:
        self.backends.clear()
        for t in dp.tables:
            self.backends.labels(t.spec.name, "ready").set(len(t.backends))
            self.backends.labels(t.spec.name, "draining").set(len(t.draining))


def serve(metrics: DataplaneMetrics, address: str, port: int) -> None:
    """``/metrics`` on ``address:port`` in a daemon thread; ``OSError`` when it cannot bind."""
    assert not is_wildcard(ipaddress.ip_address(address)), "config validation lets no wildcard address by"
    start_http_server(port, addr=address, registry=metrics.registry)
