"""Per-service health state machine. Pure: ``step(state, observation, thresholds)``.

Phases: INIT (just started, nothing decided: exabgp may still hold what a previous
announcer instance announced, so nothing is sent), UP (announced), DOWN (withdrawn for
failing checks), DISABLED (withdrawn by the maintenance switch), DRAINING (withdrawn for
good: the pod is going away). Only a change of phase into or out of UP produces an
action, so a check flapping faster than the rise/fall window never reaches exabgp.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    INIT = "init"
    UP = "up"
    DOWN = "down"
    DISABLED = "disabled"
    DRAINING = "draining"


class Observation(enum.Enum):
    CHECK_OK = "check_ok"
    CHECK_FAILED = "check_failed"
    MAINTENANCE_ON = "maintenance_on"
    MAINTENANCE_OFF = "maintenance_off"
    DRAIN = "drain"


class Action(enum.Enum):
    ANNOUNCE = "announce"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Thresholds:
    rise: int = 3
    fall: int = 3


@dataclass(frozen=True)
class HealthState:
    """``streak`` counts consecutive results that point away from the current phase."""

    phase: Phase = Phase.INIT
    streak: int = 0

    @property
    def announced(self) -> bool:
        return self.phase is Phase.UP


def step(
    state: HealthState, observation: Observation, thresholds: Thresholds
) -> tuple[HealthState, tuple[Action, ...]]:
    new = _next(state, observation, thresholds)
    if new.phase is Phase.UP and state.phase is not Phase.UP:
        return new, (Action.ANNOUNCE,)
    if new.phase is not Phase.UP and state.phase is Phase.UP:
        return new, (Action.WITHDRAW,)
    if state.phase is Phase.INIT and new.phase in (Phase.DOWN, Phase.DISABLED, Phase.DRAINING):
        # a previous instance may have announced it and exabgp still holds it: say so explicitly
        return new, (Action.WITHDRAW,)
    return new, ()


def _next(state: HealthState, observation: Observation, t: Thresholds) -> HealthState:
    phase = state.phase
    if phase is Phase.DRAINING:
        return state  # terminal: nothing brings a draining pod back
    if observation is Observation.DRAIN:
        return HealthState(Phase.DRAINING)
    if observation is Observation.MAINTENANCE_ON:
        return HealthState(Phase.DISABLED)
    if phase is Phase.DISABLED:
        # back in service only through rise good checks, as after any withdrawal
        return HealthState(Phase.DOWN) if observation is Observation.MAINTENANCE_OFF else state
    if observation is Observation.MAINTENANCE_OFF:
        return state
    ok = observation is Observation.CHECK_OK
    if phase is Phase.INIT:
        # the streak's sign says which way INIT is leaning: +n good, -n bad in a row
        streak = (max(state.streak, 0) + 1) if ok else (min(state.streak, 0) - 1)
        if streak >= t.rise:
            return HealthState(Phase.UP)
        if -streak >= t.fall:
            return HealthState(Phase.DOWN)
        return HealthState(Phase.INIT, streak)
    if phase is Phase.UP:
        if ok:
            return HealthState(Phase.UP)
        return (
            HealthState(Phase.DOWN) if state.streak + 1 >= t.fall else HealthState(Phase.UP, state.streak + 1)
        )
    # DOWN
    if not ok:
        return HealthState(Phase.DOWN)
    return HealthState(Phase.UP) if state.streak + 1 >= t.rise else HealthState(Phase.DOWN, state.streak + 1)
