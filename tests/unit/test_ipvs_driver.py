"""The ipvs driver up to the netlink messages (this kernel has no IPVS): the plan keeps
destinations in Maglev order (mh's table depends on it), the requests are byte for byte the
golden ones, and the seed's keepalived config renders as golden (``--config-test`` in
tests/process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroute2.netlink.generic import ipvs as genl

from dataplane import keepalived
from dataplane.drivers import IpvsDriver, LoadFailed
from dataplane.ipvs_netlink import message
from dataplane.ipvs_plan import (
    FWD_TUNNEL,
    SVC_F_SCHED_MH_PORT,
    IpvsDest,
    IpvsOp,
    IpvsService,
    IpvsState,
    apply,
    desired_state,
    plan,
)
from lbroute.core import maglev
from lbroute.core.dataplane import Dataplane, Endpoint, ServiceSpec, next_table

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LBROUTE_UPDATE_GOLDEN") == "1"
WEB = ServiceSpec("web", "10.1.1.1", 80, 8080)
API = ServiceSpec("api", "10.1.1.2", 443, 443)


def dp(web: list[str], api: list[str] | None = None) -> Dataplane:
    tables = [next_table(WEB, [Endpoint(a) for a in web], None, 251, 7)]
    if api is not None:
        tables.append(next_table(API, [Endpoint(a) for a in api], None, 251, 7))
    return Dataplane(tuple(tables), 251, 7)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text(), (
        f"{name} differs from the golden file (LBROUTE_UPDATE_GOLDEN=1 rewrites it)"
    )


def test_an_empty_kernel_gets_each_service_then_its_destinations_in_order() -> None:
    ops = plan(desired_state(dp(["172.16.2.10", "172.16.1.10"], ["172.16.3.10"])), IpvsState())
    assert [str(o) for o in ops] == [
        "add-service 10.1.1.1:80",
        "add-dest 10.1.1.1:80 -> 172.16.1.10:8080",
        "add-dest 10.1.1.1:80 -> 172.16.2.10:8080",
        "add-service 10.1.1.2:443",
        "add-dest 10.1.1.2:443 -> 172.16.3.10:443",
    ]
    assert ops[0].service.scheduler == "mh" and ops[0].service.flags & SVC_F_SCHED_MH_PORT


def test_a_destination_that_sorts_first_makes_the_others_go_behind_it() -> None:
    before = apply(IpvsState(), plan(desired_state(dp(["172.16.2.10", "172.16.3.10"])), IpvsState()))
    ops = plan(desired_state(dp(["172.16.1.10", "172.16.2.10", "172.16.3.10"])), before)
    assert [str(o) for o in ops] == [
        "del-dest 10.1.1.1:80 -> 172.16.2.10:8080",
        "del-dest 10.1.1.1:80 -> 172.16.3.10:8080",
        "add-dest 10.1.1.1:80 -> 172.16.1.10:8080",
        "add-dest 10.1.1.1:80 -> 172.16.2.10:8080",
        "add-dest 10.1.1.1:80 -> 172.16.3.10:8080",
    ]


def test_a_destination_that_sorts_last_is_only_added() -> None:
    before = apply(IpvsState(), plan(desired_state(dp(["172.16.1.10"])), IpvsState()))
    assert [o.verb for o in plan(desired_state(dp(["172.16.1.10", "172.16.9.10"])), before)] == ["add-dest"]


def test_equal_state_plans_nothing_and_tun_mode_tunnels() -> None:
    state = desired_state(dp(["172.16.1.10"]), "tun")
    assert plan(state, state) == []
    assert state.services[0][1][0].forward == FWD_TUNNEL


def test_the_fake_kernel_refuses_what_ipvs_refuses() -> None:
    svc = IpvsService("10.1.1.1", 80)
    with pytest.raises(ValueError, match="EEXIST"):
        apply(IpvsState(), [IpvsOp("add-service", svc), IpvsOp("add-service", svc)])
    with pytest.raises(ValueError, match="ESRCH"):
        apply(IpvsState(), [IpvsOp("add-dest", svc, IpvsDest("172.16.1.10", 80))])


backend_sets = st.sets(st.integers(1, 60).map(lambda i: f"172.16.{i}.10"), max_size=8)


@settings(max_examples=80, deadline=None)
@given(first=backend_sets, second=backend_sets, api=st.booleans())
def test_property_plan_then_apply_is_desired_in_maglev_order(
    first: set[str], second: set[str], api: bool
) -> None:
    observed = apply(
        IpvsState(), plan(desired_state(dp(sorted(first), ["172.16.99.1"] if api else None)), IpvsState())
    )
    want = desired_state(dp(sorted(second)))
    after = apply(observed, plan(want, observed))
    assert after == want
    for _, dests in after.services:
        assert [d.address for d in dests] == maglev.backend_order(d.address for d in dests)
    assert plan(want, after) == []


class FakeIpvs:
    """The kernel's IPVS as ``apply`` keeps it, or no IPVS at all (this kernel)."""

    def __init__(self, present: bool = True) -> None:
        self.present = present
        self.state = IpvsState()
        self.sloppy: bool | None = None
        self.batches: list[list[IpvsOp]] = []

    def observe(self) -> IpvsState:
        if not self.present:
            raise OSError(2, "no IPVS generic-netlink family (CONFIG_IP_VS is not set)")
        return self.state

    def set_sloppy_tcp(self, on: bool) -> None:
        self.sloppy = on

    def apply(self, ops: list[IpvsOp]) -> None:
        self.batches.append(list(ops))
        self.state = apply(self.state, ops)


def test_the_driver_converges_once_and_then_writes_nothing() -> None:
    kernel = FakeIpvs()
    driver = IpvsDriver(kernel, sloppy_tcp=True)
    driver.prepare()
    assert kernel.sloppy is True
    assert driver.converge(dp(["172.16.1.10", "172.16.2.10"])).changed
    assert not driver.converge(dp(["172.16.1.10", "172.16.2.10"])).changed
    assert len(kernel.batches) == 1 and driver.differences(dp(["172.16.1.10", "172.16.2.10"])) == []


def test_a_kernel_without_ipvs_is_a_load_failure_not_a_crash() -> None:
    with pytest.raises(LoadFailed, match="CONFIG_IP_VS"):
        IpvsDriver(FakeIpvs(present=False)).converge(dp(["172.16.1.10"]))


def test_the_netlink_requests_are_the_golden_ones() -> None:
    """Empty kernel -> web (2 backends) and api; then a backend that sorts first joins web."""
    first = plan(desired_state(dp(["172.16.2.10", "172.16.3.10"], ["172.16.3.10"])), IpvsState())
    second = plan(
        desired_state(dp(["172.16.1.10", "172.16.2.10", "172.16.3.10"], ["172.16.3.10"])),
        apply(IpvsState(), first),
    )
    lines = []
    for seq, op in enumerate([*first, *second], start=1):
        msg = message(op, family=0x25, sequence=seq)
        lines += [f"# {op}", msg.data.hex()]
        decoded = genl.ipvsmsg(msg.data)
        decoded.decode()
        assert decoded["cmd"] == msg["cmd"] and decoded["header"]["sequence_number"] == seq
    golden("ipvs-requests.txt", "\n".join(lines) + "\n")


def test_the_new_service_request_carries_mh_its_flags_and_the_vip() -> None:
    msg = message(IpvsOp("add-service", IpvsService("10.1.1.1", 80)), family=0x25, sequence=1)
    decoded = genl.ipvsmsg(msg.data)
    decoded.decode()
    service = decoded.get_attr("IPVS_CMD_ATTR_SERVICE")
    assert decoded["cmd"] == genl.IPVS_CMD_NEW_SERVICE
    assert service.get_attr("IPVS_SVC_ATTR_SCHED_NAME") == "mh"
    assert service.get_attr("IPVS_SVC_ATTR_ADDR") == "10.1.1.1"
    assert service.get_attr("IPVS_SVC_ATTR_PORT") == 80
    assert service.get_attr("IPVS_SVC_ATTR_FLAGS")["flags"] == 0x18


def test_the_keepalived_config_is_the_golden_one() -> None:
    golden("keepalived.conf", keepalived.render(dp(["172.16.2.10", "172.16.1.10"], ["172.16.3.10"])))
