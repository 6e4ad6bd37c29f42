"""Run iproute2 (which speaks netlink), and the other kernel tools (``nft``, ``sysctl``), in the
root namespace or inside a named one: one runner, ``run``, with one error and one timeout."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

IP = "/usr/sbin/ip"
# a kernel tool that has not answered in this long will not: its caller is told, not hung
TIMEOUT_SECONDS = 30.0


class IpCommandError(RuntimeError):
    """A kernel tool refused (``returncode``: its exit status) or did not answer in time
    (``returncode`` None); ``stderr`` says why."""

    def __init__(self, args: Sequence[str], stderr: str, returncode: int | None = None) -> None:
        super().__init__(f"{' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr
        self.returncode = returncode


def run(
    argv: Sequence[str],
    *,
    stdin: str | None = None,
    timeout: float | None = None,
    netns: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``argv`` (inside ``netns`` when one is named), its output as text. A non-zero exit
    status (with ``check``) or no answer within ``timeout`` (default ``TIMEOUT_SECONDS``) raises
    ``IpCommandError``."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    cmd = netns_exec(netns, *argv) if netns else list(argv)
    try:
        result = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise IpCommandError(cmd, f"no answer within {timeout:g} s") from None
    if check and result.returncode != 0:
        raise IpCommandError(cmd, result.stderr, result.returncode)
    return result


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    return run([IP, *(["-n", netns] if netns else []), *args], check=check).stdout


def ip_json(*args: str, netns: str | None = None) -> Any:
    out = ip("-j", *args, netns=netns)
    return json.loads(out) if out.strip() else []


def batch(commands: list[str]) -> None:
    """Many ``ip`` commands in one process: ``ip -batch -`` (each line may carry ``-n NS``)."""
    if not commands:
        return
    run([IP, "-force", "-batch", "-"], stdin="\n".join(commands) + "\n")


def netns_exec(netns: str, *argv: str) -> list[str]:
    """The argv that runs a program inside ``netns`` (``ip netns exec`` then execs it: same PID)."""
    return [IP, "netns", "exec", netns, *argv]


def list_netns() -> list[str]:
    return [entry["name"] for entry in ip_json("netns", "list")]


def sysctl(netns: str | None, key: str, value: str) -> None:
    """Set ``key`` inside ``netns`` (None: the caller's own namespace)."""
    run(["sysctl", "-q", "-w", f"{key}={value}"], netns=netns)
