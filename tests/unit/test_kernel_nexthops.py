"""What ``ip -N -j`` says about next-hop objects and routes, as the planner's values, and the
``ip -batch`` lines its operations become (the real kernel: tests/integration/test_resilient_kernel.py)."""

from __future__ import annotations

from lbroute.core import nexthop_groups as ng
from lbroute.kernel.nexthops import _documents, command, parse_nexthops, parse_routes

# captured from the lab's router (kernel 6.18, iproute2 6.1, ``ip -N -j``)
NEXTHOPS = [
    {"id": 3, "dev": "eth0", "scope": "254", "protocol": "11", "flags": []},
    {"id": 7, "gateway": "10.0.0.11", "dev": "eth0", "scope": "253", "protocol": "11", "flags": []},
    {"id": 17, "group": [{"id": 7}, {"id": 12}], "protocol": "11", "flags": []},
    {"id": 2000000000, "gateway": "10.0.0.11", "dev": "eth0", "scope": "253", "protocol": "200", "flags": []},
    {
        "id": 2000000003,
        "group": [{"id": 2000000001, "weight": 256}, {"id": 2000000000, "weight": 256}, {"id": 2000000002}],
        "type": "resilient",
        "resilient_args": {"buckets": 256, "idle_timer": 60, "unbalanced_timer": 300, "unbalanced_time": 0},
        "protocol": "200",
        "flags": [],
    },
]
ROUTES = [
    {"dst": "10.0.0.0/24", "dev": "eth0", "protocol": "2", "scope": "253", "flags": []},
    {"dst": "10.9.0.0/24", "dev": "eth1", "protocol": "2", "scope": "253", "flags": ["linkdown"]},
    {"dst": "10.1.1.1", "nhid": 2000000003, "protocol": "200", "metric": 20, "flags": [],
     "nexthops": [{"gateway": "10.0.0.11", "dev": "eth0", "weight": 256, "flags": []}]},
    {"dst": "10.1.9.9", "gateway": "10.0.0.12", "dev": "eth0", "protocol": "4", "flags": []},
    {"type": "blackhole", "dst": "10.1.7.0/24", "protocol": "4", "flags": []},
]  # fmt: skip


def test_next_hops_and_groups_whoever_made_them() -> None:
    singles, groups = parse_nexthops(NEXTHOPS)
    assert singles == (
        ng.NextHopObject(7, "10.0.0.11", "eth0", 11),
        ng.NextHopObject(2000000000, "10.0.0.11", "eth0", 200),
    )
    assert groups == (
        ng.GroupObject(17, (ng.Member(7), ng.Member(12)), 11),
        ng.GroupObject(
            2000000003,
            (ng.Member(2000000000, 256), ng.Member(2000000001, 256), ng.Member(2000000002)),
            200,
            ng.Resilient(256, 60, 300),
        ),
    )


def test_routes_connected_ones_marked_and_a_link_down_is_no_way_to_a_gateway() -> None:
    routes = parse_routes(ROUTES, "inet")
    assert [(r.prefix, r.connected) for r in routes] == [
        ("10.0.0.0/24", True),
        ("10.9.0.0/24", False),
        ("10.1.1.1/32", False),
        ("10.1.9.9/32", False),
    ]
    assert routes[2] == ng.KernelRoute("10.1.1.1/32", 200, 20, nhid=2000000003)
    assert ng.device_for("10.0.0.11", routes) == "eth0" and ng.device_for("10.9.0.5", routes) is None
    six = parse_routes(
        [{"dst": "fd00::/64", "dev": "eth0", "protocol": "2", "metric": 256, "flags": []}], "inet6"
    )
    assert six[0].connected and ng.device_for("fd00::11", six) == "eth0"


def test_each_operation_is_one_batch_line_with_our_protocol_and_metric() -> None:
    s = ng.GroupSettings(ng.Resilient(256, 60, 300), 200, 1, 9)
    members = (ng.Member(1, 256), ng.Member(2, 1))
    assert [command(op, s) for op in (
        ng.AddNextHop(1, "10.0.0.11", "eth0"),
        ng.ReplaceNextHop(1, "fd00::11", "eth1"),
        ng.AddGroup(3, members, s.resilient),
        ng.ReplaceGroup(3, members, ng.Resilient(256, 30, 0)),
        ng.AddRoute("10.1.1.1/32", 3),
        ng.ReplaceRoute("2001:db8:1::1/128", 3),
        ng.DeleteRoute("10.1.1.1/32"),
        ng.DeleteGroup(3),
        ng.DeleteNextHop(1),
    )] == [
        "nexthop add id 1 via 10.0.0.11 dev eth0 proto 200",
        "nexthop replace id 1 via fd00::11 dev eth1 proto 200",
        "nexthop add id 3 group 1,256/2,1 type resilient buckets 256 idle_timer 60 unbalanced_timer 300"
        " proto 200",
        "nexthop replace id 3 group 1,256/2,1 type resilient buckets 256 idle_timer 30 unbalanced_timer 0"
        " proto 200",
        "route add 10.1.1.1/32 nhid 3 proto 200 metric 20",
        "route replace 2001:db8:1::1/128 nhid 3 proto 200 metric 20",
        "route del 10.1.1.1/32 proto 200 metric 20",
        "nexthop del id 3",
        "nexthop del id 1",
    ]  # fmt: skip


def test_one_json_document_per_batch_command_and_none_for_an_empty_answer() -> None:
    assert _documents('[{"id":1}]\n[]\n', 2) == [[{"id": 1}], []]
    assert _documents('[{"id":1}]', 2) == [[{"id": 1}], []]
