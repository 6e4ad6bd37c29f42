"""The real announcer process as a sidecar, with this test playing exabgp on its pipes:
health checks, the maintenance switch, the drain protocol, a respawn, error answers."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from lbroute.polling import eventually, until
from tests.support.exabgp_play import PlayExabgp, expect, no_command_within

NH = "10.0.0.11"
ANNOUNCE = f"announce route 10.1.1.1/32 next-hop {NH}"
WITHDRAW = f"withdraw route 10.1.1.1/32 next-hop {NH}"


def write_config(tmp_path: Path, **extra: object) -> Path:
    broken = tmp_path / "broken"
    cfg = {
        "next_hop": NH,
        "services": [
            {
                "name": "web",
                "vips": ["10.1.1.1/32"],
                # an exec check steered by a file: fails while ``broken`` exists
                "check": {
                    "kind": "exec",
                    "command": ["/bin/sh", "-c", f"test ! -e {broken}"],
                    "interval": 0.05,
                    "timeout": 0.05,
                    "rise": 2,
                    "fall": 2,
                },
            }
        ],
        "maintenance_file": str(tmp_path / "maintenance"),
        "control_socket": str(tmp_path / "announcer.sock"),
        "drain_marker": str(tmp_path / "drained"),
        "drain_seconds": 0.3,
        **extra,
    }
    path = tmp_path / "announcer.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


Start = Callable[..., PlayExabgp]


@pytest.fixture
def announcer(tmp_path: Path) -> Iterator[Start]:
    started: list[PlayExabgp] = []

    def start(**extra: object) -> PlayExabgp:
        exabgp = PlayExabgp(write_config(tmp_path, **extra))
        started.append(exabgp)
        return exabgp

    yield start
    for exabgp in started:
        exabgp.kill()


def test_check_failure_withdraws_and_recovery_announces(announcer: Start, tmp_path: Path) -> None:
    exabgp = announcer()
    expect(exabgp, ANNOUNCE)
    (tmp_path / "broken").touch()
    expect(exabgp, WITHDRAW)
    (tmp_path / "broken").unlink()
    expect(exabgp, ANNOUNCE)


def test_maintenance_file_and_signals_withdraw_while_healthy(announcer: Start, tmp_path: Path) -> None:
    exabgp = announcer()
    expect(exabgp, ANNOUNCE)
    (tmp_path / "maintenance").touch()
    expect(exabgp, WITHDRAW)
    (tmp_path / "maintenance").unlink()
    expect(exabgp, ANNOUNCE)
    exabgp.proc.send_signal(signal.SIGUSR1)
    expect(exabgp, WITHDRAW)
    exabgp.proc.send_signal(signal.SIGUSR2)
    expect(exabgp, ANNOUNCE)


def test_a_service_without_a_check_returns_after_maintenance(announcer: Start, tmp_path: Path) -> None:
    exabgp = announcer(services=[{"name": "web", "vips": ["10.1.1.1/32"]}])
    expect(exabgp, ANNOUNCE)
    (tmp_path / "maintenance").touch()
    expect(exabgp, WITHDRAW)
    (tmp_path / "maintenance").unlink()
    expect(exabgp, ANNOUNCE)


def drain_client(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "announcer.main", "drain", "--socket", str(tmp_path / "announcer.sock")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_drain_withdraws_waits_for_the_ack_then_the_period(announcer: Start, tmp_path: Path) -> None:
    exabgp = announcer()
    expect(exabgp, ANNOUNCE)
    until(lambda: (tmp_path / "announcer.sock").exists(), 10, what="control socket")
    client = drain_client(tmp_path)
    assert exabgp.read_command() == WITHDRAW
    # no answer yet: the drain client must still be waiting
    no_command_within(exabgp, 0.2)
    assert client.poll() is None
    exabgp.answer("done")
    assert client.wait(timeout=10) == 0
    _, err = client.communicate()
    assert '"op": "withdrawn"' in err and '"op": "drained"' in err
    # a second client (the data plane's preStop hook) hears at once that it is over
    second = drain_client(tmp_path)
    assert second.wait(timeout=10) == 0
    second.communicate()
    # draining is terminal: a healthy check announces nothing, the announcer stays until exabgp goes
    no_command_within(exabgp, 0.3)
    assert exabgp.proc.poll() is None
    assert (tmp_path / "drained").exists()


def test_sigterm_drains_and_exits_0_after_the_period(announcer: Start) -> None:
    exabgp = announcer(drain_seconds=0.5)
    expect(exabgp, ANNOUNCE)
    exabgp.proc.send_signal(signal.SIGTERM)
    expect(exabgp, WITHDRAW)
    code, err = exabgp.finish()
    assert code == 0, err
    assert "announcer.drain.done" in err and "announcer.exit" in err


def test_a_respawn_during_drain_stays_drained(announcer: Start, tmp_path: Path) -> None:
    (tmp_path / "drained").write_text("draining\n")
    exabgp = announcer()
    # whatever the predecessor left in exabgp is withdrawn explicitly, nothing announced
    expect(exabgp, WITHDRAW)
    no_command_within(exabgp, 0.3)


def test_respawn_while_unhealthy_withdraws_what_exabgp_may_hold(announcer: Start, tmp_path: Path) -> None:
    (tmp_path / "broken").touch()
    exabgp = announcer()
    expect(exabgp, WITHDRAW)
    no_command_within(exabgp, 0.3)


def test_error_answer_is_counted_and_retried_and_noise_is_not_fatal(announcer: Start) -> None:
    exabgp = announcer()
    exabgp.answer("this is not exabgp talking")
    exabgp.answer("{broken json")
    expect(exabgp, ANNOUNCE, answer="error")
    # retried with the latest desired state, once a second
    expect(exabgp, ANNOUNCE)
    no_command_within(exabgp, 0.3)
    exabgp.proc.send_signal(signal.SIGTERM)
    expect(exabgp, WITHDRAW)
    code, err = exabgp.finish()
    assert code == 0, err
    assert "announcer.ack.error" in err and "announcer.exabgp.message" in err


def test_metrics_listen_on_the_configured_address(announcer: Start, tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exabgp = announcer(metrics={"address": "127.0.0.1", "port": port})
    expect(exabgp, ANNOUNCE)

    def scrape() -> str:
        try:
            text: str = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError as err:
            raise AssertionError(str(err)) from None
        assert 'lbroute_announcer_vip_announced{prefix="10.1.1.1/32",service="web"} 1.0' in text, text[-500:]
        return text

    text = eventually(scrape, 10, what="metrics")
    assert 'lbroute_announcer_acks_total{answer="done"} 1.0' in text
    assert 'lbroute_announcer_service_phase{phase="up",service="web"} 1.0' in text
    assert 'lbroute_announcer_checks_total{result="ok",service="web"}' in text
