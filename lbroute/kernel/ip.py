"""Run iproute2 (which speaks netlink) in the root namespace or inside a named one."""

from __future__ import annotations

import json
import subprocess
from typing import Any

IP = "/usr/sbin/ip"


class IpCommandError(RuntimeError):
    def __init__(self, args: list[str], stderr: str) -> None:
        super().__init__(f"{' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    cmd = [IP, *(["-n", netns] if netns else []), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise IpCommandError(cmd, result.stderr)
    return result.stdout


def ip_json(*args: str, netns: str | None = None) -> Any:
    out = ip("-j", *args, netns=netns)
    return json.loads(out) if out.strip() else []


def batch(commands: list[str]) -> None:
    """Many ``ip`` commands in one process: ``ip -batch -`` (each line may carry ``-n NS``)."""
    if not commands:
        return
    result = subprocess.run(
        [IP, "-force", "-batch", "-"], input="\n".join(commands) + "\n", capture_output=True, text=True
    )
    if result.returncode != 0:
        raise IpCommandError([IP, "-batch", "-"], result.stderr)


def netns_exec(netns: str, *argv: str) -> list[str]:
    """The argv that runs a program inside ``netns`` (``ip netns exec`` then execs it: same PID)."""
    return [IP, "netns", "exec", netns, *argv]


def list_netns() -> list[str]:
    return [entry["name"] for entry in ip_json("netns", "list")]


def sysctl(netns: str | None, key: str, value: str) -> None:
    """Set ``key`` inside ``netns`` (None: the caller's own namespace)."""
    argv = ["sysctl", "-q", "-w", f"{key}={value}"]
    result = subprocess.run(netns_exec(netns, *argv) if netns else argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise IpCommandError(["sysctl", key], result.stderr)
