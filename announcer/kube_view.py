"""What a Service and its EndpointSlices mean for announcing. Pure: plain dicts in, values out.

The VIPs are the Service's ``status.loadBalancer.ingress[].ip`` (why: see
docs/decisions/service-vip-source.md); the gate is the count of ready endpoints.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

Objects = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class KubeUpdate:
    """What one informer's snapshot says about one service; None means "says nothing"."""

    service: str
    vips: tuple[str, ...] | None = None
    ready_endpoints: int | None = None


def service_vips(services: Objects, namespace: str, name: str) -> tuple[str, ...]:
    """Host routes for the ingress IPs of ``namespace/name``; () if the Service is gone."""
    obj = services.get(f"{namespace}/{name}")
    if obj is None:
        return ()
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    vips = []
    for entry in ingress:
        ip = entry.get("ip") if isinstance(entry, dict) else None
        if not ip:
            continue  # hostname-only ingress: nothing to route
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        vips.append(f"{address}/{address.max_prefixlen}")
    return tuple(sorted(set(vips)))


def ready_endpoints(slices: Objects, name: str) -> int:
    """Ready endpoints over every EndpointSlice of the Service ``name``.

    An endpoint without ``conditions.ready`` counts as ready, as the API documents.
    """
    count = 0
    for obj in slices.values():
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels.get("kubernetes.io/service-name") != name:
            continue
        for endpoint in obj.get("endpoints") or []:
            if ((endpoint.get("conditions") or {}).get("ready")) is not False:
                count += 1
    return count
