"""The schedules: value_at(t) is the header formula at one step (the values the runner uses), and every
bad field is rejected by the native front end (csrc/schedule.cpp) with its own message."""

import math

import numpy as np
import pytest

import homotopt
from homotopt import _core

SCHEDULES = [
    homotopt.PowerSchedule(0.3, 0.05, 2.0, every=3),
    homotopt.PowerSchedule(1.0, 0.5),
    homotopt.SigmaSchedule(0.3, 0.9, 0.01),
    homotopt.LearningRate(0.05, gamma=0.1, offset=2.0),
    homotopt.LearningRate.constant(0.3),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_value_at_is_values_at_t(schedule):
    values = schedule.values(50)
    for t in (0, 1, 7, 49):
        assert schedule.value_at(t) == values[t]  # the same header function: same bits
    assert schedule.value_at(10**6) == schedule.values(10**6 + 1)[-1]


@pytest.mark.parametrize("make,match", [
    (lambda: homotopt.PowerSchedule(-1.0), r"power.start: expected a finite N_0 >= 0, got -1"),
    (lambda: homotopt.PowerSchedule(math.inf), r"power.start: expected a finite N_0 >= 0, got inf"),
    (lambda: homotopt.PowerSchedule(1.0, -0.5), r"power.increment: expected a finite increment >= 0, got -0.5"),
    (lambda: homotopt.PowerSchedule(1.0, max=math.nan), r"power.max: expected a value >= 0 \(inf for no cap\), got nan"),
    (lambda: homotopt.PowerSchedule(1.0, every=0), r"power.every: expected >= 1, got 0"),
    (lambda: homotopt.SigmaSchedule(0.0), r"sigma.start: expected a finite sigma_0 > 0, got 0"),
    (lambda: homotopt.SigmaSchedule(1.0, decay=1.5), r"sigma.decay: expected 0 < decay <= 1, got 1.5"),
    (lambda: homotopt.SigmaSchedule(1.0, floor=-1.0), r"sigma.floor: expected a finite floor >= 0, got -1"),
    (lambda: homotopt.LearningRate(math.nan), r"lr.base: expected a finite rate > 0, got nan"),
    (lambda: homotopt.LearningRate(0.1, gamma=-1.0), r"lr.gamma: expected a finite gamma >= -1/2, got -1"),
    (lambda: homotopt.LearningRate(0.1, offset=0.0), r"lr.offset: expected a finite offset > 0, got 0"),
    (lambda: homotopt.PowerSchedule(1.0).value_at(-1), r"t: expected a step >= 0, got -1"),
])
def test_bad_schedules_raise_the_native_messages(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_types_are_checked_before_the_native_call():
    with pytest.raises(TypeError, match="power.every"):
        homotopt.PowerSchedule(1.0, every=1.5)
    with pytest.raises(TypeError, match="sigma.start"):
        homotopt.SigmaSchedule(True)


def test_runner_config_rejects_unknown_keys():
    problem = homotopt.problems.Toy1D()
    config = dict(homotopt._run.schedule_config(SCHEDULES[0], SCHEDULES[2], SCHEDULES[3]), steps=3, stpes=4)
    with pytest.raises(ValueError, match=r"config: unknown key 'stpes' \(expected some of: method, steps"):
        _core.Runner(problem._runner_problem(), config, np.zeros((1, 1)))
    bad_problem = dict(problem._runner_problem(), nosie=0.1)
    with pytest.raises(ValueError, match=r"problem: unknown key 'nosie'"):
        _core.Runner(bad_problem, dict(steps=3), np.zeros((1, 1)))


def test_enums_not_integers():
    with pytest.raises(TypeError):
        _core.step_multiplier(1, 0.1, 1.0, 0.0, 1.0)  # a bare integer code is not a StepRule
    assert _core.step_multiplier(_core.StepRule.log, 0.1, 2.0, 0.0, 1.0) == pytest.approx(0.2)
