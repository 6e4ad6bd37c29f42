"""Where each service's backends come from: its config (static) or its EndpointSlices, watched
through ``lbroute.kube``'s informer. Shared by ``lbroute-dataplane`` and ``lbroute-realserver``.

Fail static: while a watch fails the informer keeps its last snapshot, and a service whose
first list is not in yet reports ``None`` (unknown), never ``[]`` (nothing there). A slice
that cannot be used is refused whole and its last good version stands (``endpoints``);
each refusal is reported once per new version of the slice.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any

import structlog

from lbroute.core.dataplane import Endpoint
from lbroute.kube.informer import Informer, KubeConfigError, Objects, Resource, api_client

from . import endpoints
from .config import CommonConfig, ServiceConfig
from .desired import static_endpoints

log = structlog.get_logger()

__all__ = ["KubeConfigError", "Sources"]

Problem = endpoints.SliceProblem


class Sources:
    def __init__(
        self,
        cfg: CommonConfig,
        on_change: Callable[[], None],
        on_problem: Callable[[Problem], None],
        *,
        watch_timeout: int = 60,
    ) -> None:
        self._lock = threading.Lock()
        self._networks = [ipaddress.ip_network(n) for n in cfg.pod_networks]
        self._services = {s.name: s for s in cfg.services}
        self._good: dict[str, dict[str, list[Endpoint]]] = {}
        self._listed: dict[str, list[Endpoint]] = {}
        self._reported: set[tuple[str, str, str]] = set()
        self.on_change = on_change
        self.on_problem = on_problem
        self.informers: dict[str, Informer] = {}
        if cfg.uses_kubernetes:
            kube = cfg.kubernetes
            api = api_client(kube.server if kube else None, kube.kubeconfig if kube else None)
            for s in cfg.services:
                if s.kubernetes is None:
                    continue
                resource = Resource(
                    "endpointslices",
                    s.kubernetes.namespace,
                    label_selector=f"kubernetes.io/service-name={s.kubernetes.service}",
                )
                self.informers[s.name] = Informer(
                    api,
                    resource,
                    self._on_snapshot(s.name),
                    on_sync_change=lambda _ok: self.on_change(),
                    watch_timeout=watch_timeout,
                )

    def reconfigure(self, cfg: CommonConfig) -> None:
        """Services' static backends and ports from a reloaded config (the watches stay)."""
        with self._lock:
            self._services = {s.name: s for s in cfg.services}

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    @property
    def listed(self) -> bool:
        """Every watched service listed at least once (static ones always are)."""
        with self._lock:
            return all(name in self._listed for name in self.informers)

    @property
    def stale(self) -> bool:
        """A watch is failing right now: its last list stands (fail static)."""
        return not all(i.synced for i in self.informers.values())

    def endpoints(self, service: ServiceConfig) -> list[Endpoint] | None:
        static = static_endpoints(service)
        if static is not None:
            return static
        with self._lock:
            listed = self._listed.get(service.name)
            return list(listed) if listed is not None else None

    def _on_snapshot(self, name: str) -> Callable[[Objects], None]:
        return lambda objects: self._snapshot(name, objects)

    def _snapshot(self, name: str, objects: Objects) -> None:
        service = self._services[name]
        assert service.kubernetes is not None
        target = service.target_port or service.port
        with self._lock:
            by_slice, problems = endpoints.backends(
                objects, self._good.get(name, {}), self._networks, target, service.kubernetes.port_name
            )
            self._good[name] = by_slice
            self._listed[name] = endpoints.merged(by_slice)
            versions = {k: _version(objects[k]) for k in objects}
            fresh = []
            for p in problems:
                key = (p.slice, versions.get(p.slice, ""), p.what)
                if key not in self._reported:
                    self._reported.add(key)
                    fresh.append(p)
        for p in fresh:
            self.on_problem(p)
        self.on_change()


def _version(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return str(meta.get("resourceVersion", "")) if isinstance(meta, dict) else ""
