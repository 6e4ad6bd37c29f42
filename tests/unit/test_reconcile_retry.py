"""Transient gRPC failures are retried; anything else surfaces at once."""

from __future__ import annotations

import grpc
import pytest

from rr.config import RrConfig
from rr.desired import desired_config
from rr.reconcile import MAX_BACKOFF, Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.unit.test_bgp_plan import RR


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"fake {self._code.name}"


def test_unavailable_is_retried_until_the_daemon_answers() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [FakeRpcError(grpc.StatusCode.UNAVAILABLE)] * 3
    waits: list[float] = []
    reconciler = Reconciler(daemon, desired_config(RrConfig.model_validate(RR)), sleep=waits.append)
    done = reconciler.reconcile(give_up_after=10)
    assert daemon.fail_next == []
    assert len(waits) == 3 and all(0 <= w <= MAX_BACKOFF for w in waits)
    assert len(done.operations) == 8
    assert daemon.config.global_ is not None


def test_invalid_argument_is_not_retried() -> None:
    daemon = FakeGobgpd()
    daemon.fail_next = [
        FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT),
        FakeRpcError(grpc.StatusCode.UNAVAILABLE),
    ]
    waits: list[float] = []
    with pytest.raises(grpc.RpcError):
        Reconciler(daemon, desired_config(RrConfig.model_validate(RR)), sleep=waits.append).reconcile()
    assert len(daemon.fail_next) == 1
    assert waits == []
