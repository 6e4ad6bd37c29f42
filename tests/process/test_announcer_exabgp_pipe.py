"""The real announcer process, with this test playing exabgp on its pipes: announce, ack,
withdraw on SIGTERM, the ways exabgp goes away, and whatever else may arrive on stdin."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from announcer.protocol import MAX_LINE
from tests.support.exabgp_play import PlayExabgp, expect

NH = "10.0.0.11"
ANNOUNCE = f"announce route 10.1.1.1/32 next-hop {NH}"
WITHDRAW = f"withdraw route 10.1.1.1/32 next-hop {NH}"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "announcer.yaml"
    path.write_text(f"next_hop: {NH}\ndrain_seconds: 0\nservices:\n  - name: web\n    vips: [10.1.1.1/32]\n")
    return path


@pytest.fixture
def start(config: Path) -> Iterator[Callable[[], PlayExabgp]]:
    started: list[PlayExabgp] = []

    def make() -> PlayExabgp:
        started.append(PlayExabgp(config))
        return started[-1]

    yield make
    for play in started:
        play.kill()


def test_process_announces_acks_and_withdraws_on_sigterm(start: Callable[[], PlayExabgp]) -> None:
    exabgp = start()
    expect(exabgp, ANNOUNCE)
    exabgp.answer('{"type": "state", "neighbor": {"state": "up"}}')  # unsolicited: logged, not fatal
    exabgp.proc.send_signal(signal.SIGTERM)
    expect(exabgp, WITHDRAW)
    code, err = exabgp.finish()
    assert code == 0, err
    assert "announcer.vip.withdrawn" in err


def test_process_exits_on_stdin_eof(start: Callable[[], PlayExabgp]) -> None:
    exabgp = start()
    expect(exabgp, ANNOUNCE)
    assert exabgp.proc.stdin is not None
    exabgp.proc.stdin.close()
    code, err = exabgp.finish()
    assert code == 0
    assert "announcer.exabgp.gone" in err


def test_process_stops_at_once_when_exabgp_shuts_down(start: Callable[[], PlayExabgp]) -> None:
    exabgp = start()
    expect(exabgp, ANNOUNCE)
    exabgp.answer('{"type": "notification", "notification": "shutdown"}')
    code, err = exabgp.finish()
    assert code == 0
    assert "announcer.exabgp.shutdown" in err


def test_garbage_on_stdin_is_logged_and_the_channel_lives_on(start: Callable[[], PlayExabgp]) -> None:
    """Before the ack it waits for: noise, binary, a line ten times MAX_LINE, JSON nested
    20,000 deep (a RecursionError in json.loads). The ack after them still counts."""
    exabgp = start()
    assert exabgp.read_command() == ANNOUNCE
    exabgp.answer("this is not exabgp talking")
    exabgp.answer(bytes(range(256)).replace(b"\n", b""))
    exabgp.answer(b"x" * (10 * MAX_LINE))
    exabgp.answer("{" + '"a":[' * 20000)
    exabgp.answer("[" * 20000 + "]" * 20000)
    exabgp.answer(json.dumps({"type": "state", "neighbor": {"address": {"peer": "10.0.0.2"}}}))
    exabgp.answer("done")
    exabgp.proc.send_signal(signal.SIGTERM)
    expect(exabgp, WITHDRAW)  # answered: the ack above was read as the announcement's
    code, err = exabgp.finish()
    assert code == 0, err[-2000:]
    assert "Traceback" not in err and "RecursionError" not in err
    assert err.count("announcer.exabgp.line_too_long") == 1
    assert "announcer.ack.timeout" not in err


def test_a_dual_stack_service_is_announced_via_each_familys_next_hop(tmp_path: Path) -> None:
    """next_hop from the file, the IPv6 one from $NODE_IP6 as the downward API would give it."""
    config = tmp_path / "dual.yaml"
    config.write_text(
        f"next_hop: {NH}\ndrain_seconds: 0\nmetrics: {{port: 0}}\n"
        "services:\n  - name: web\n    vips: [10.1.1.1/32, 2001:db8::1/128]\n"
    )
    exabgp = PlayExabgp(config, env={**os.environ, "NODE_IP6": "fd00::11"})
    try:
        expect(exabgp, ANNOUNCE, "announce route 2001:db8::1/128 next-hop fd00::11")
        exabgp.proc.send_signal(signal.SIGTERM)
        expect(exabgp, WITHDRAW, "withdraw route 2001:db8::1/128 next-hop fd00::11")
        code, err = exabgp.finish()
        assert code == 0, err
    finally:
        exabgp.kill()
