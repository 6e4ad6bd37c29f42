"""Kubernetes outages, in process and on the informers' fake clock: the real informers and
kubernetes client against the HTTP-level fake API server, feeding the announcer's Runner
(lifecycle and Announcer) with a fake exabgp that records every command.

Fail static: an API server that is down for 30 s of the informers' back-off withdraws
nothing, and a change after it gets through at once. The back-off waits are the fake
clock's, so the outage takes as long as the informers need to fail, not 30 s.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from announcer import metrics
from announcer.config import AnnouncerConfig
from announcer.exabgp import Ack
from announcer.kube_source import Stoppable, start_informers
from announcer.lifecycle import Started
from announcer.main import Runner
from announcer.state import NextHops
from lbroute.polling import eventually
from tests.fakes.kube_api import FakeKubeApi
from tests.support.kube_objects import endpoint_slice, service

NH = "10.0.0.11"
OUTAGE = 30.0  # seconds, on each informer's own clock


class FakeExabgp:
    """Acknowledges every command and records it."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, command: str, *, timeout: float = 5.0) -> Ack:
        self.sent.append(command)
        return Ack.DONE


class InformerClock:
    """The informers' ``sleep``: each thread's back-off adds up on its own clock, at once. A
    thread whose clock has passed ``hold_after`` is held (on a real event, bounded) until the
    test lets it go, so "30 s of outage" has really been waited out by every informer."""

    def __init__(self, hold_after: float) -> None:
        self.hold_after = hold_after
        self.slept: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()
        self.released = threading.Event()

    def sleep(self, seconds: float) -> None:
        name = threading.current_thread().name
        with self.lock:
            self.slept[name] += seconds
            total = self.slept[name]
        if total >= self.hold_after:
            self.released.wait(30)

    def waited_out(self, threads: int) -> bool:
        with self.lock:
            return len(self.slept) == threads and all(t >= self.hold_after for t in self.slept.values())


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi().start()
    yield server
    server.stop()


def config(api: FakeKubeApi, gate: bool = True) -> AnnouncerConfig:
    return AnnouncerConfig.model_validate(
        {
            "next_hop": NH,
            "services": [
                {
                    "name": "web",
                    "kubernetes": {"namespace": "web", "name": "front", "withdraw_without_endpoints": gate},
                }
            ],
            "kubernetes": {"server": api.url},
        }
    )


class Harness:
    def __init__(self, cfg: AnnouncerConfig, clock: InformerClock) -> None:
        self.exabgp = FakeExabgp()
        self.runner = Runner(cfg, NextHops(NH), self.exabgp)  # type: ignore[arg-type]
        self.informers: list[Stoppable] = start_informers(cfg, self.runner.put, sleep=clock.sleep)
        self.runner.feed(Started())

    def sent_after_turn(self) -> list[str]:
        self.runner.turn()
        return list(self.exabgp.sent)

    def expect_sent(self, *commands: str) -> None:
        def check() -> None:
            assert self.sent_after_turn() == list(commands)

        eventually(check, 10, what=f"exabgp told {commands}")

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()


@pytest.fixture
def harnesses() -> Iterator[list[Any]]:
    made: list[tuple[Harness, InformerClock]] = []
    yield made
    for harness, clock in made:
        clock.released.set()
        harness.stop()


def test_api_server_down_for_30s_withdraws_nothing(api: FakeKubeApi, harnesses: list[Any]) -> None:
    metrics.enable()  # the real registry, as with metrics on: the gauge below is read from it
    api.put("endpointslices", endpoint_slice(True))
    api.put("services", service("10.1.1.1"))
    clock = InformerClock(hold_after=OUTAGE)
    harness = Harness(config(api), clock)
    harnesses.append((harness, clock))
    harness.expect_sent(f"announce route 10.1.1.1/32 next-hop {NH}")
    api.go_down()

    def both_informers_waited_out_the_outage() -> None:
        harness.runner.turn()
        assert clock.waited_out(threads=2), dict(clock.slept)

    eventually(both_informers_waited_out_the_outage, 20, what=f"{OUTAGE:g} s of back-off in each informer")
    assert metrics.REGISTRY.get_sample_value("lbroute_announcer_kube_synced") == 0  # stale, and said so
    assert harness.sent_after_turn() == [f"announce route 10.1.1.1/32 next-hop {NH}"]  # not one command
    api.come_back()
    clock.released.set()
    # a change after the outage gets through
    api.put("services", service("10.1.1.1", "10.1.1.3"))
    harness.expect_sent(
        f"announce route 10.1.1.1/32 next-hop {NH}", f"announce route 10.1.1.3/32 next-hop {NH}"
    )


def test_never_listed_decides_nothing(api: FakeKubeApi, harnesses: list[Any]) -> None:
    """Started while the API server is unreachable: no VIP is known, so nothing is sent."""
    api.go_down()
    clock = InformerClock(hold_after=5.0)
    harness = Harness(config(api, gate=False), clock)
    harnesses.append((harness, clock))

    def informer_waited() -> None:
        harness.runner.turn()
        assert clock.waited_out(threads=1), dict(clock.slept)

    eventually(informer_waited, 20, what="5 s of back-off")
    assert harness.sent_after_turn() == []
    api.put("services", service("10.1.1.1"))
    api.come_back()
    clock.released.set()
    harness.expect_sent(f"announce route 10.1.1.1/32 next-hop {NH}")


def test_malformed_objects_from_the_api_withdraw_nothing(api: FakeKubeApi, harnesses: list[Any]) -> None:
    """A Service and an EndpointSlice with fields of the wrong type (found by
    tests/unit/test_properties_kube.py): they say nothing, the watch goes on (no relist), and
    the next good version is followed."""
    api.put("endpointslices", endpoint_slice(True))
    api.put("services", service("10.1.1.1"))
    clock = InformerClock(hold_after=OUTAGE)
    harness = Harness(config(api), clock)
    harnesses.append((harness, clock))
    harness.expect_sent(f"announce route 10.1.1.1/32 next-hop {NH}")
    api.put("services", {**service(), "status": "garbage"})
    api.put("endpointslices", {**endpoint_slice(), "endpoints": [{"conditions": {"ready": "no"}}, 7]})
    api.put("services", {**service(), "status": {"loadBalancer": {"ingress": [{"ip": 167837955}]}}})
    api.put("services", service("10.1.1.1", "10.1.1.3"))
    harness.expect_sent(
        f"announce route 10.1.1.1/32 next-hop {NH}", f"announce route 10.1.1.3/32 next-hop {NH}"
    )
    assert [getattr(i, "relists", None) for i in harness.informers] == [1, 1]  # never crashed, never relisted
