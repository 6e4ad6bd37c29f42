"""The config and what the backend sources report -> the data plane every pod should hold. Pure.

A service whose source has not answered yet (the first list is not in) keeps its previous
table, or has none: fail static, never an empty world invented from silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lbroute.core.dataplane import Dataplane, Endpoint, ServiceTable, next_table

from .config import DataplaneConfig, RealserverConfig, ServiceConfig


def static_endpoints(service: ServiceConfig) -> list[Endpoint] | None:
    """The endpoints a service's config lists (None: it takes them from Kubernetes)."""
    if service.backends is None:
        return None
    ready = [Endpoint(b) for b in service.backends]
    listed = set(service.backends)
    return ready + [Endpoint(b, ready=False, serving=True) for b in service.draining if b not in listed]


def tables(
    services: Sequence[ServiceConfig],
    endpoints: Mapping[str, list[Endpoint] | None],
    previous: Dataplane | None,
    size: int,
    seed: int,
) -> tuple[ServiceTable, ...]:
    out = []
    for s in services:
        before = previous.table(s.name) if previous is not None else None
        listed = endpoints.get(s.name)
        if listed is None:
            # not listed yet: the previous table (its backends, as they were) or nothing
            out.append(
                before
                if before is not None and before.spec == s.spec()
                else next_table(s.spec(), [], None, size, seed)
            )
            continue
        out.append(
            next_table(
                s.spec(),
                listed,
                before if before is not None and before.spec == s.spec() else None,
                size,
                seed,
            )
        )
    return tuple(out)


def dataplane(
    cfg: DataplaneConfig, endpoints: Mapping[str, list[Endpoint] | None], previous: Dataplane | None
) -> Dataplane:
    return Dataplane(
        tables(cfg.services, endpoints, previous, cfg.maglev.table_size, cfg.maglev.seed),
        size=cfg.maglev.table_size,
        seed=cfg.maglev.seed,
        flow_timeout=cfg.flow_timeout,
        flow_slots=cfg.flow_slots,
    )


def realserver_tables(
    cfg: RealserverConfig, endpoints: Mapping[str, list[Endpoint] | None], previous: Dataplane | None
) -> Dataplane:
    return Dataplane(
        tables(cfg.services, endpoints, previous, cfg.maglev.table_size, cfg.maglev.seed),
        size=cfg.maglev.table_size,
        seed=cfg.maglev.seed,
    )


def newest_two(
    history: tuple[Dataplane | None, Dataplane | None], latest: Dataplane
) -> tuple[Dataplane | None, Dataplane]:
    """(the one before, the newest), for the realserver's second chance: a new newest only
    when some service's buckets changed (a resync that changed nothing keeps the one before)."""
    _, newest = history
    if newest is None:
        return None, latest
    if all(
        (old := newest.table(t.spec.name)) is not None and old.buckets == t.buckets for t in latest.tables
    ) and len(newest.tables) == len(latest.tables):
        return history[0], latest
    return newest, latest


def before_joining(table: ServiceTable, me: str) -> ServiceTable | None:
    """The table the LBs held before ``me`` joined, for a backend with no older table of its
    own: one that starts and finds itself ready already joined just now (under Kubernetes its
    agent usually sees the table without it first, while its pod is not ready yet)."""
    if me not in table.backends or len(table.backends) < 2:
        return None
    others = [Endpoint(b) for b in table.backends if b != me]
    return next_table(table.spec, others, None, table.size, table.seed)
