"""The seed's whole system with real daemons and the real kernel: client -> router ECMP ->
LB pods (lbroute-dataplane) -> backends. Held-open connections (the lab's hold probe, from the
client namespace behind the router, through the data plane to the backends' echo) across every
change of the router's next-hops and of the backends, with nft-dsr and with nft-nat, so that
each test proves the difference; and every LB's kernel computing the same backend for a flow."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from lbroute.core import maglev
from lbroute.lab.dataplane import Backends
from lbroute.lab.hold import HoldReport, hold_during
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Node
from lbroute.polling import eventually
from tests.support.cli import lab_cli
from tests.support.dataplane import kernel_hash, kernel_pins
from tests.support.lab import LabFactory

VIP = "10.1.1.1"
HELD = 100


def hold(lab: Lab, disruption: Callable[[], object]) -> HoldReport:
    """HELD connections, a line each way every 0.3 s, lost when an echo is 3 s late; held on
    1.2 s (four rounds) once the disruption is over."""
    result = hold_during(lab, VIP, HELD, 1.2, disruption, interval=0.3, timeout=3.0)
    assert result["held"] == HELD and not result["open_failures"], result
    assert result["answered_by"] == "backend" and not result["by_lb"], result
    return result


@pytest.mark.parametrize("driver", ["nft-dsr", "nft-nat"])
def test_lb_leaving_joining_and_draining_keep_every_connection_only_with_dsr(
    make_lab: LabFactory, driver: str
) -> None:
    lab = make_lab(lbs=3, dataplane=driver, backends=3)
    left = hold(lab, lambda: lab.scale(2, kill=True))
    joined = hold(lab, lambda: lab.scale(3))
    drained = hold(lab, lambda: lab.scale(2))
    lost = {"left": left["lost"], "joined": joined["lost"], "drained": drained["lost"]}
    if driver == "nft-dsr":
        assert lost == {"left": 0, "joined": 0, "drained": 0}, (left, joined, drained)
    else:
        # the flows the router moved reach an LB that never saw them: masqueraded from another
        # address, the backend answers with a reset (about a third of them, and more with
        # hash-threshold ECMP, which moves flows between the LBs that stay too)
        for what, n in lost.items():
            assert n >= HELD // 10, f"{what}: only {n} of {HELD} broke under NAT: {left, joined, drained}"
        assert {"reset"} >= set(left["lost_by_kind"]) | set(joined["lost_by_kind"]) | set(
            drained["lost_by_kind"]
        )


@pytest.mark.parametrize("driver", ["nft-dsr", "nft-nat"])
def test_a_backend_leaving_resets_only_its_own_flows_and_one_joining_none(
    make_lab: LabFactory, driver: str
) -> None:
    lab = make_lab(lbs=3, dataplane=driver, backends=3)
    joined = hold(lab, lambda: lab.set_backends(Backends((1, 2, 3, 4))))
    assert joined["lost"] == 0, joined
    left = hold(lab, lambda: lab.set_backends(Backends((1, 2, 3))))
    by_backend = left["by_backend"]
    assert by_backend["web4"]["lost"] == by_backend["web4"]["held"] > 0, left
    assert all(v["lost"] == 0 for k, v in by_backend.items() if k != "web4"), left


def test_lab_hold_holds_through_the_data_plane_and_reports_per_backend(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=2, dataplane="nft-dsr", backends=2)
    out = lab_cli(lab, "hold", "--connections", "40", "--seconds", "1", "--json")
    report = json.loads(out.stdout)
    assert report["answered_by"] == "backend" and report["by_lb"] == {} and report["held"] == 40, report
    assert set(report["by_backend"]) == {"web1", "web2"}, report
    assert sum(c["held"] for c in report["by_backend"].values()) == 40 and report["lost"] == 0, report


def test_every_lb_computes_the_same_backend_for_a_flow(make_lab: LabFactory) -> None:
    """Asserted from the LBs' kernels: each holds the same Maglev table and hash parameters,
    and a flow the router moves from one LB to another is pinned to the same backend there."""
    lab = make_lab(lbs=3, dataplane="nft-dsr", backends=3)
    room = lab.dataplane
    assert room is not None
    tables = {i: room.kernel_buckets(i) for i in (1, 2, 3)}
    assert tables[1] == tables[2] == tables[3] == Backends((1, 2, 3)).table()
    assert {i: kernel_hash(lab.topology.lb_ns(i)) for i in (1, 2, 3)} == {
        i: [(4093, 0x5EED)] for i in (1, 2, 3)
    }
    before: dict[int, dict[tuple[str, int], str]] = {}

    def drain_lb3() -> None:
        for i in (1, 2, 3):
            before[i] = kernel_pins(lab.topology.lb_ns(i))
        lab.scale(2)

    result = hold(lab, drain_lb3)
    assert result["lost"] == 0, result
    moved = before[3]
    assert len(moved) >= 10, f"only {len(moved)} held flows went through lb3"
    after = {**kernel_pins(lab.topology.lb_ns(1)), **kernel_pins(lab.topology.lb_ns(2))}
    arrived = {flow: backend for flow, backend in moved.items() if flow in after}
    assert len(arrived) == len(moved), f"{len(moved) - len(arrived)} of lb3's flows are pinned nowhere now"
    assert {flow: after[flow] for flow in arrived} == arrived  # the same backend on the new LB
    assert maglev.backend_order(arrived.values()) == ["172.16.200.11", "172.16.200.12", "172.16.200.13"]


def test_the_vip_is_withdrawn_only_when_no_backend_is_ready(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=2, dataplane="nft-dsr", backends=2)
    lab.set_backends(Backends((1,), draining=(2,)))
    assert lab.router_fib() == {f"{VIP}/32": frozenset({Node(1).ip, Node(2).ip})}
    lab.set_backends(Backends((), draining=(1, 2)))
    lab.router.wait_fib({}, 10, what="the VIP withdrawn by both LBs")
    room = lab.dataplane
    assert room is not None and room.kernel_buckets(1) == Backends((1,)).table()  # kept, not emptied
    lab.set_backends(Backends((1, 2)))
    eventually(lambda: _fib_is(lab, {Node(1).ip, Node(2).ip}), 15, what="the VIP back")


def _fib_is(lab: Lab, hops: set[str]) -> None:
    assert lab.router_fib() == {f"{VIP}/32": frozenset(hops)}, lab.router_fib()


@pytest.mark.parametrize("second_chance", [True, False])
def test_the_second_chance_keeps_flows_a_backend_change_and_an_lb_leaving_moved(
    make_lab: LabFactory, second_chance: bool
) -> None:
    """A backend joins while connections are held (each LB keeps its flows pinned), then an LB
    drains: its flows reach LBs that never pinned them and take the new table, so those whose
    bucket went to the new backend arrive where they have no socket. The new backend passes
    each such packet to the bucket's owner before, who has the connection."""
    lab = make_lab(lbs=3, dataplane="nft-dsr", backends=3)
    room = lab.dataplane
    assert room is not None
    if not second_chance:
        room.set_second_chance(False)
        eventually(lambda: _second_chance_chains(lab, 3, present=False), 10, what="no second chance")

    def join_then_drain() -> None:
        lab.set_backends(Backends((1, 2, 3, 4)))
        lab.scale(2)

    result = hold(lab, join_then_drain)
    if second_chance:
        assert result["lost"] == 0, result
    else:
        assert 0 < result["lost"] < HELD // 3, result
        assert set(result["lost_by_kind"]) == {"reset"}, result


def _second_chance_chains(lab: Lab, backends: int, *, present: bool) -> None:
    from lbroute.kernel.nft import Nft

    for k in range(1, backends + 1):
        observed = Nft(netns=f"{lab.prefix}-web{k}").read("ip", "lbroute_realserver", [])
        assert observed is not None and (observed.chain("second_chance") is not None) is present, k
