"""The announcer as a sidecar, against real gobgpd, FRR zebra and exabgp in namespaces:
health-gated withdrawal, hysteresis, graceful drain under load, and a killed announcer."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import structlog

from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.ip import ip, netns_exec
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.topology import Node
from lbroute.lab.traffic import probe_during
from lbroute.polling import eventually
from tests.support.fib import VIP, fib_hops, wait_fib
from tests.support.lab import LabFactory

log = structlog.get_logger()
NODES = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
CHECK_BUDGET = daemons.CHECK["fall"] * daemons.CHECK["interval"] + 0.5  # fall x interval + 0.5 s


def updates_from(lab: Lab, lb: int) -> int:
    """UPDATEs the route reflector received from LB ``lb``'s speaker (gobgpd's own counter)."""
    with GobgpClient(str(lab.socket("rr"))) as rr:
        for peer in rr.list_peers_raw():
            # a dynamic neighbor's address is in its state; its conf has none
            if (peer.state.neighbor_address or peer.conf.neighbor_address) == Node(lb).pod_ip:
                return int(peer.state.messages.received.update)
    raise AssertionError(f"the RR has no session with lb{lb}")


def announcer_metrics(lab: Lab, lb: int) -> dict[str, float]:
    """The announcer's Prometheus metrics, scraped inside the pod's namespace."""
    url = f"http://{Node(lb).pod_ip}:{daemons.ANNOUNCER_METRICS_PORT}/metrics"
    code = (
        "import sys, urllib.request; "
        f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout=2).read().decode())"
    )
    argv = netns_exec(lab.topology.lb_ns(lb), str(daemons.VENV_BIN / "python"), "-c", code)
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"metrics of lb{lb} unreachable: {out.stderr.strip()[-200:]}"
    values = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^(lbroute_\S+) (\S+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def checks(lab: Lab, lb: int, result: str) -> float:
    return announcer_metrics(lab, lb).get(
        f'lbroute_announcer_checks_total{{result="{result}",service="web"}}', 0
    )


@pytest.mark.also_from_images
def test_break_withdraws_within_fall_times_interval_and_heal_returns(
    make_lab: LabFactory, router_kind: str
) -> None:
    lab = make_lab(lbs=3, router=router_kind)
    started = time.monotonic()
    lab.set_health(2, "fail")  # the check fails from this moment on
    wait_fib(lab, {NODES[0], NODES[2]}, timeout=CHECK_BUDGET + 5)
    elapsed = time.monotonic() - started
    assert elapsed <= CHECK_BUDGET, f"lb2 left the FIB after {elapsed:.3f}s, budget {CHECK_BUDGET:.1f}s"
    # both ends: the RR no longer has lb2's path either
    with GobgpClient(str(lab.socket("rr"))) as rr:
        assert {p.source for p in rr.list_paths(prefixes=(VIP,))} == {"172.16.1.2", "172.16.3.2"}
    # heal through the operator's command, as a user would
    healed = subprocess.run(
        [str(daemons.VENV_BIN / "lbroute"), "lab", "heal", "lb2", "--prefix", lab.prefix],
        capture_output=True, text=True, check=False,
        env={**os.environ, "LBROUTE_STATE_ROOT": str(lab.root)},
    )  # fmt: skip
    assert healed.returncode == 0, healed.stderr
    wait_fib(lab, set(NODES))
    announced = 'lbroute_announcer_vip_announced{prefix="10.1.1.1/32",service="web"}'
    assert announcer_metrics(lab, 2)[announced] == 1


def phase_changes(lab: Lab, lb: int, since: int) -> list[str]:
    """The announcer's phase changes in LB ``lb``'s exabgp log after byte ``since``, with why."""
    text = Path(lab.state.processes[f"exabgp-lb{lb}"].log).read_bytes()[since:].decode(errors="replace")
    return [line for line in text.splitlines() if "announcer.service.phase" in line]


def test_check_flapping_at_5hz_for_10s_sends_nothing(make_lab: LabFactory) -> None:
    """Rise and fall are 3: a check whose result flips on every probe never has three in a row
    either way, so no phase changes and not one UPDATE leaves the speaker. The lab's health
    endpoint flips once per request it answers, and only the announcer's probe asks it."""
    lab = make_lab(lbs=3)
    before = updates_from(lab, 2)
    log_start = Path(lab.state.processes["exabgp-lb2"].log).stat().st_size
    ok_before, failed_before = checks(lab, 2, "ok"), checks(lab, 2, "failed")
    # the health endpoint now answers fail, pass, fail, ... : the check's result flips on every
    # probe, 5 times a second at the lab's 0.2 s interval
    lab.set_health(2, "flap")
    probes_in_10s = 10 / daemons.CHECK["interval"]

    def ten_seconds_of_flapping() -> None:
        ok, failed = checks(lab, 2, "ok") - ok_before, checks(lab, 2, "failed") - failed_before
        assert ok + failed >= probes_in_10s, f"{ok + failed:.0f} probes so far, want {probes_in_10s:.0f}"
        assert ok >= probes_in_10s / 2 - 2 and failed >= probes_in_10s / 2 - 2, (ok, failed)

    eventually(ten_seconds_of_flapping, 30, interval=0.5, what="10 s of flapping", context=lab.logs_tail)
    lab.set_health(2, "ok")
    wait_fib(lab, set(NODES))
    sent = updates_from(lab, 2) - before
    log.info("test.flap.updates", peer=Node(2).pod_ip, count=sent)
    # a phase change here means the probe saw three results in a row one way (its error says
    # why, e.g. a timeout on a loaded machine): that is not flapping faster than rise/fall
    assert phase_changes(lab, 2, log_start) == []
    assert sent == 0


@pytest.mark.also_from_images
def test_scale_down_drains_without_failing_a_request(make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(lbs=3)
    # one request every ~100 ms, a new connection each, for ~15 s: across the whole scale-down.
    # The pacing keeps the chance low that a request is in flight at the instant the FIB
    # changes: hash-threshold multipath moves some flows of the surviving LBs too, and a flow
    # that moves mid-request is reset by an LB that never saw it; no drain can prevent that
    # (docs/decisions/drain-protocol.md, "Known limit").
    count = 150

    def drain_lb3() -> None:
        # every LB has been answering for a while before the scale starts
        lab.scale(2)  # drains lb3: withdraw, ack, FIB without node 3, then stop
        assert fib_hops(lab) == {NODES[0], NODES[1]}

    result, _ = probe_during(lab.topology.router_ns, VIP.split("/")[0], count, 0.1, drain_lb3)
    (tmp_path / "probe.json").write_text(json.dumps(result))
    log.info("test.drain.requests", count=result["sent"], failed=result["failed"], answers=result["answers"])
    assert result["sent"] == count
    assert result["failed"] == 0, result
    assert result["answers"].get("lb3", 0) > 0, f"lb3 never answered, so the drain proved nothing: {result}"
    assert sum(result["answers"].values()) == count
    drained = lab.dir / "logs" / "exabgp-lb3.log"  # the process's log, or the container's
    assert "announcer.drain.withdrawn" in drained.read_text()


def test_kill_9_announcer_is_respawned_and_next_hops_stay(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3)
    log = Path(lab.state.processes["exabgp-lb2"].log)
    announced_before = log.read_text().count("announcer.vip.announced")

    def first_exchange_done() -> int:
        # the VIP's UPDATE and exabgp's End-of-RIB, which can come a moment after the route is
        # in the FIB on a loaded machine (read before it, the count grows without a re-announce)
        count = updates_from(lab, 2)
        assert count >= 2, f"lb2's speaker has sent {count} UPDATE(s) so far"
        return count

    updates_before = eventually(first_exchange_done, 10, what="lb2's route and End-of-RIB at the RR")
    old = lab.announcer_pid(2)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    seen: list[set[str]] = []

    def respawned_and_announced_again() -> None:
        seen.append(fib_hops(lab))
        new = lab.announcer_pid(2)
        assert new is not None and new != old, f"announcer pid {new}, killed {old}"
        count = log.read_text().count("announcer.vip.announced")
        assert count > announced_before, "the new announcer has not decided yet"

    eventually(respawned_and_announced_again, 20, what="a respawned announcer", context=lab.logs_tail)
    assert fib_hops(lab) == set(NODES)
    assert all(hops == set(NODES) for hops in seen), [sorted(h) for h in seen if h != set(NODES)]
    # exabgp kept the route and dropped the identical re-announcement: no UPDATE at the RR
    assert updates_from(lab, 2) == updates_before


def test_session_flap_restores_the_routes_without_announcer_churn(make_lab: LabFactory) -> None:
    lab = make_lab(lbs=3)
    commands = 'lbroute_announcer_commands_total{op="announce"}'
    sent_before = announcer_metrics(lab, 2)[commands]
    lb_ns = lab.topology.lb_ns(2)
    ip("link", "set", "eth0", "down", netns=lb_ns)
    try:
        # the RR's hold timer (3 s) ends the session; the router drops node 2
        wait_fib(lab, {NODES[0], NODES[2]}, timeout=15)
    finally:
        ip("link", "set", "eth0", "up", netns=lb_ns)
        ip("route", "replace", "default", "via", Node(2).pod_gateway, netns=lb_ns)
    # exabgp reconnects and re-sends what the announcer gave it; the announcer sends nothing new
    wait_fib(lab, set(NODES), timeout=30)
    assert announcer_metrics(lab, 2)[commands] == sent_before
