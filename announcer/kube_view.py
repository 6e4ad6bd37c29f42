"""What a Service and its EndpointSlices mean for announcing. Pure: plain dicts in, values out.

The VIPs are the Service's ``status.loadBalancer.ingress[].ip`` (why: see
docs/decisions/service-vip-source.md); the gate is the count of ready endpoints.

An object that is not what the API defines (a field of the wrong type) says nothing (None):
the last VIPs and the last count stand, so garbage from an API server never withdraws a VIP.
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


_GARBAGE: Any = object()  # a field (or the object holding it) of the wrong type


def _field(obj: Any, key: str, kind: type, default: Any) -> Any:
    """``obj[key]`` if it is a ``kind`` (``default`` when absent or null); _GARBAGE otherwise."""
    if not isinstance(obj, dict):
        return _GARBAGE
    value = obj.get(key)
    if value is None:
        return default
    return value if isinstance(value, kind) else _GARBAGE


def service_vips(services: Objects, namespace: str, name: str) -> tuple[str, ...] | None:
    """Host routes for the ingress IPs of ``namespace/name``; () if the Service is gone, None
    if it is malformed (says nothing)."""
    obj = services.get(f"{namespace}/{name}")
    if obj is None:
        return ()
    status = _field(obj, "status", dict, {})
    balancer = _field(status, "loadBalancer", dict, {})
    ingress = _field(balancer, "ingress", list, [])
    if ingress is _GARBAGE:
        return None
    vips = []
    for entry in ingress:
        ip = entry.get("ip") if isinstance(entry, dict) else None
        if not isinstance(ip, str) or not ip:
            continue  # hostname-only ingress: nothing to route (and a number is no address)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        vips.append(f"{address}/{address.max_prefixlen}")
    return tuple(sorted(set(vips)))


def ready_endpoints(slices: Objects, name: str) -> int | None:
    """Ready endpoints over every EndpointSlice of the Service ``name``; None (unknown) if one
    of them is malformed.

    An endpoint without ``conditions.ready`` counts as ready, as the API documents.
    """
    count = 0
    for obj in slices.values():
        labels = _field(_field(obj, "metadata", dict, {}), "labels", dict, {})
        if labels is _GARBAGE:
            return None
        if labels.get("kubernetes.io/service-name") != name:
            continue
        endpoints = _field(obj, "endpoints", list, [])
        if endpoints is _GARBAGE:
            return None
        for endpoint in endpoints:
            ready = _field(_field(endpoint, "conditions", dict, {}), "ready", bool, True)
            if ready is _GARBAGE:
                return None
            count += ready
    return count
