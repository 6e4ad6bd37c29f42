"""Kubernetes mode: one Service and its EndpointSlices per configured service, as KubeUpdates.

Only ``lbroute.kube`` talks to the API server. Fail static: while the watches are down
the informers keep their last snapshot and deliver nothing new, so what was announced
stays announced; nothing here ever turns "cannot see" into "nothing there".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import structlog

from lbroute.kube.informer import Informer, Objects, Resource, api_client

from . import metrics
from .config import AnnouncerConfig
from .kube_view import KubeUpdate, ready_endpoints, service_vips

log = structlog.get_logger()
_MALFORMED = "a field of the wrong type (not what the API defines); the last one read stands"


class Stoppable(Protocol):
    def stop(self) -> None: ...


def start_informers(
    cfg: AnnouncerConfig,
    put: Callable[[Any], None],
    *,
    sleep: Callable[[float], None] | None = None,
    watch_timeout: int = 60,
) -> list[Stoppable]:
    """One informer per Service (and per EndpointSlice set when gated); ``sleep`` waits out
    each back-off (tests pass a fake clock's), ``watch_timeout`` is each watch's length."""
    kube = cfg.kubernetes
    api = api_client(kube.server if kube else None, kube.kubeconfig if kube else None)
    informers: list[Informer] = []
    synced: dict[int, bool] = {}

    def on_sync(index: int) -> Callable[[bool], None]:
        def change(ok: bool) -> None:
            synced[index] = ok
            metrics.KUBE_SYNCED.set(1 if all(synced.values()) else 0)

        return change

    for service in cfg.services:
        ks = service.kubernetes
        if ks is None:
            continue
        name = service.name

        def on_services(
            objects: Objects, ns: str = ks.namespace, svc: str = ks.name, who: str = name
        ) -> None:
            vips = service_vips(objects, ns, svc)
            if vips is None:
                log.warning("announcer.kube.malformed", target=f"{ns}/{svc}", error=_MALFORMED)
            put(KubeUpdate(who, vips=vips))

        informers.append(
            Informer(api, Resource("services", ks.namespace, field_selector=f"metadata.name={ks.name}"),
                     on_services, on_sync_change=on_sync(len(informers)), sleep=sleep,
                     watch_timeout=watch_timeout)
        )  # fmt: skip
        if ks.withdraw_without_endpoints:

            def on_slices(objects: Objects, svc: str = ks.name, who: str = name) -> None:
                count = ready_endpoints(objects, svc)
                if count is None:
                    log.warning(
                        "announcer.kube.malformed", target=f"EndpointSlices of {svc}", error=_MALFORMED
                    )
                put(KubeUpdate(who, ready_endpoints=count))

            informers.append(
                Informer(api, Resource("endpointslices", ks.namespace,
                                       label_selector=f"kubernetes.io/service-name={ks.name}"),
                         on_slices, on_sync_change=on_sync(len(informers)), sleep=sleep,
                         watch_timeout=watch_timeout)
            )  # fmt: skip
    for informer in informers:
        informer.start()
    log.info("announcer.kube.started", count=len(informers))
    return list(informers)
