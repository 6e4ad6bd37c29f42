"""Issue #14 against real gobgpd 4.8, FRR bfdd, zebra and exabgp: a host that goes silent
(``lab hang``: every frame on its link dropped, or its processes stopped) leaves the
router's FIB within a second with BFD, and only at the hold timer without; with two RRs a
hung RR costs no VIP; with one RR the router runs no BFD towards it and graceful restart
keeps the FIB whole through its restart."""

from __future__ import annotations

import time

import pytest
import structlog

from lbroute.core.session import Session
from lbroute.gobgp.client import GobgpClient
from lbroute.lab.fib_sampler import FibSampler
from lbroute.lab.lab import Lab
from lbroute.lab.scenario import DEFAULT_BFD
from lbroute.lab.topology import Node
from lbroute.polling import eventually
from tests.support.fib import VIP, assert_watched, wait_fib
from tests.support.lab import LabFactory

log = structlog.get_logger()

# 300 ms x 3 detects 0.9 s after the last packet heard, at most; the hold timer (3 s, the lab's
# speakers) at 2 s or more after the last keepalive (sent every second)
BFD_BOUND = 1.0


def rr_sessions(lab: Lab, who: str = "rr") -> list[Session]:
    with GobgpClient(str(lab.socket(who)), timeout=2.0) as client:
        return client.list_sessions(who)


def speakers_bfd_up(lab: Lab, who: str, count: int) -> None:
    """``count`` LB speakers established at ``who``, each with its BFD session up."""
    sessions = [s for s in rr_sessions(lab, who) if s.group == "lb-speakers"]
    assert len(sessions) == count and all(s.established and s.bfd_up for s in sessions), sessions


@pytest.mark.parametrize(
    ("bfd", "stop"),
    [(DEFAULT_BFD, False), (DEFAULT_BFD, True), (None, False)],
    ids=["bfd-frames-dropped", "bfd-sigstop", "hold-timer-frames-dropped"],
)
def test_a_hung_lb_node_leaves_the_fib_within_a_second_with_bfd_and_comes_back(
    make_lab: LabFactory, bfd: tuple[int, int] | None, stop: bool
) -> None:
    lab = make_lab(lbs=2, bfd=bfd)
    n1, n2 = Node(1).ip, Node(2).ip
    wait_fib(lab, {n1, n2})
    if bfd:
        # the RR's BFD with both pods' bfdd (and with the router: none, there is one RR)
        eventually(lambda: speakers_bfd_up(lab, "rr", 2), 10, what="BFD up", context=lab.logs_tail)
        [towards_rr] = lab.router.sessions()
        assert towards_rr.bfd == "", towards_rr
    lab.hang("lb1", stop=stop)
    gone = wait_fib(lab, {n2}, timeout=10)
    # the node answers nothing; the RR finds out by BFD (or its hold timer) alone
    if bfd:
        assert gone < BFD_BOUND, f"lb1's next-hop left the FIB {gone:.3f}s after the hang"
    else:
        assert gone > BFD_BOUND, f"lb1's next-hop left after {gone:.3f}s without BFD: who told?"
    assert "lb1" in lab.faults()["hung"]
    assert lab.unhang("lb1")
    # exabgp reconnects once its TCP session has timed out: seconds, not a bound of ours
    back = wait_fib(lab, {n1, n2}, timeout=30)
    if bfd:
        eventually(lambda: speakers_bfd_up(lab, "rr", 2), 10, what="BFD up again", context=lab.logs_tail)
    assert not lab.unhang("lb1")  # not hung any more
    log.info("test.bfd.hang", op="bfd" if bfd else "hold", seconds=round(gone, 3), count=round(back, 3))


def test_with_two_rrs_a_hung_rr_is_left_within_a_second_and_costs_no_vip(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=2, rrs=2, bfd=DEFAULT_BFD)
    whole = {Node(1).ip, Node(2).ip}
    router = lab.router

    def router_bfd_up() -> None:
        sessions = router.sessions()
        assert len(sessions) == 2 and all(s.established and s.bfd_up for s in sessions), sessions
        paths = router.paths(VIP)
        assert {p.source for p in paths} == {"10.0.0.2", "10.0.0.3"}, paths

    eventually(router_bfd_up, 15, what="router-RR BFD up, paths via both", context=lab.logs_tail)
    with FibSampler(lab.topology.router_ns, VIP) as fib:
        lab.hang("rr")
        hung = time.monotonic()

        def rr1_left() -> None:
            by_rr = {s.neighbor: s for s in router.sessions()}
            # absent counts as left: the router's manager re-arms a dropped peer (deleted and
            # added again), and a read can fall between the two
            towards = by_rr.get("10.0.0.2")
            assert towards is None or not towards.established, towards
            assert {p.source for p in router.paths(VIP)} == {"10.0.0.3"}

        eventually(rr1_left, 10, interval=0.005, what="the router leaving the hung RR", context=lab.logs_tail)
        left = time.monotonic() - hung
        lab.unhang("rr")
        eventually(router_bfd_up, 30, what="RR 1 back", context=lab.logs_tail)
    # BFD, not the router-RR hold timer (9 s): within a second of the hang
    assert left < BFD_BOUND, f"the router left the hung RR after {left:.3f}s"
    assert_watched(fib.samples)
    lost = [hops for _, hops in fib.samples if hops != whole]
    assert not lost, f"{len(lost)} of {len(fib.samples)} samples missed a next-hop, e.g. {sorted(lost[0])}"
    log.info("test.bfd.rr_hang", count=len(fib.samples), seconds=round(left, 3))


def test_with_one_rr_graceful_restart_not_bfd_keeps_the_fib_whole_through_a_kill_9(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(lbs=2, graceful_restart=30, bfd=DEFAULT_BFD)
    whole = {Node(1).ip, Node(2).ip}
    wait_fib(lab, whole)
    eventually(lambda: speakers_bfd_up(lab, "rr", 2), 10, what="BFD up", context=lab.logs_tail)
    # BFD with the LB pods, none between the router and its only RR
    assert {(s.neighbor, s.bfd) for s in rr_sessions(lab) if s.neighbor == "10.0.0.1"} == {("10.0.0.1", "")}
    [towards_rr] = lab.router.sessions()
    assert (towards_rr.bfd, towards_rr.graceful_restart) == ("", "helper"), towards_rr
    with FibSampler(lab.topology.router_ns, VIP) as fib:
        answered = lab.restart("rr")

        def settled() -> None:
            [session] = lab.router.sessions()
            assert session.established and session.stale == 0, session
            speakers_bfd_up(lab, "rr", 2)  # the speakers' BFD with the new gobgpd

        eventually(settled, 30, what="router-RR session back, speakers' BFD up", context=lab.logs_tail)
    assert_watched(fib.samples)
    lost = [hops for _, hops in fib.samples if hops != whole]
    assert not lost, f"{len(lost)} of {len(fib.samples)} samples missed a next-hop, e.g. {sorted(lost[0])}"
    log.info("test.bfd.rr_restart", count=len(fib.samples), seconds=round(time.monotonic() - answered, 3))
