"""The schedules of Prog-PowerHP: power N_t, smoothing sigma_t and learning rate alpha_t.

Small frozen dataclasses, checked on construction by the native core (csrc/schedule.cpp, whose messages
name the field); ``value_at(t)`` evaluates the native formula (csrc/include/homotopt/schedule.hpp) at one
step in O(1), ``values(steps)`` at t = 0 .. steps - 1, for plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._validation import integer, real

__all__ = ["PowerSchedule", "SigmaSchedule", "LearningRate"]


@dataclass(frozen=True)
class PowerSchedule:
    """N_t = min(start + increment * (t // every), max): the power rises by `increment` every `every` steps."""

    start: float
    increment: float = 0.0
    max: float = math.inf
    every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", real(self.start, "power.start"))
        object.__setattr__(self, "increment", real(self.increment, "power.increment"))
        object.__setattr__(self, "max", real(self.max, "power.max"))
        object.__setattr__(self, "every", integer(self.every, "power.every"))
        self.native()  # the native checks

    def native(self) -> _core.PowerSchedule:
        """The schedule as the native core's checked struct."""
        return _core.PowerSchedule(self.start, self.increment, self.max, self.every)

    def value_at(self, t: int) -> float:
        """N_t at step t, in O(1)."""
        return self.native().value_at(t)

    @classmethod
    def constant(cls, power: float) -> "PowerSchedule":
        return cls(power)

    def values(self, steps: int) -> np.ndarray:
        return self.native().values(integer(steps, "steps"))


@dataclass(frozen=True)
class SigmaSchedule:
    """sigma_t = start * decay^t + floor: geometric decay to the floor."""

    start: float
    decay: float = 1.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", real(self.start, "sigma.start"))
        object.__setattr__(self, "decay", real(self.decay, "sigma.decay"))
        object.__setattr__(self, "floor", real(self.floor, "sigma.floor"))
        self.native()  # the native checks

    def native(self) -> _core.SigmaSchedule:
        """The schedule as the native core's checked struct."""
        return _core.SigmaSchedule(self.start, self.decay, self.floor)

    def value_at(self, t: int) -> float:
        """sigma_t at step t, in O(1)."""
        return self.native().value_at(t)

    @classmethod
    def constant(cls, sigma: float) -> "SigmaSchedule":
        return cls(sigma)

    def values(self, steps: int) -> np.ndarray:
        return self.native().values(integer(steps, "steps"))


@dataclass(frozen=True)
class LearningRate:
    """alpha_t = base * (t + offset)^-(1/2 + gamma); ``LearningRate.constant(base)`` is gamma = -1/2.

    The theory's rates have gamma in (0, 1/2).
    """

    base: float
    gamma: float = 0.0
    offset: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", real(self.base, "lr.base"))
        object.__setattr__(self, "gamma", real(self.gamma, "lr.gamma"))
        object.__setattr__(self, "offset", real(self.offset, "lr.offset"))
        self.native()  # the native checks

    def native(self) -> _core.LearningRate:
        """The schedule as the native core's checked struct."""
        return _core.LearningRate(self.base, self.gamma, self.offset)

    def value_at(self, t: int) -> float:
        """alpha_t at step t, in O(1)."""
        return self.native().value_at(t)

    @classmethod
    def constant(cls, base: float) -> "LearningRate":
        return cls(base, gamma=-0.5)

    def values(self, steps: int) -> np.ndarray:
        return self.native().values(integer(steps, "steps"))


def as_power(x: Any) -> PowerSchedule:
    return x if isinstance(x, PowerSchedule) else PowerSchedule.constant(x)


def as_sigma(x: Any) -> SigmaSchedule:
    return x if isinstance(x, SigmaSchedule) else SigmaSchedule.constant(x)


def as_lr(x: Any) -> LearningRate:
    return x if isinstance(x, LearningRate) else LearningRate.constant(x)
