"""The health state machine, table-tested over cumulative steps: every step's phase and actions."""

from __future__ import annotations

import itertools

import pytest

from announcer.health import Action, HealthState, Observation, Phase, Thresholds, step

OK, BAD = Observation.CHECK_OK, Observation.CHECK_FAILED
M_ON, M_OFF, DRAIN = Observation.MAINTENANCE_ON, Observation.MAINTENANCE_OFF, Observation.DRAIN
A, W = Action.ANNOUNCE, Action.WITHDRAW
INIT, UP, DOWN, DIS, DR = Phase.INIT, Phase.UP, Phase.DOWN, Phase.DISABLED, Phase.DRAINING


def run(
    observations: list[Observation], t: Thresholds, start: HealthState | None = None
) -> list[tuple[Phase, tuple[Action, ...]]]:
    state = start or HealthState()
    out = []
    for obs in observations:
        state, actions = step(state, obs, t)
        out.append((state.phase, actions))
    return out


R2F3 = Thresholds(rise=2, fall=3)

TABLE = [
    ("init-rises-after-rise-oks", [OK, OK, OK], [(INIT, ()), (UP, (A,)), (UP, ())]),
    ("init-falls-after-fall-bads-and-withdraws", [BAD, BAD, BAD], [(INIT, ()), (INIT, ()), (DOWN, (W,))]),
    ("init-mixed-restarts-the-count", [OK, BAD, OK, OK], [(INIT, ()), (INIT, ()), (INIT, ()), (UP, (A,))]),
    (
        "up-survives-fewer-than-fall-bads",
        [OK, OK, BAD, BAD, OK, BAD, BAD],
        [(INIT, ()), (UP, (A,)), (UP, ()), (UP, ()), (UP, ()), (UP, ()), (UP, ())],
    ),
    (
        "up-falls-on-fall-consecutive-bads",
        [OK, OK, BAD, BAD, BAD, BAD],
        [(INIT, ()), (UP, (A,)), (UP, ()), (UP, ()), (DOWN, (W,)), (DOWN, ())],
    ),
    (
        "down-rises-on-rise-consecutive-oks",
        [BAD, BAD, BAD, OK, BAD, OK, OK],
        [(INIT, ()), (INIT, ()), (DOWN, (W,)), (DOWN, ()), (DOWN, ()), (DOWN, ()), (UP, (A,))],
    ),
    (
        "maintenance-withdraws-a-healthy-service-and-needs-rise-to-return",
        [OK, OK, M_ON, OK, OK, M_OFF, OK, OK],
        [(INIT, ()), (UP, (A,)), (DIS, (W,)), (DIS, ()), (DIS, ()), (DOWN, ()), (DOWN, ()), (UP, (A,))],
    ),
    ("maintenance-during-init-withdraws-explicitly", [M_ON, OK], [(DIS, (W,)), (DIS, ())]),
    ("maintenance-off-without-on-changes-nothing", [OK, OK, M_OFF], [(INIT, ()), (UP, (A,)), (UP, ())]),
    (
        "drain-is-terminal",
        [OK, OK, DRAIN, OK, OK, M_ON, M_OFF, DRAIN],
        [(INIT, ()), (UP, (A,)), (DR, (W,)), (DR, ()), (DR, ()), (DR, ()), (DR, ()), (DR, ())],
    ),
    ("drain-during-init-withdraws-explicitly", [DRAIN], [(DR, (W,))]),
    (
        "drain-when-down-sends-nothing-more",
        [BAD, BAD, BAD, DRAIN],
        [(INIT, ()), (INIT, ()), (DOWN, (W,)), (DR, ())],
    ),
]


@pytest.mark.parametrize(
    ("observations", "expected"), [(o, e) for _, o, e in TABLE], ids=[n for n, _, _ in TABLE]
)
def test_table(observations: list[Observation], expected: list[tuple[Phase, tuple[Action, ...]]]) -> None:
    assert run(observations, R2F3) == expected


@pytest.mark.parametrize("rise_fall", [(2, 2), (3, 3), (2, 5)])
def test_flapping_faster_than_the_window_never_acts_after_settling(rise_fall: tuple[int, int]) -> None:
    rise, fall = rise_fall
    t = Thresholds(rise, fall)
    up = HealthState(Phase.UP)
    # alternating results, and any pattern whose runs are shorter than rise and fall
    for pattern in ([OK, BAD], [BAD, OK], [BAD] * (fall - 1) + [OK] * (rise - 1)):
        results = run(list(itertools.islice(itertools.cycle(pattern), 500)), t, start=up)
        assert all(actions == () for _, actions in results), pattern
        assert {phase for phase, _ in results} == {UP}


def test_only_phase_changes_into_or_out_of_up_act() -> None:
    # every reachable (state, observation) pair: an action exactly when "announced" flips,
    # plus the one explicit withdrawal when INIT resolves to a withdrawn phase
    t = Thresholds(2, 2)
    states = {HealthState(p, s) for p in Phase for s in range(-1, 2)}
    for state, obs in itertools.product(states, Observation):
        new, actions = step(state, obs, t)
        if new.announced != state.announced:
            assert actions == ((A,) if new.announced else (W,))
        elif state.phase is INIT and new.phase in (DOWN, DIS, DR):
            assert actions == (W,)
        else:
            assert actions == (), (state, obs, new)


def test_step_is_pure() -> None:
    state = HealthState(Phase.UP, 1)
    first = step(state, BAD, R2F3)
    assert step(state, BAD, R2F3) == first
    assert state == HealthState(Phase.UP, 1)
