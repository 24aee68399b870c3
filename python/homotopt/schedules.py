"""The schedules of Prog-PowerHP: power N_t, smoothing sigma_t and learning rate alpha_t.

Small frozen dataclasses, validated on construction; ``values(steps)`` evaluates the native formula
(csrc/include/homotopt/schedule.hpp) at t = 0 .. steps - 1, for plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._validation import integer, real

__all__ = ["PowerSchedule", "SigmaSchedule", "LearningRate"]


def _finite(x: Any, name: str, low: float, *, strict: bool = False) -> float:
    v = real(x, name)
    ok = math.isfinite(v) and (v > low if strict else v >= low)
    if not ok:
        raise ValueError(f"{name}: expected a finite value {'>' if strict else '>='} {low}, got {v}")
    return v


@dataclass(frozen=True)
class PowerSchedule:
    """N_t = min(start + increment * (t // every), max): the power rises by `increment` every `every` steps."""

    start: float
    increment: float = 0.0
    max: float = math.inf
    every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _finite(self.start, "power.start", 0.0))
        object.__setattr__(self, "increment", _finite(self.increment, "power.increment", 0.0))
        m = real(self.max, "power.max")
        if not (m >= 0):
            raise ValueError(f"power.max: expected a value >= 0, got {m}")
        object.__setattr__(self, "max", m)
        object.__setattr__(self, "every", integer(self.every, "power.every", 1))

    @classmethod
    def constant(cls, power: float) -> "PowerSchedule":
        return cls(power)

    def values(self, steps: int) -> np.ndarray:
        return _core.schedule_values("power", self.start, self.increment, self.max, self.every, integer(steps, "steps", 0))


@dataclass(frozen=True)
class SigmaSchedule:
    """sigma_t = start * decay^t + floor: geometric decay to the floor."""

    start: float
    decay: float = 1.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _finite(self.start, "sigma.start", 0.0, strict=True))
        decay = real(self.decay, "sigma.decay")
        if not (0 < decay <= 1):
            raise ValueError(f"sigma.decay: expected 0 < decay <= 1, got {decay}")
        object.__setattr__(self, "decay", decay)
        object.__setattr__(self, "floor", _finite(self.floor, "sigma.floor", 0.0))

    @classmethod
    def constant(cls, sigma: float) -> "SigmaSchedule":
        return cls(sigma)

    def values(self, steps: int) -> np.ndarray:
        return _core.schedule_values("sigma", self.start, self.decay, self.floor, 1, integer(steps, "steps", 0))


@dataclass(frozen=True)
class LearningRate:
    """alpha_t = base * (t + offset)^-(1/2 + gamma); ``LearningRate.constant(base)`` is gamma = -1/2.

    The theory's rates have gamma in (0, 1/2).
    """

    base: float
    gamma: float = 0.0
    offset: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", _finite(self.base, "lr.base", 0.0, strict=True))
        object.__setattr__(self, "gamma", _finite(self.gamma, "lr.gamma", -0.5))
        object.__setattr__(self, "offset", _finite(self.offset, "lr.offset", 0.0, strict=True))

    @classmethod
    def constant(cls, base: float) -> "LearningRate":
        return cls(base, gamma=-0.5)

    def values(self, steps: int) -> np.ndarray:
        return _core.schedule_values("lr", self.base, self.gamma, self.offset, 1, integer(steps, "steps", 0))


def as_power(x: Any) -> PowerSchedule:
    return x if isinstance(x, PowerSchedule) else PowerSchedule.constant(x)


def as_sigma(x: Any) -> SigmaSchedule:
    return x if isinstance(x, SigmaSchedule) else SigmaSchedule.constant(x)


def as_lr(x: Any) -> LearningRate:
    return x if isinstance(x, LearningRate) else LearningRate.constant(x)
