"""The data plane's values: tables that keep their buckets, the status round trip, the
announcer's gate, and each driver's nftables table and transaction (against ``nft -j``
output captured from nft 1.0.6 on this kernel)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dataplane import nft_rules
from lbroute.core import maglev, nftables
from lbroute.core.dataplane import (
    Dataplane,
    Endpoint,
    ServiceSpec,
    StatusUnreadable,
    gate,
    next_table,
    parse_status,
    status_json,
    status_of,
)

GOLDEN = Path(__file__).parent / "golden"
WEB = ServiceSpec("web", "10.1.1.1", 80, 80, 10)
THREE = [Endpoint("172.16.1.10"), Endpoint("172.16.2.10"), Endpoint("172.16.3.10")]


def test_zero_ready_backends_keep_the_last_table() -> None:
    first = next_table(WEB, THREE, None, 251, 7)
    none_ready = next_table(WEB, [replace(e, ready=False) for e in THREE], first, 251, 7)
    assert none_ready.ready == 0
    assert none_ready.buckets == first.buckets
    assert none_ready.in_table == ("172.16.1.10", "172.16.2.10", "172.16.3.10")
    assert none_ready.draining == ("172.16.1.10", "172.16.2.10", "172.16.3.10")


def test_zero_backends_from_the_start_is_an_empty_table() -> None:
    assert next_table(WEB, [], None, 251, 7).buckets == ()


def test_a_terminating_backend_leaves_the_table_but_is_listed_draining() -> None:
    first = next_table(WEB, THREE, None, 251, 7)
    second = next_table(
        WEB, [THREE[0], THREE[1], Endpoint("172.16.3.10", ready=False, serving=True)], first, 251, 7
    )
    assert second.backends == ("172.16.1.10", "172.16.2.10")
    assert second.draining == ("172.16.3.10",)
    assert "172.16.3.10" not in second.buckets
    assert second.buckets == maglev.table(["172.16.1.10", "172.16.2.10"], 251, 7)


def test_a_new_seed_or_size_rebuilds_the_table() -> None:
    first = next_table(WEB, THREE, None, 251, 7)
    assert next_table(WEB, THREE, first, 251, 8).buckets != first.buckets
    assert len(next_table(WEB, THREE, first, 1021, 7).buckets) == 1021


def status(ready: int = 3, **kw: object) -> str:
    endpoints = THREE[:ready] if ready else [replace(e, ready=False) for e in THREE]
    table = next_table(WEB, endpoints, next_table(WEB, THREE, None, 251, 7), 251, 7)
    args: dict[str, object] = {"now": 100.0, "synced": True, "in_sync": True, "generation": 4, **kw}
    return status_json(status_of("nft-dsr", Dataplane((table,), 251, 7), **args))  # type: ignore[arg-type]


def test_status_round_trip() -> None:
    back = parse_status(status())
    assert back.generation == 4 and back.driver == "nft-dsr"
    web = back.service("web")
    assert web is not None and web.ready == 3 and web.vip == "10.1.1.1"
    assert web.digest == next_table(WEB, THREE, None, 251, 7).digest


@pytest.mark.parametrize(
    ("text", "why"),
    [("{}", "version"), ('{"version": 1}', "KeyError"), ("[1]", "version"), ("not json", "JSONDecodeError")],
)
def test_a_status_that_is_not_one_is_refused(text: str, why: str) -> None:
    with pytest.raises(StatusUnreadable, match=why):
        parse_status(text)


@pytest.mark.parametrize(
    ("kw", "ready", "now", "ok", "reason"),
    [
        ({}, 3, 101.0, True, ""),
        ({}, 3, 200.0, False, "old"),
        ({"synced": False}, 3, 101.0, False, "not synced"),
        ({"stale": True}, 3, 101.0, True, ""),  # a watch failing after the first list: fail static
        ({"in_sync": False, "error": "nft: refused"}, 3, 101.0, False, "nft: refused"),
        ({}, 0, 101.0, False, "no ready backend"),
    ],
)
def test_the_gate_passes_only_when_synced_in_sync_fresh_and_ready(
    kw: dict[str, object], ready: int, now: float, ok: bool, reason: str
) -> None:
    passed, why = gate(parse_status(status(ready, **kw)), "web", now=now, max_age=30)
    assert passed is ok
    assert reason in why


def test_the_gate_names_an_unknown_service() -> None:
    assert gate(parse_status(status()), "api", now=101.0, max_age=30) == (
        False,
        "no service 'api' in the data plane (it has: web)",
    )


# --- nftables ---------------------------------------------------------------------------------


def dsr(endpoints: list[Endpoint] = THREE, previous: Dataplane | None = None) -> Dataplane:
    before = previous.table("web") if previous else None
    return Dataplane((next_table(WEB, endpoints, before, 7, 0x5EED),), size=7, seed=0x5EED)


def observed_from_golden() -> nftables.ObservedTable:
    """What nft 1.0.6 listed for ``dsr_table`` of web with two backends, size 7."""
    terse = nftables.parse_table((GOLDEN / "nft-dsr-terse.json").read_text(), "ip", nft_rules.LB_TABLE)
    buckets = nftables.parse_map(
        (GOLDEN / "nft-dsr-buckets.json").read_text(), "ip", nft_rules.LB_TABLE, "web_buckets"
    )
    assert terse is not None and buckets is not None
    maps = tuple(buckets if m.name == "web_buckets" else m for m in terse.maps)
    return nftables.ObservedTable("ip", nft_rules.LB_TABLE, maps, terse.chains)


def test_the_kernel_listing_of_our_table_equals_what_we_loaded() -> None:
    two = dsr(THREE[:2])
    assert nftables.differences(nft_rules.dsr_table(two), observed_from_golden()) == []
    assert nftables.transaction(nft_rules.dsr_table(two), observed_from_golden()) is None


def test_a_backend_change_rewrites_only_the_buckets_never_the_pins() -> None:
    observed = observed_from_golden()
    three = dsr(THREE, dsr(THREE[:2]))
    tx = nftables.transaction(nft_rules.dsr_table(three), observed)
    assert tx is not None
    lines = tx.splitlines()
    assert "flush map ip lbroute_dataplane web_buckets" in lines
    assert not [line for line in lines if "web_flows" in line and not line.startswith("add map")]
    assert not [line for line in lines if line.startswith(("add rule", "flush chain", "delete"))]
    (only,) = nftables.differences(nft_rules.dsr_table(three), observed)
    assert only.startswith("map web_buckets differs in ")


def test_a_rule_someone_else_added_is_replaced_and_the_pins_kept() -> None:
    observed = observed_from_golden()
    chain, tags = observed.chains[0]
    tampered = replace(observed, chains=((chain, (*tags, "?")),))
    tx = nftables.transaction(nft_rules.dsr_table(dsr(THREE[:2])), tampered)
    assert tx is not None
    assert "flush chain ip lbroute_dataplane prerouting" in tx
    assert "delete map ip lbroute_dataplane web_flows" not in tx
    assert tx.count("add rule") == 3


def test_switching_driver_replaces_chains_and_drops_the_pin_map() -> None:
    tx = nftables.transaction(nft_rules.nat_table(dsr(THREE[:2])), observed_from_golden())
    assert tx is not None
    assert "delete map ip lbroute_dataplane web_flows" in tx
    assert "delete chain ip lbroute_dataplane prerouting" in tx
    assert tx.index("flush chain ip lbroute_dataplane prerouting") < tx.index("delete map")


def test_a_missing_table_is_created_whole() -> None:
    tx = nftables.transaction(nft_rules.dsr_table(dsr()), None)
    assert tx is not None and tx.startswith("add table ip lbroute_dataplane\n")
    assert tx.count("add rule") == 3 and "add element" in tx


def test_nat_rules_hash_the_flow_into_the_buckets_and_masquerade() -> None:
    api = ServiceSpec("api", "10.1.1.2", 443, 8443)
    dp = Dataplane((next_table(WEB, THREE, None, 7, 9), next_table(api, THREE[:1], None, 7, 9)), 7, 9)
    table = nft_rules.nat_table(dp)
    pre = table.chain("prerouting")
    assert pre is not None and [r.text for r in pre.rules] == [
        "ip daddr 10.1.1.1 tcp dport 80 meta mark set jhash ip saddr . tcp sport mod 7 seed 0x9 "
        "dnat to meta mark map @web_buckets",
        "ip daddr 10.1.1.2 tcp dport 443 meta mark set jhash ip saddr . tcp sport mod 7 seed 0x9 "
        "dnat to meta mark map @api_buckets : 8443",
    ]
    assert {m.name for m in table.maps} == {"web_buckets", "api_buckets"}


def test_the_second_chance_goes_to_the_owner_before_or_the_owner_now() -> None:
    two = next_table(WEB, THREE[:2], None, 7, 1)
    three = next_table(WEB, THREE, two, 7, 1)
    me = "172.16.3.10"
    alive = {"172.16.1.10", "172.16.2.10", me}
    targets = dict(nft_rules.second_chance_targets(me, three, two, alive))
    for bucket, owner in enumerate(three.buckets):
        if owner == me:
            assert targets[bucket] == two.buckets[bucket]  # mine now: it was theirs before
        else:
            assert targets[bucket] == owner  # not mine in my table: the LB's view is newer
    assert me not in targets.values()
    gone = dict(nft_rules.second_chance_targets(me, three, two, {me}))
    assert gone == {}


def test_a_backend_without_an_older_table_takes_the_one_before_it_joined() -> None:
    from dataplane.desired import before_joining

    joined = next_table(WEB, THREE, None, 251, 7)
    before = before_joining(joined, "172.16.3.10")
    assert before is not None and before.buckets == next_table(WEB, THREE[:2], None, 251, 7).buckets
    assert before_joining(joined, "172.16.9.9") is None  # not in the table: nothing to assume
    assert before_joining(next_table(WEB, THREE[:1], None, 251, 7), "172.16.1.10") is None
