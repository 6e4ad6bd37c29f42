"""Why the guard rails reject a path, read from the very policy ``rr.desired`` writes."""

from __future__ import annotations

import pytest

from lbroute.core import guard
from lbroute.core.rib import Attributes, Path
from tests.support.rr import GROUP, NODES, RR, desired

IBGP = Attributes(as_path_length=0)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (Path("10.1.1.1/32", "10.0.0.11", "172.16.1.2", attributes=IBGP), None),
        (Path("10.1.1.1/32", "10.0.0.12", "172.16.2.9", attributes=IBGP), None),
        # a pod on node 1 naming node 2, an unused address, the router
        (Path("10.1.1.1/32", "10.0.0.12", "172.16.1.2", attributes=IBGP), guard.NEXT_HOP),
        (Path("10.1.1.1/32", "10.0.0.99", "172.16.1.2", attributes=IBGP), guard.NEXT_HOP),
        (Path("10.1.1.1/32", "10.0.0.1", "172.16.1.2", attributes=IBGP), guard.NEXT_HOP),
        # inside the pool, but not a VIP of the group; outside the pool
        (Path("10.1.2.2/32", "10.0.0.11", "172.16.1.2", attributes=IBGP), guard.VIP_POOL),
        (Path("192.0.2.1/32", "10.0.0.11", "172.16.1.2", attributes=IBGP), guard.VIP_POOL),
        # inside the group's range, on no node it knows
        (Path("10.1.1.1/32", "10.0.0.11", "172.16.9.2", attributes=IBGP), guard.UNKNOWN_SPEAKER),
        # an iBGP speaker prepending itself out of the ECMP set
        (
            Path("10.1.1.1/32", "10.0.0.11", "172.16.1.2", attributes=Attributes(as_path_length=2)),
            guard.AS_PATH,
        ),
        # not a speaker at all: the router's paths fall through to the default, accept
        (Path("10.9.9.9/32", "10.0.0.1", "10.0.0.1", attributes=IBGP), None),
    ],
)
def test_each_rejection_has_its_reason(path: Path, reason: str | None) -> None:
    config = desired({**RR, "nodes": NODES, "speaker_groups": [{**GROUP, "vips": ["10.1.1.1/32"]}]})
    assert guard.Guard(config).reason(path) == reason


def test_a_length_the_pool_does_not_allow_and_the_counts_by_reason() -> None:
    judge = guard.Guard(desired({**RR, "nodes": NODES}))
    paths = [
        Path("10.1.77.0/24", "10.0.0.11", "172.16.1.2", attributes=IBGP),
        Path("10.1.1.1/32", "10.0.0.12", "172.16.1.2", attributes=IBGP),
        Path("10.1.1.2/32", "10.0.0.99", "172.16.1.2", attributes=IBGP),
    ]
    assert guard.rejected_counts(judge, paths) == {guard.PREFIX_LENGTH: 1, guard.NEXT_HOP: 2}


def test_the_node_map_comes_from_the_policy() -> None:
    nodes = guard.Guard(desired({**RR, "nodes": NODES})).nodes()
    assert nodes.node_of_speaker("172.16.2.7") == guard.KnownNode(
        frozenset({"10.0.0.12"}), ("172.16.2.0/24",)
    )
    assert nodes.node_with_address("10.0.0.11") == nodes.node_of_speaker("172.16.1.2")
    assert nodes.node_with_address("10.0.0.99") is None
