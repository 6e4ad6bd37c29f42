"""Bad input where it bit a running announcer: one clear line and exit 2 before anything reaches
exabgp, or the drain's withdrawal first whatever else fails."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lbroute.polling import until
from tests.support.exabgp_play import PlayExabgp, expect

NH = "10.0.0.11"
ANNOUNCE = f"announce route 10.1.1.1/32 next-hop {NH}"
WITHDRAW = f"withdraw route 10.1.1.1/32 next-hop {NH}"


def write(tmp_path: Path, **extra: Any) -> Path:
    cfg = {
        "next_hop": NH,
        "services": [{"name": "web", "vips": ["10.1.1.1/32"]}],
        "drain_seconds": 0,
        "metrics": {"port": 0},
        **extra,
    }
    path = tmp_path / "announcer.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


Start = Callable[..., PlayExabgp]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[PlayExabgp] = []

    def make(**extra: Any) -> PlayExabgp:
        started.append(PlayExabgp(write(tmp_path, **extra)))
        return started[-1]

    yield make
    for play in started:
        play.kill()


def refused_at_start(exabgp: PlayExabgp) -> str:
    """exit 2, nothing sent to exabgp, one line on stderr; that line."""
    code, err = exabgp.finish()
    assert exabgp.buffer == b""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    return lines[0]


def test_a_busy_metrics_port_is_one_line_and_exit_2(start: Start, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused_at_start(start(metrics={"address": "127.0.0.1", "port": port}))
    assert line == (
        f"{tmp_path / 'announcer.yaml'}: metrics: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_metrics_on_the_pods_address_need_that_address(start: Start, tmp_path: Path) -> None:
    line = refused_at_start(start(metrics={"address_env": "LBROUTE_TEST_UNSET_POD_IP", "port": 9473}))
    assert line == (
        f"{tmp_path / 'announcer.yaml'}: metrics.address_env: $LBROUTE_TEST_UNSET_POD_IP is empty; give the "
        "pod LBROUTE_TEST_UNSET_POD_IP from status.podIP, or set address"
    )


def test_a_missing_control_socket_directory_is_one_line_and_exit_2(start: Start, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "announcer.sock"
    line = refused_at_start(start(control_socket=str(path)))
    assert line == (
        f"{tmp_path / 'announcer.yaml'}: control_socket: cannot listen on {path}: No such file or directory"
    )


def test_a_file_at_the_control_socket_path_is_neither_removed_nor_used(start: Start, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    line = refused_at_start(start(control_socket=str(precious)))
    assert "exists and is not a socket; remove it or choose another control_socket" in line
    assert precious.read_text() == "keep me\n"


def test_sigterm_withdraws_even_when_the_drain_marker_cannot_be_written(start: Start, tmp_path: Path) -> None:
    marker = tmp_path / "no-such-dir" / "drained"
    exabgp = start(drain_marker=str(marker))
    expect(exabgp, ANNOUNCE)
    exabgp.proc.send_signal(signal.SIGTERM)
    expect(exabgp, WITHDRAW)
    code, err = exabgp.finish()
    assert code == 0, err
    assert "announcer.drain.marker_failed" in err and "No such file or directory" in err
    assert err.index("announcer.vip.withdrawn") < err.index("announcer.drain.marker_failed")
    assert "announcer.exit" in err and "Traceback" not in err


def test_the_drain_marker_never_overwrites_a_file(start: Start, tmp_path: Path) -> None:
    """A file already at the marker's path is an earlier drain's marker: the announcer starts
    drained, and it is left as it was."""
    marker = tmp_path / "drained"
    marker.write_text("someone else's\n")
    exabgp = start(drain_marker=str(marker))
    expect(exabgp, WITHDRAW)  # started drained: what a predecessor may have left is withdrawn
    exabgp.proc.send_signal(signal.SIGTERM)
    code, err = exabgp.finish()
    assert code == 0, err
    assert marker.read_text() == "someone else's\n"


def test_a_drain_is_not_held_up_by_an_idle_client(start: Start, tmp_path: Path) -> None:
    sock_path = tmp_path / "announcer.sock"
    exabgp = start(control_socket=str(sock_path), drain_seconds=0.2)
    expect(exabgp, ANNOUNCE)
    until(sock_path.exists, 10, what="control socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(sock_path))  # connects and says nothing
        drain = subprocess.Popen(
            [sys.executable, "-m", "announcer.main", "drain", "--socket", str(sock_path), "--timeout", "10"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # one client at a time would read the idle one for 5 s before reaching the drain
            expect(exabgp, WITHDRAW, timeout=3)
            assert drain.wait(timeout=3) == 0
        finally:
            if drain.poll() is None:
                drain.kill()
            drain.communicate()
        idle.settimeout(0)
        with pytest.raises(BlockingIOError):
            idle.recv(64)  # the idle client is still connected, still waited for
