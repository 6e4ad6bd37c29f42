"""The fault suite: each fault done to a running lab, then the invariant (``Lab.wait_invariant``)
waited for within a deadline, timed from the moment the fault began.

Every fault leaves the lab as it found it (every LB serving again), so one lab serves many of
them; each returns a ``FaultRun``: the seconds to the invariant after each of its phases, and
the router's FIB samples for the first VIP while it ran (for a test to judge what happened in
between). The integration tests (tests/integration/test_faults.py) and the soak
(benchmarks/soak.py) run these same functions.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from lbroute.polling import eventually

from .errors import LabError
from .fib_sampler import FibSampler, Sample
from .lab import Lab

log = structlog.get_logger()
# what exabgp 4.2 logs as it ends itself after too many deaths of its API process
EXABGP_GAVE_UP = "Too many death for announcer"

DEADLINE = 10.0  # s: a hold timer (3 s) and a restart's recovery, with room on a loaded machine
FLAP_HZ = 5.0  # health toggles per second
FLAP_SECONDS = 3.0


@dataclass
class FaultRun:
    fault: str
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> time to the invariant
    samples: list[Sample] = field(default_factory=list)


def _first_vip(lab: Lab) -> str:
    return lab.topology.services[0].vip


def _settle(lab: Lab, run: FaultRun, phase: str, began: float, deadline: float) -> None:
    """Wait for the invariant; record the seconds since ``began``."""
    lab.wait_invariant(deadline)
    run.seconds[phase] = round(time.monotonic() - began, 3)


def rr_restart(lab: Lab, deadline: float = DEADLINE) -> FaultRun:
    """The RR's gobgpd ``kill -9`` and started again; the rr manager reconfigures it."""
    run = FaultRun("rr_restart")
    with FibSampler(lab.topology.router_ns, _first_vip(lab)) as fib:
        began = time.monotonic()
        lab.restart("rr")
        _settle(lab, run, "recovered", began, deadline)
        # the FIB may be right before the router has even seen the RR go: judged again once the
        # router has its session with the new RR and no stale path
        lab.wait_settled(deadline)
        _settle(lab, run, "settled", began, deadline)
    run.samples = fib.samples
    return run


def router_restart(lab: Lab, deadline: float = DEADLINE) -> FaultRun:
    """The router's gobgpd ``kill -9`` and started again, the FIB sampled throughout."""
    run = FaultRun("router_restart")
    with FibSampler(lab.topology.router_ns, _first_vip(lab)) as fib:
        began = time.monotonic()
        lab.restart("router")
        _settle(lab, run, "recovered", began, deadline)
        lab.wait_settled(deadline)  # the new gobgpd has every path back: nothing left to change
        _settle(lab, run, "settled", began, deadline)
    run.samples = fib.samples
    return run


def zebra_restart(lab: Lab, deadline: float = DEADLINE) -> FaultRun:
    run = FaultRun("zebra_restart")
    with FibSampler(lab.topology.router_ns, _first_vip(lab)) as fib:
        began = time.monotonic()
        lab.restart_zebra()
        _settle(lab, run, "recovered", began, deadline)
    run.samples = fib.samples
    return run


def exabgp_kill(lab: Lab, deadline: float = DEADLINE, lb: int = 2) -> FaultRun:
    """LB ``lb``'s exabgp ``kill -9``: its node leaves the FIB; started again, it comes back."""
    run = FaultRun("exabgp_kill")
    began = time.monotonic()
    lab.kill_speaker(lb)
    _settle(lab, run, "left", began, deadline)
    began = time.monotonic()
    lab.start_speaker(lb)
    _settle(lab, run, "back", began, deadline)
    return run


def kill_announcer(lab: Lab, lb: int, deadline: float = DEADLINE) -> None:
    """``kill -9`` LB ``lb``'s announcer and wait until exabgp has respawned it, the new one has
    started (its control socket open: until then the pod has no announcer to drain) and, for an
    LB that serves, has announced its VIPs again."""
    old = lab.announcer_pid(lb)
    if old is None:  # never a PID of 0 or less: kill() would signal a whole process group
        raise LabError(f"lb{lb} has no announcer running")
    speaker_log = Path(lab.state.processes[f"exabgp-lb{lb}"].log)
    serves = lb in lab.serving()
    before = speaker_log.read_text()
    started, announced = before.count("announcer.started"), before.count("announcer.vip.announced")
    os.kill(old, signal.SIGKILL)

    def respawned() -> None:
        if not lab.supervisor.is_running(f"exabgp-lb{lb}") and EXABGP_GAVE_UP in speaker_log.read_text():
            # exabgp 4.2 ends itself when its API process dies a sixth time within one 64 s
            # window: the session goes, and with it the LB's routes (it no longer serves)
            log.info("lab.fault.exabgp_gave_up", lb=lb)
            return
        new = lab.announcer_pid(lb)
        assert new is not None and new != old, f"announcer pid {new}, killed {old}"
        text = speaker_log.read_text()
        assert text.count("announcer.started") > started, "the new announcer has not started yet"
        if serves:
            assert text.count("announcer.vip.announced") > announced, "the new announcer has not decided yet"

    eventually(respawned, deadline, what=f"lb{lb}'s announcer back", context=lab.logs_tail)


def announcer_kill(lab: Lab, deadline: float = DEADLINE, lb: int = 2) -> FaultRun:
    """LB ``lb``'s announcer ``kill -9``: exabgp respawns it and keeps the route meanwhile."""
    run = FaultRun("announcer_kill")
    with FibSampler(lab.topology.router_ns, _first_vip(lab)) as fib:
        began = time.monotonic()
        kill_announcer(lab, lb, deadline)
        _settle(lab, run, "respawned", began, deadline)
    run.samples = fib.samples
    return run


def hang(lab: Lab, deadline: float = DEADLINE, lb: int = 2) -> FaultRun:
    """LB ``lb``'s processes SIGSTOPped (its kernel still answers): the hold timer ends its
    session; resumed, it comes back."""
    run = FaultRun("hang")
    began = time.monotonic()
    lab.hang(f"lb{lb}", stop=True)
    _settle(lab, run, "left", began, deadline)
    began = time.monotonic()
    lab.unhang(f"lb{lb}")
    _settle(lab, run, "back", began, deadline)
    return run


def health_flap(lab: Lab, deadline: float = DEADLINE, lb: int = 2) -> FaultRun:
    """LB ``lb``'s health toggled ``FLAP_HZ`` times a second for ``FLAP_SECONDS``, then healthy."""
    run = FaultRun("health_flap")
    toggles = int(FLAP_HZ * FLAP_SECONDS)
    with FibSampler(lab.topology.router_ns, _first_vip(lab)) as fib:
        start = time.monotonic()
        for k in range(toggles):
            lab.set_health(lb, "fail" if k % 2 == 0 else "ok")
            # pacing, not waiting for a condition: the next toggle is due at a fixed time
            time.sleep(max(0.0, start + (k + 1) / FLAP_HZ - time.monotonic()))
        began = time.monotonic()
        lab.set_health(lb, "ok")
        _settle(lab, run, "healthy", began, deadline)
    run.samples = fib.samples
    return run


def manager_kill_while_scaling(lab: Lab, deadline: float = DEADLINE) -> FaultRun:
    """Every rr manager ``kill -9``, one LB added and the last one removed while they are down,
    then the managers started again: what they find must end right."""
    run = FaultRun("manager_kill_while_scaling")
    managers = [n.removeprefix("rr-manager-") for n in lab.state.processes if n.startswith("rr-manager-")]
    lbs = lab.topology.lbs
    began = time.monotonic()
    for who in managers:
        lab.kill_manager(who)
    lab.scale(lbs + 1, timeout=deadline)
    for who in managers:
        lab.start_manager(who)
    _settle(lab, run, "scaled_up", began, deadline)
    began = time.monotonic()
    for who in managers:
        lab.kill_manager(who)
    lab.scale(lbs, timeout=deadline)
    for who in managers:
        lab.start_manager(who)
    _settle(lab, run, "scaled_down", began, deadline)
    return run


FAULTS: dict[str, Callable[[Lab, float], FaultRun]] = {
    "rr_restart": rr_restart,
    "router_restart": router_restart,
    "zebra_restart": zebra_restart,
    "exabgp_kill": exabgp_kill,
    "announcer_kill": announcer_kill,
    "hang": hang,
    "health_flap": health_flap,
    "manager_kill_while_scaling": manager_kill_while_scaling,
}


def run_fault(lab: Lab, name: str, deadline: float = DEADLINE) -> FaultRun:
    run = FAULTS[name](lab, deadline)
    log.info("lab.fault", prefix=lab.prefix, op=name, **{f"{k}_s": v for k, v in run.seconds.items()})
    return run
