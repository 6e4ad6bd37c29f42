"""The one runner of kernel tools (``lbroute.kernel.ip.run``) that ``ip``, next-hop groups and
``nft`` go through: a tool that does not answer in time is an ``IpCommandError``, not a hang,
and a refusal carries its exit status."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lbroute.kernel import ip, nexthops
from lbroute.kernel.nft import Nft, NftError

SLEEP = "/usr/bin/sleep"


def test_a_tool_that_does_not_answer_in_time_is_an_error_with_no_exit_status() -> None:
    started = time.monotonic()
    with pytest.raises(ip.IpCommandError) as caught:
        ip.run([SLEEP, "5"], timeout=0.2)
    assert caught.value.returncode is None and time.monotonic() - started < 4


def test_a_refusal_carries_the_exit_status() -> None:
    with pytest.raises(ip.IpCommandError) as caught:
        ip.run(["/usr/bin/sh", "-c", "echo no >&2; exit 3"])
    assert caught.value.returncode == 3 and caught.value.stderr == "no\n"


def test_next_hop_reads_time_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hanging = tmp_path / "ip"
    hanging.write_text(f"#!/bin/sh\nexec {SLEEP} 5\n")
    hanging.chmod(0o755)
    monkeypatch.setattr(nexthops, "IP", str(hanging))
    monkeypatch.setattr(ip, "TIMEOUT_SECONDS", 0.2)
    with pytest.raises(ip.IpCommandError):
        nexthops.Kernel().observe()
    with pytest.raises(ip.IpCommandError):
        nexthops.Kernel().buckets()


def test_nft_errors_are_the_runners_and_keep_their_exit_status() -> None:
    with pytest.raises(NftError) as caught:
        Nft(binary=Path(SLEEP), timeout=0.2).run("5")
    assert isinstance(caught.value, ip.IpCommandError) and caught.value.returncode is None
    with pytest.raises(NftError) as caught:
        Nft(binary=Path("/usr/bin/false")).run("list", "tables")
    assert caught.value.returncode == 1 and str(caught.value) == "nft list tables: exit status 1"
    with pytest.raises(NftError):
        Nft(binary=Path("/nonexistent/nft")).run("list")
