"""The nftables table each driver wants, as a value, from the data plane's tables. Pure.

Both LB drivers hash a flow the same way — ``jhash ip saddr . tcp sport mod SIZE seed SEED``
into ``meta mark`` — and look the bucket up in a map holding the service's Maglev table:
every pod with the same table sends a flow to the same backend.

nft-nat (the seed's IPVS NAT mode): ``dnat`` in the nat hook, so conntrack pins each
connection to the backend it first got (a table change moves no established flow on this
pod), and ``masquerade`` so that replies come back through this pod.

nft-dsr (L3DSR without tunnels): in the raw hook, before conntrack, the destination is
rewritten to the backend and the DSCP set to the service's value; the backend's
``lbroute-realserver`` rewrites it back to the VIP and answers the client directly. No
conntrack on this pod at all: a flow the router moves here mid-connection is forwarded
like any other. Each flow's backend is pinned in a dynamic map (``<svc>_flows``, idle
timeout ``flow_timeout``, cut to a few seconds after a FIN or RST) that a table change
does not flush; a SYN always takes the table.

The realserver's table: the rewrite back to the VIP (raw hook), and the second chance
(mangle hook, after conntrack): a packet of a connection this backend does not know (new to
conntrack, not a SYN) goes once to the backend that owned its bucket before (the
``<svc>_second`` map), with DSCP + 32 so that it goes no further.
"""

from __future__ import annotations

from collections.abc import Sequence

from lbroute.core.dataplane import (
    LB_TABLE,
    NFT_FAMILY,
    REALSERVER_TABLE,
    Dataplane,
    ServiceSpec,
    ServiceTable,
    buckets_map,
)
from lbroute.core.nftables import NftChain, NftMap, NftRule, NftTable

from .config import DSCP_SECOND_CHANCE

FAMILY = NFT_FAMILY
__all__ = ["FAMILY", "LB_TABLE", "REALSERVER_TABLE", "buckets_map", "dsr_table", "filled_maps", "nat_table",
           "realserver_table", "second_chance_targets"]  # fmt: skip
PIN_AFTER_CLOSE = 3  # seconds a pin lives on after the client's FIN or RST
SECOND_CHANCE_MARK = 0x4C42  # conntrack mark of a flow this backend passes on ("LB")


def flows_map(name: str) -> str:
    return f"{name}_flows"


def second_map(name: str) -> str:
    return f"{name}_second"


def _elements(buckets: Sequence[str]) -> tuple[tuple[int, str], ...]:
    return tuple(enumerate(buckets))


def _hash(t: ServiceTable) -> str:
    return f"meta mark set jhash ip saddr . tcp sport mod {t.size} seed {t.seed:#x}"


def _match(spec: ServiceSpec) -> str:
    return f"ip daddr {spec.vip} tcp dport {spec.port}"


def filled_maps(table: NftTable) -> list[str]:
    return [m.name for m in table.maps if m.elements is not None]


def nat_table(dp: Dataplane) -> NftTable:
    maps, pre, post = [], [], []
    for t in dp.tables:
        s = t.spec
        maps.append(NftMap(buckets_map(s.name), "mark", "ipv4_addr", _elements(t.buckets)))
        if not t.buckets:
            continue  # no backend ever: the VIP stays local, the announcer withdraws it
        port = f" : {s.target_port}" if s.target_port != s.port else ""
        pre.append(NftRule(f"{_match(s)} {_hash(t)} dnat to meta mark map @{buckets_map(s.name)}{port}"))
        rule = NftRule(f"ct status dnat ct original ip daddr {s.vip} masquerade")
        if rule not in post:
            post.append(rule)
    return NftTable(
        FAMILY,
        LB_TABLE,
        tuple(sorted(maps, key=lambda m: m.name)),
        (
            NftChain("postrouting", "nat", "postrouting", 100, tuple(post)),
            NftChain("prerouting", "nat", "prerouting", -100, tuple(pre)),
        ),
    )


def dsr_table(dp: Dataplane) -> NftTable:
    maps, pre = [], []
    for t in dp.tables:
        s = t.spec
        buckets, flows = buckets_map(s.name), flows_map(s.name)
        maps.append(NftMap(buckets, "mark", "ipv4_addr", _elements(t.buckets)))
        maps.append(
            NftMap(
                flows,
                "ipv4_addr . inet_service",
                "ipv4_addr",
                None,
                timeout=dp.flow_timeout,
                size=dp.flow_slots,
            )
        )
        if not t.buckets:
            continue
        key = "ip saddr . tcp sport"
        pin = f"ip daddr set {key} map @{flows} ip dscp set {s.dscp}"
        pre += [
            # a pinned flow closing: its pin expires a few seconds later (a reused port is a new flow)
            NftRule(
                f"{_match(s)} tcp flags & (fin | rst) != 0 {key} @{flows} {pin} "
                f"update @{flows} {{ {key} timeout {PIN_AFTER_CLOSE}s : ip daddr }}"
            ),
            # a pinned flow: its backend, however the table changed since
            NftRule(
                f"{_match(s)} tcp flags & (syn | ack) != syn {key} @{flows} {pin} "
                f"update @{flows} {{ {key} : ip daddr }}"
            ),
            # otherwise the table, and the pin from now on
            NftRule(
                f"{_match(s)} {_hash(t)} ip daddr set meta mark map @{buckets} ip dscp set {s.dscp} "
                f"update @{flows} {{ {key} : ip daddr }}"
            ),
        ]
    return NftTable(
        FAMILY,
        LB_TABLE,
        tuple(sorted(maps, key=lambda m: m.name)),
        (NftChain("prerouting", "filter", "prerouting", -300, tuple(pre)),),
    )


def second_chance_targets(
    me: str, current: ServiceTable, previous: ServiceTable | None, alive: set[str]
) -> tuple[tuple[int, str], ...]:
    """Bucket -> where a packet this backend has no connection for goes next.

    An LB sent it here because this backend owns the bucket in the LB's table; the flow
    began before, at the bucket's owner then (``previous``). If this backend does not own the
    bucket in its own newest table, its view lags the LB's and the owner it has is the one
    before. Only to a backend still known (ready or draining); never to itself.
    """
    out = []
    for bucket, owner in enumerate(current.buckets):
        target = owner
        if owner == me:
            if previous is None or len(previous.buckets) != len(current.buckets):
                continue
            target = previous.buckets[bucket]
        if target != me and target in alive:
            out.append((bucket, target))
    return tuple(out)


def realserver_table(
    me: str, tables: Sequence[tuple[ServiceTable, ServiceTable | None]], *, second_chance: bool
) -> NftTable:
    maps, raw, mangle = [], [], []
    for current, previous in tables:
        s = current.spec
        second = s.dscp + DSCP_SECOND_CHANCE
        raw.append(
            NftRule(f"ip daddr {me} ip dscp {{ {s.dscp}, {second} }} tcp dport {s.port} ip daddr set {s.vip}")
        )
        if not second_chance:
            continue
        alive = set(current.backends) | set(current.draining)
        targets = second_chance_targets(me, current, previous, alive)
        maps.append(NftMap(second_map(s.name), "mark", "ipv4_addr", targets))
        send = f"{_hash(current)} ip daddr set meta mark map @{second_map(s.name)} "
        mangle += [
            # a new connection on the tuple of one passed on before is this backend's own
            NftRule(
                f"{_match(s)} tcp flags & (syn | ack) == syn ct mark {SECOND_CHANCE_MARK:#x} ct mark set 0x0"
            ),
            # a flow passed on before: the rest of it follows
            NftRule(
                f"{_match(s)} ip dscp {s.dscp} ct mark {SECOND_CHANCE_MARK:#x} tcp flags & syn == 0 "
                f"{send}ip dscp set {second}"
            ),
            # a packet of a connection this backend never had: once to the bucket's owner before
            NftRule(
                f"{_match(s)} ip dscp {s.dscp} ct state new tcp flags & (syn | rst) == 0 "
                f"{send}ct mark set {SECOND_CHANCE_MARK:#x} ip dscp set {second}"
            ),
        ]
    chains = [NftChain("rewrite", "filter", "prerouting", -300, tuple(raw))]
    if second_chance:
        chains.append(NftChain("second_chance", "filter", "prerouting", -150, tuple(mangle)))
    return NftTable(FAMILY, REALSERVER_TABLE, tuple(sorted(maps, key=lambda m: m.name)), tuple(chains))
