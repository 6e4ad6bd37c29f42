"""Next-hop networks survive gobgpd 4.8's ListPolicy, which lists each entry's address only."""

from __future__ import annotations

import ipaddress

import pytest

from lbroute.gobgp import policy_next_hops


def as_listed_by_gobgpd_48(entries: list[str]) -> list[str]:
    """What ListPolicy answers for these entries: the address, the length dropped (its
    ``oc.NextHopInList`` is ``[]netip.Addr``; checked in test_gobgpd_round_trip)."""
    return [e.split("/")[0] for e in entries]


@pytest.mark.parametrize(
    "networks",
    [
        ("10.0.0.0/24",),
        ("10.0.0.0/23",),  # the same first address as the /24: only the last one tells them apart
        ("10.0.0.0/24", "10.0.2.0/24"),
        ("10.0.0.7/32",),
        ("2001:db8::/64", "fd00::/8"),
        ("0.0.0.0/0",),
        (),
    ],
)
def test_networks_read_back_as_written(networks: tuple[str, ...]) -> None:
    entries = policy_next_hops.entries(networks)
    assert len(entries) == 2 * len(networks)
    assert policy_next_hops.networks(as_listed_by_gobgpd_48(entries)) == networks
    # and whole, should a later gobgpd list the prefixes as they were written
    assert policy_next_hops.networks(entries) == networks


def test_each_network_is_written_as_its_ends_with_its_length_and_both_match_alike() -> None:
    assert policy_next_hops.entries(["10.0.0.0/24"]) == ["10.0.0.0/24", "10.0.0.255/24"]
    assert policy_next_hops.entries(["fd00::/8"]) == ["fd00::/8", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/8"]
    # a prefix with host bits set holds exactly what its network holds (gobgpd's netip.Prefix
    # Contains, like ipaddress with strict=False, ignores them)
    for entry in policy_next_hops.entries(["10.0.0.0/24"]):
        net = ipaddress.ip_network(entry, strict=False)
        assert ipaddress.ip_address("10.0.0.11") in net and ipaddress.ip_address("10.0.1.11") not in net


@pytest.mark.parametrize(
    ("listed", "seen"),
    [
        # what an adapter that wrote networks as they are reads back from gobgpd 4.8
        (["10.0.0.0"], ("10.0.0.0/32",)),
        (["10.0.0.0", "2001:db8::"], ("10.0.0.0/32", "2001:db8::/128")),
        # two addresses that are no network's ends
        (["10.0.0.1", "10.0.0.255"], ("10.0.0.1/32", "10.0.0.255/32")),
        (["10.0.0.255", "10.0.0.0"], ("10.0.0.255/32", "10.0.0.0/32")),
        # ends listed with a length that is not their network's
        (["10.0.0.0/16", "10.0.0.255/16"], ("10.0.0.0/32", "10.0.0.255/32")),
    ],
)
def test_a_list_not_written_this_way_reads_as_its_hosts_and_so_differs(
    listed: list[str], seen: tuple[str, ...]
) -> None:
    # none of these is what rr.desired asks for (networks), so the plan replaces the policy
    assert policy_next_hops.networks(listed) == seen
