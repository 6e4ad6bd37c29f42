"""The announcer's pure decisions, and the real process driven through exabgp's pipe protocol."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from announcer.main import Announcer
from announcer.protocol import Answer, classify
from announcer.state import Route, ServiceRoutes, commands, desired_routes
from lbroute.polling import eventually

NH = "10.0.0.11"


def routes(*prefixes: str, nh: str = NH) -> frozenset[Route]:
    return frozenset(Route(p, nh) for p in prefixes)


def test_announce_command_names_the_node_as_next_hop() -> None:
    r = Route("10.1.1.1/32", NH, ("65021:100",), med=10, local_preference=200)
    assert r.announce_command() == (
        "announce route 10.1.1.1/32 next-hop 10.0.0.11 med 10 local-preference 200 community [65021:100]"
    )
    assert r.withdraw_command() == "withdraw route 10.1.1.1/32 next-hop 10.0.0.11"
    assert "self" not in r.announce_command()


@pytest.mark.parametrize(
    ("desired", "announced", "expected"),
    [
        (routes("10.1.1.1/32"), routes(), [("announce", "10.1.1.1/32")]),
        (routes("10.1.1.1/32"), routes("10.1.1.1/32"), []),
        (
            routes(),
            routes("10.1.1.1/32", "10.1.2.1/32"),
            [("withdraw", "10.1.1.1/32"), ("withdraw", "10.1.2.1/32")],
        ),
        # next-hop moved: re-announce replaces the path, no withdraw gap
        (routes("10.1.1.1/32", nh="10.0.0.12"), routes("10.1.1.1/32"), [("announce", "10.1.1.1/32")]),
    ],
    ids=["new", "equal", "gone", "moved"],
)
def test_commands_are_the_difference(
    desired: frozenset[Route], announced: frozenset[Route], expected: list[tuple[str, str]]
) -> None:
    assert [(verb, r.prefix) for verb, r in commands(desired, announced)] == expected


def test_desired_routes_cover_every_vip_of_every_service() -> None:
    got = desired_routes(
        [ServiceRoutes("a", ("10.1.1.1/32",)), ServiceRoutes("b", ("10.1.2.1/32", "2001:db8::1/128"))], NH
    )
    assert {r.prefix for r in got} == {"10.1.1.1/32", "10.1.2.1/32", "2001:db8::1/128"}


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("done", Answer.DONE),
        ("error", Answer.ERROR),
        ('{"type": "notification", "notification": "shutdown"}', Answer.SHUTDOWN),
        ('{"type": "state", "neighbor": {}}', Answer.MESSAGE),
        ("{not json", Answer.NOISE),
        ("", Answer.NOISE),
        ("garbage", Answer.NOISE),
    ],
)
def test_classify(line: str, answer: Answer) -> None:
    assert classify(line) is answer


class RecordingChannel:
    """Acks like exabgp; rejects commands for prefixes listed in ``reject``."""

    def __init__(self, reject: set[str] | None = None) -> None:
        self.sent: list[str] = []
        self.reject = reject or set()

    def send(self, command: str, *, timeout: float = 5.0) -> bool:
        self.sent.append(command)
        return command.split()[2] not in self.reject


def test_rejected_announcement_is_not_counted_as_announced() -> None:
    channel = RecordingChannel(reject={"10.1.2.1/32"})
    announcer = Announcer(channel)  # type: ignore[arg-type]
    announcer.converge(routes("10.1.1.1/32", "10.1.2.1/32"))
    assert {r.prefix for r in announcer.announced} == {"10.1.1.1/32"}
    channel.reject.clear()
    announcer.converge(routes("10.1.1.1/32", "10.1.2.1/32"))
    assert channel.sent[-1] == "announce route 10.1.2.1/32 next-hop 10.0.0.11"
    assert len(channel.sent) == 3


# --- the real process, with this test playing exabgp -------------------------------------------


class PlayExabgp:
    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "announcer.main", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.buffer = b""

    def read_command(self, timeout: float = 10.0) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()

        def check() -> str:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                self.buffer += os.read(fd, 4096)
            assert b"\n" in self.buffer, f"no command yet (have {self.buffer!r})"
            line, self.buffer = self.buffer.split(b"\n", 1)
            return line.decode()

        return eventually(check, timeout, interval=0, what="a command from the announcer")

    def answer(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 10.0) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        return code, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "announcer.yaml"
    path.write_text(f"next_hop: {NH}\nservices:\n  - name: web\n    vips: [10.1.1.1/32]\n")
    return path


def test_process_announces_acks_and_withdraws_on_sigterm(config: Path) -> None:
    exabgp = PlayExabgp(config)
    assert exabgp.read_command() == "announce route 10.1.1.1/32 next-hop 10.0.0.11"
    exabgp.answer("done")
    exabgp.answer('{"type": "state", "neighbor": {"state": "up"}}')  # unsolicited: logged, not fatal
    exabgp.proc.send_signal(signal.SIGTERM)
    assert exabgp.read_command() == "withdraw route 10.1.1.1/32 next-hop 10.0.0.11"
    exabgp.answer("done")
    code, err = exabgp.finish()
    assert code == 0, err
    assert "announcer.vip.withdrawn" in err


def test_process_exits_on_stdin_eof(config: Path) -> None:
    exabgp = PlayExabgp(config)
    assert exabgp.read_command().startswith("announce route 10.1.1.1/32")
    exabgp.answer("done")
    assert exabgp.proc.stdin is not None
    exabgp.proc.stdin.close()
    code, err = exabgp.finish()
    assert code == 0
    assert "announcer.exabgp.gone" in err


def test_process_stops_at_once_when_exabgp_shuts_down(config: Path) -> None:
    exabgp = PlayExabgp(config)
    exabgp.read_command()
    exabgp.answer("done")
    exabgp.answer('{"type": "notification", "notification": "shutdown"}')
    code, err = exabgp.finish()
    assert code == 0
    assert "announcer.exabgp.shutdown" in err
