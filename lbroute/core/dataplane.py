"""The LB pod's data plane as values: services, their backends and Maglev tables, and the
status the controller publishes. Pure: the controller, the realserver agent, the announcer's
``dataplane`` check and the operator's CLI all read these, and none of them does I/O here.

A table changes only when the set of *ready* backends changes. A service whose ready set
became empty keeps its last table (the kernel keeps forwarding to what may still answer,
and the status says ``ready 0``, so the announcer withdraws the VIP): an empty table
would turn every packet into a drop at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import maglev

STATUS_VERSION = 1
# the nftables table each side keeps (and touches nothing else): the LB pod's, the backend's
NFT_FAMILY = "ip"
LB_TABLE = "lbroute_dataplane"
REALSERVER_TABLE = "lbroute_realserver"


def buckets_map(service: str) -> str:
    """The nftables map holding ``service``'s Maglev table, bucket -> backend."""
    return f"{service}_buckets"


@dataclass(frozen=True, order=True)
class Endpoint:
    """One backend address as the API server reports it (EndpointSlice conditions).

    ``ready``: takes new flows. ``serving`` and not ready: terminating but still answering,
    so it keeps the flows it has and gets no new ones.
    """

    address: str
    ready: bool = True
    serving: bool = True


@dataclass(frozen=True)
class ServiceSpec:
    """What the LB forwards: ``vip:port`` (TCP) to ``target_port`` on each backend.

    ``dscp`` names the service to its backends under direct server return (1-31; the same
    value plus 32 marks a packet on its second chance); 0 under NAT.
    """

    name: str
    vip: str
    port: int
    target_port: int
    dscp: int = 0


@dataclass(frozen=True)
class ServiceTable:
    spec: ServiceSpec
    backends: tuple[str, ...]  # ready, in Maglev order: what the table holds
    draining: tuple[str, ...]  # serving but terminating: their flows stay, no new ones
    buckets: tuple[str, ...]  # bucket -> backend; may hold backends no longer ready (kept table)
    size: int
    seed: int

    @property
    def ready(self) -> int:
        return len(self.backends)

    @property
    def digest(self) -> str:
        return maglev.digest(self.buckets, self.size, self.seed)

    @property
    def in_table(self) -> tuple[str, ...]:
        """The distinct backends the buckets point at (those of a kept table, when none is ready)."""
        return tuple(maglev.backend_order(self.buckets))


def next_table(
    spec: ServiceSpec,
    endpoints: Iterable[Endpoint],
    previous: ServiceTable | None,
    size: int,
    seed: int,
) -> ServiceTable:
    """The table for ``spec`` given what the API server reports now.

    With no ready endpoint the previous buckets stand (see the module's docstring); with no
    previous table either, the service has an empty table and forwards nothing.
    """
    listed = list(endpoints)
    ready = tuple(maglev.backend_order(e.address for e in listed if e.ready))
    draining = tuple(
        maglev.backend_order(
            e.address for e in listed if e.serving and not e.ready and e.address not in ready
        )
    )
    same_hash = previous is not None and previous.size == size and previous.seed == seed
    if not ready:
        buckets = previous.buckets if previous is not None and same_hash else ()
    elif previous is not None and same_hash and previous.backends == ready and previous.buckets:
        buckets = previous.buckets  # nothing the table depends on changed
    else:
        buckets = maglev.table(ready, size, seed)
    return ServiceTable(spec, ready, draining, buckets, size, seed)


@dataclass(frozen=True)
class Dataplane:
    """Everything one LB pod's kernel should hold: a table per service, and the hash and
    flow-pinning parameters every pod shares."""

    tables: tuple[ServiceTable, ...]
    size: int = maglev.DEFAULT_SIZE
    seed: int = 0
    flow_timeout: int = 300  # seconds an idle pinned flow stays pinned (nft-dsr)
    flow_slots: int = 65535  # pinned flows per service at most

    def table(self, name: str) -> ServiceTable | None:
        return next((t for t in self.tables if t.spec.name == name), None)


def changed_services(before: Dataplane | None, after: Dataplane) -> list[str]:
    """Names of the services whose buckets (or presence) differ."""
    old = {t.spec.name: t for t in before.tables} if before else {}
    new = {t.spec.name: t for t in after.tables}
    names = sorted(set(old) | set(new))
    return [
        n
        for n in names
        if n not in old or n not in new or old[n].buckets != new[n].buckets or old[n].spec != new[n].spec
    ]


# --- the status the controller publishes -----------------------------------------------------


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    vip: str
    port: int
    ready: int
    backends: tuple[str, ...]  # ready
    draining: tuple[str, ...]
    in_table: tuple[str, ...]
    digest: str


@dataclass(frozen=True)
class Status:
    """What ``lbroute-dataplane`` last knew, written after every reconcile.

    ``synced``: every backend source has answered at least once (the first list is in).
    ``stale``: a watch is failing right now; the last list stands (fail static), and says so.
    ``in_sync``: the kernel's table
    was read back and equals the last table the controller stands behind (a new one that
    failed to load leaves the last good one, which is still what it stands behind, and
    ``error`` says why). ``generation`` counts the tables loaded since the controller started.
    """

    driver: str
    written_at: float
    synced: bool
    in_sync: bool
    generation: int
    services: tuple[ServiceStatus, ...] = ()
    error: str = ""
    pid: int = 0
    problems: tuple[str, ...] = field(default=())
    stale: bool = False

    def service(self, name: str) -> ServiceStatus | None:
        return next((s for s in self.services if s.name == name), None)


def status_of(
    driver: str,
    dataplane: Dataplane,
    *,
    now: float,
    synced: bool,
    in_sync: bool,
    generation: int,
    error: str = "",
    pid: int = 0,
    problems: Iterable[str] = (),
    stale: bool = False,
) -> Status:
    services = tuple(
        ServiceStatus(
            t.spec.name, t.spec.vip, t.spec.port, t.ready, t.backends, t.draining, t.in_table, t.digest
        )
        for t in dataplane.tables
    )
    return Status(driver, now, synced, in_sync, generation, services, error, pid, tuple(problems), stale)


def status_json(status: Status) -> str:
    body: dict[str, Any] = {
        "version": STATUS_VERSION,
        "driver": status.driver,
        "written_at": status.written_at,
        "synced": status.synced,
        "stale": status.stale,
        "in_sync": status.in_sync,
        "generation": status.generation,
        "error": status.error,
        "pid": status.pid,
        "problems": list(status.problems),
        "services": [
            {
                "name": s.name,
                "vip": s.vip,
                "port": s.port,
                "ready": s.ready,
                "backends": list(s.backends),
                "draining": list(s.draining),
                "in_table": list(s.in_table),
                "digest": s.digest,
            }
            for s in status.services
        ],
    }
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


class StatusUnreadable(ValueError):
    """A status file that is not one ``status_json`` wrote."""


def parse_status(text: str) -> Status:
    try:
        raw = json.loads(text)
        if not isinstance(raw, Mapping) or raw.get("version") != STATUS_VERSION:
            raise StatusUnreadable(f"not a version-{STATUS_VERSION} data-plane status")
        services = tuple(
            ServiceStatus(
                str(s["name"]),
                str(s["vip"]),
                int(s["port"]),
                int(s["ready"]),
                tuple(str(b) for b in s["backends"]),
                tuple(str(b) for b in s["draining"]),
                tuple(str(b) for b in s["in_table"]),
                str(s["digest"]),
            )
            for s in raw["services"]
        )
        return Status(
            driver=str(raw["driver"]),
            written_at=float(raw["written_at"]),
            synced=bool(raw["synced"]),
            in_sync=bool(raw["in_sync"]),
            generation=int(raw["generation"]),
            services=services,
            error=str(raw.get("error", "")),
            pid=int(raw.get("pid", 0)),
            problems=tuple(str(p) for p in raw.get("problems", ())),
            stale=bool(raw.get("stale", False)),
        )
    except StatusUnreadable:
        raise
    except (ValueError, KeyError, TypeError) as err:
        raise StatusUnreadable(f"not a data-plane status: {type(err).__name__}: {str(err)[:80]}") from None


def working(status: Status, *, now: float, max_age: float) -> tuple[bool, str]:
    """The controller runs and stands behind the kernel's table: the status is fresh, it has
    synced (listed its backends once) and the kernel holds its table. The LB pod's readiness
    (``lbroute-dataplane status``); whether a service has a backend is each VIP's own gate."""
    age = now - status.written_at
    if age > max_age:
        return False, f"status is {age:.1f}s old (more than {max_age:g}s): is lbroute-dataplane running?"
    if not status.synced:
        return False, "the controller has not synced with its backend source"
    if not status.in_sync:
        why = f": {status.error}" if status.error else ""
        return False, f"the kernel's table differs from the controller's{why}"
    return True, ""


def gate(status: Status, service: str, *, now: float, max_age: float) -> tuple[bool, str]:
    """The announcer's ``dataplane`` check: pass only when the controller has synced (listed
    its backends once; a watch failing later is fail static, not a failure), the kernel holds
    the table it stands behind, the status is fresh, and ``service`` has a ready backend.
    Returns ``(ok, reason)``; the reason names the first thing that failed."""
    ok, reason = working(status, now=now, max_age=max_age)
    if not ok:
        return ok, reason
    found = status.service(service)
    if found is None:
        known = ", ".join(s.name for s in status.services) or "none"
        return False, f"no service {service!r} in the data plane (it has: {known})"
    if found.ready < 1:
        return False, f"service {service!r} has no ready backend"
    return True, ""
