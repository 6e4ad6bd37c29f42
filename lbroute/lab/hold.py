"""Held-open connections across a change of the router's next-hops or of the backends: the
lab's one hold probe (``lbroute lab hold``, the resilient FIB's and the data plane's tests and
benchmarks).

The hold probe (``hold_loop``) opens N long-lived connections from the lab's client namespace
to a VIP; once all are open and each has been answered, a disruption runs (an LB added,
killed or drained, a backend added or removed, an RR or the router's gobgpd restarted), and
at the end the probe says how many connections each one held and how many were lost: per
LB (the pods' echo port), or, in a lab with a data plane, per backend (the service's port,
through the LBs' data plane to the backends' echo). Connections go only to the lab's VIPs,
bounded in number and time (docs/benchmarks-hold.md).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from lbroute.kernel.ip import netns_exec
from lbroute.polling import Timeout, eventually

from .daemons import ECHO_PORT, VENV_BIN
from .dataplane import SERVICE_PORT
from .errors import LabError
from .hold_loop import MAX_CONNECTIONS, MAX_SECONDS
from .lab import Lab
from .traffic import check_request

# how long past its seconds and its echo timeout the probe may take to end and report
END_GRACE_SECONDS = 60.0

DISRUPTIONS = ("none", "add", "kill", "drain", "restart-rr", "restart-router")

__all__ = [
    "DISRUPTIONS", "MAX_CONNECTIONS", "MAX_SECONDS", "HoldReport", "Tally", "check_hold", "disruption",
    "hold_during", "target",
]  # fmt: skip


class Tally(TypedDict):
    held: int
    survived: int
    lost: int


class HoldReport(TypedDict):
    """What ``hold_during`` found: the loop's JSON (``hold_loop.run``) and the driver's sides."""

    connections: int
    held: int  # opened and answered before the disruption
    open_failures: dict[str, int]
    answered_by: str  # "lb" or "backend": which of the two tallies is filled
    by_lb: dict[str, Tally]
    by_backend: dict[str, Tally]
    lost: int
    lost_by_kind: dict[str, int]  # reset, ended (by the other side), stalled, moved
    held_seconds: float
    held_after_seconds: float | None
    seconds: float
    disruption_seconds: float
    leaving: str | None  # the LB (or backend) that left, as the tally names it
    lost_on_leaving: int
    lost_on_surviving: int
    held_on_surviving: int


def check_hold(vip: str, connections: int, seconds: float, close_after: float | None = None) -> None:
    """A ``LabError`` unless the VIP is the lab's and the counts are within bounds."""
    check_request(vip, 1)
    if ipaddress.ip_address(vip).version != 4:
        raise LabError(f"vip {vip}: the hold probe's client namespace has IPv4 only; give an IPv4 VIP")
    if not 1 <= connections <= MAX_CONNECTIONS:
        raise LabError(f"connections {connections}: hold between 1 and {MAX_CONNECTIONS}")
    if not 0 < seconds <= MAX_SECONDS:
        raise LabError(f"seconds {seconds:g}: hold for more than 0 and at most {MAX_SECONDS:g}")
    if close_after is not None and not 0 < close_after <= MAX_SECONDS:
        raise LabError(f"close-after {close_after:g}: more than 0 and at most {MAX_SECONDS:g}")


def target(lab: Lab) -> tuple[int, str]:
    """The port the probe holds connections to, and what its echo names: through the data plane
    to the backends when the lab has one, else the LB pods' own echo port."""
    return (SERVICE_PORT, "backend") if lab.scenario.dataplane else (ECHO_PORT, "lb")


def disruption(lab: Lab, kind: str, timeout: float = 30.0) -> tuple[Callable[[], object], str | None]:
    """What ``kind`` does to ``lab``, and the LB it takes away (if any, and if the probe's
    tally names LBs: through a data plane it names backends)."""
    lbs = lab.state.lbs
    if kind in ("kill", "drain") and lbs < 2:
        raise LabError(f"{kind} needs at least 2 LBs (the lab has {lbs}): one leaves, one stays")
    actions: dict[str, Callable[[], object]] = {
        "none": lambda: None,
        "add": lambda: lab.scale(lbs + 1, timeout=timeout),
        "kill": lambda: lab.scale(lbs - 1, timeout=timeout, kill=True),
        "drain": lambda: lab.scale(lbs - 1, timeout=timeout),
        "restart-rr": lambda: lab.restart_and_recover("rr", timeout),
        "restart-router": lambda: lab.restart_and_recover("router", timeout),
    }
    if kind not in actions:
        raise LabError(f"disruption {kind!r}: one of {', '.join(DISRUPTIONS)}")
    leaves = kind in ("kill", "drain") and target(lab)[1] == "lb"
    return actions[kind], (f"lb{lbs}" if leaves else None)


def hold_during(
    lab: Lab,
    vip: str,
    connections: int,
    seconds: float,
    disrupt: Callable[[], object],
    *,
    interval: float = 0.1,
    timeout: float = 2.0,
    close_after: float | None = None,
    leaving: str | None = None,
    open_within: float = 60.0,
) -> HoldReport:
    """The hold probe from the client namespace, with ``disrupt()`` once every connection is held;
    the connections are held ``seconds`` more once it is over (or until ``close_after`` from
    the start, when the client closes them); an echo later than ``timeout`` loses its
    connection. The result gains ``disruption_seconds`` and, per side, what was lost: on the
    LB or backend that left (``leaving``) and on the others. A probe that does not open its
    connections within ``open_within``, does not end or says what cannot be read is a
    ``LabError`` (one line)."""
    check_hold(vip, connections, seconds, close_after)
    port, answers = target(lab)
    with tempfile.TemporaryDirectory(prefix="lbroute-hold-") as tmp:
        progress, done = Path(tmp) / "progress", Path(tmp) / "done"
        argv = netns_exec(
            lab.topology.client_ns, str(VENV_BIN / "python"), "-m", "lbroute.lab.hold_loop",
            "--host", vip, "--port", str(port), "--answers", answers, "--connections", str(connections),
            "--seconds", str(seconds), "--interval", str(interval), "--timeout", str(timeout),
            "--progress-file", str(progress), "--done-file", str(done),
            *(["--close-after", str(close_after)] if close_after is not None else []),
        )  # fmt: skip
        loop = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:

            def ready() -> None:
                if loop.poll() is not None:
                    raise _Ended  # not worth waiting for: eventually() passes it on at once
                assert progress.exists(), "the hold probe is still opening its connections"

            try:
                eventually(ready, open_within, interval=0.05, what="the hold probe's connections open")
            except _Ended:
                _, err = loop.communicate()
                raise LabError(
                    f"the hold probe failed before its connections were open: {_one_line(err)}"
                ) from None
            except Timeout as failed:
                raise LabError(f"the hold probe: {_one_line(str(failed))}") from None
            started = time.monotonic()
            disrupt()
            took = time.monotonic() - started
            done.write_text("done\n")
            ends_within = seconds + timeout + END_GRACE_SECONDS
            try:
                out, err = loop.communicate(timeout=ends_within)
            except subprocess.TimeoutExpired:
                raise LabError(f"the hold probe did not end within {ends_within:g}s; it was killed") from None
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.communicate()
    if loop.returncode != 0:
        raise LabError(f"the hold probe failed: {_one_line(err)}")
    try:
        result: HoldReport = json.loads(out)
    except json.JSONDecodeError:
        raise LabError(f"the hold probe's report is not JSON: {_one_line(out)[:60]}...") from None
    result["disruption_seconds"] = round(took, 3)
    by = result["by_lb"] if answers == "lb" else result["by_backend"]
    result["leaving"] = leaving
    result["lost_on_leaving"] = by[leaving]["lost"] if leaving in by else 0
    result["lost_on_surviving"] = sum(c["lost"] for name, c in by.items() if name != leaving)
    result["held_on_surviving"] = sum(c["held"] for name, c in by.items() if name != leaving)
    return result


class _Ended(Exception):
    """The probe ended before its connections were open."""


def _one_line(text: str) -> str:
    """What a probe said, as the last 300 characters of one line."""
    return " ".join(text.split())[-300:]
