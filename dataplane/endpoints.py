"""EndpointSlice dicts (as the informer delivers them) -> the backends of one service. Pure.

A slice is taken whole or not at all: one that is not what the API defines (garbage), that
names an address outside the pod networks, or whose port is not the service's target port
is refused with one problem line, and the last good version of *that slice* stands. So a
bad write to one slice never empties a service, nor sends traffic anywhere new.

Conditions follow the API's meaning: ``ready`` and ``serving`` unset mean true;
``terminating`` with ``serving`` true is a backend that keeps its flows but gets no new ones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lbroute.core.dataplane import Endpoint

MAX_ENDPOINTS_PER_SLICE = 1000  # the API server's own limit


@dataclass(frozen=True)
class SliceProblem:
    slice: str  # namespace/name
    kind: str  # garbage, outside, port
    what: str

    def __str__(self) -> str:
        return f"EndpointSlice {self.slice}: {self.what}"


class _Refused(Exception):
    def __init__(self, kind: str, what: str) -> None:
        self.kind = kind
        self.what = what


def _cut(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _condition(conditions: Mapping[str, Any], name: str, default: bool) -> bool:
    value = conditions.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _Refused("garbage", f"conditions.{name} is {_cut(value)}, not true or false")
    return value


def parse_slice(
    obj: Any,
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    target_port: int,
    port_name: str | None,
) -> list[Endpoint] | None:
    """The endpoints of one slice; None for a slice of another address type (IPv6: not ours).
    Raises ``_Refused`` for a slice that cannot be used."""
    if not isinstance(obj, Mapping):
        raise _Refused("garbage", f"not an object ({type(obj).__name__})")
    kind = obj.get("addressType", "IPv4")
    if kind != "IPv4":
        if kind in ("IPv6", "FQDN"):
            return None
        raise _Refused("garbage", f"addressType {_cut(kind)} is not IPv4, IPv6 or FQDN")
    _check_port(obj.get("ports"), target_port, port_name)
    raw = obj.get("endpoints")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Refused("garbage", f"endpoints is {type(raw).__name__}, not a list")
    if len(raw) > MAX_ENDPOINTS_PER_SLICE:
        raise _Refused("garbage", f"{len(raw)} endpoints; a slice holds at most {MAX_ENDPOINTS_PER_SLICE}")
    out = []
    for i, ep in enumerate(raw):
        if not isinstance(ep, Mapping):
            raise _Refused("garbage", f"endpoints[{i}] is not an object")
        addresses = ep.get("addresses")
        if not isinstance(addresses, list) or not addresses:
            raise _Refused(
                "garbage", f"endpoints[{i}].addresses is {_cut(addresses)}, not a list of addresses"
            )
        conditions = ep.get("conditions") or {}
        if not isinstance(conditions, Mapping):
            raise _Refused("garbage", f"endpoints[{i}].conditions is not an object")
        ready = _condition(conditions, "ready", True)
        serving = _condition(conditions, "serving", ready)
        terminating = _condition(conditions, "terminating", False)
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address) if isinstance(address, str) else None
            except ValueError:
                ip = None
            if ip is None or ip.version != 4:
                raise _Refused("garbage", f"endpoints[{i}]: {_cut(address)} is not an IPv4 address")
            if not any(ip in n for n in networks):
                raise _Refused("outside", f"endpoints[{i}]: {ip} is outside the pod networks")
            out.append(Endpoint(str(ip), ready=ready and not terminating, serving=serving))
    return out


def _check_port(ports: Any, target_port: int, port_name: str | None) -> None:
    if ports is None:
        return
    if not isinstance(ports, list) or not all(isinstance(p, Mapping) for p in ports):
        raise _Refused("garbage", f"ports is {_cut(ports)}, not a list of ports")
    chosen = [p for p in ports if p.get("name") == port_name] if port_name else ports
    if port_name and not chosen:
        names = ", ".join(repr(p.get("name")) for p in ports) or "none"
        raise _Refused("port", f"no port named {port_name!r} (it has {names})")
    if len(chosen) != 1:
        return  # several unnamed ports: the config's target_port says which
    port = chosen[0].get("port")
    if port is not None and port != target_port:
        raise _Refused("port", f"port {_cut(port)} is not the service's target port {target_port}")


def backends(
    slices: Mapping[str, Any],
    good: Mapping[str, list[Endpoint]],
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    target_port: int,
    port_name: str | None = None,
) -> tuple[dict[str, list[Endpoint]], list[SliceProblem]]:
    """Each listed slice's endpoints (a refused one: its last good version, if any), and a
    problem for each refused slice. Slices no longer listed are gone."""
    out: dict[str, list[Endpoint]] = {}
    problems = []
    for key in sorted(slices):
        try:
            parsed = parse_slice(slices[key], networks, target_port, port_name)
        except _Refused as refused:
            problems.append(SliceProblem(key, refused.kind, refused.what))
            if key in good:
                out[key] = list(good[key])
            continue
        if parsed is not None:
            out[key] = parsed
    return out, problems


def merged(by_slice: Mapping[str, list[Endpoint]]) -> list[Endpoint]:
    """One endpoint per address: ready if any slice says so (a pod moving between slices)."""
    best: dict[str, Endpoint] = {}
    for eps in by_slice.values():
        for e in eps:
            seen = best.get(e.address)
            if seen is None or (e.ready, e.serving) > (seen.ready, seen.serving):
                best[e.address] = e
    return [best[a] for a in sorted(best)]
