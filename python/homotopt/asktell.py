"""Prog-PowerHP for any objective, through ask/tell: you evaluate f and its gradient in any framework."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core
from ._result import PowerGradient
from ._run import STEP_RULES
from ._validation import float_dtype, input_array, integer, real, seed as check_seed
from .power import _power_weights_counted, power_gradient
from .random import Stream, normal
from .schedules import LearningRate, PowerSchedule, SigmaSchedule, as_lr, as_power, as_sigma

__all__ = ["ProgPowerHP"]


class ProgPowerHP:
    """Ask/tell Prog-PowerHP: maximizes E_x[f_w(x)] for an objective you evaluate.

    Each step: ``ask()`` gives the K samples w_k = mu + sigma_t eps_k (the same Philox noise as the
    runner's trial 0: ``random.normal((K, d), seed, t, stream=Stream.SAMPLES)``); you evaluate the
    fitness f_kj on J data points (and gradients), then either

    - ``tell(values, grads)`` with per-pair values (K,) or (K, J) and gradients (K, d) or (K, J, d)
      (the order of :func:`homotopt.power_gradient`; keywords work either way), or
    - ``p = weights(values)`` then ``tell(g)`` (or ``tell(grads=g)``) where g (K, d) is the gradient of
      sum_kj p_kj f_kj with respect to the samples (one backward pass in an autograd framework, p held
      constant).

    Each step costs O(1) in t: the schedules are evaluated at t alone (``value_at``).

    ``tell`` moves mu by the step rule and advances t. ``report(value)`` records the validation fitness
    of the current mu, and the best iterate is kept in ``best_mu``.

    Args:
        mu0: (d,) starting point, float32 or float64 (its dtype is mu's).
        num_samples: K. power, sigma, lr: schedules (numbers mean constant).
        step_rule: "log" (default), "raw" or "unit" (see :func:`homotopt.prog_powerhp`).
        seed: Philox seed of the samples.
    """

    def __init__(self, mu0: Any, *, num_samples: int, power: PowerSchedule | float, sigma: SigmaSchedule | float,
                 lr: LearningRate | float, step_rule: str = "log", seed: int = 0) -> None:
        mu0 = input_array(mu0, "mu0")
        if mu0.ndim != 1 or mu0.size < 1:
            raise ValueError(f"mu0: expected shape (d,), got {mu0.shape}")
        if not np.all(np.isfinite(mu0)):
            raise ValueError("mu0: expected finite values")
        if step_rule not in STEP_RULES:
            raise ValueError(f"step_rule: expected 'raw', 'log' or 'unit', got {step_rule!r}")
        self._mu = mu0.copy()
        self.num_samples = integer(num_samples, "num_samples", 1)
        self.power_schedule, self.sigma_schedule, self.lr_schedule = as_power(power), as_sigma(sigma), as_lr(lr)
        self.step_rule = step_rule
        self.seed = check_seed(seed)
        self.step = 0
        self._pending_weights: tuple[int, float, int] | None = None  # (step, log_sum_exp, count)
        self.best_mu = self._mu.copy()
        self.best_value = -math.inf
        self.best_step = -1

    @property
    def mu(self) -> np.ndarray:
        return self._mu.copy()

    @property
    def power(self) -> float:
        """N_t of the current step."""
        return self.power_schedule.value_at(self.step)

    @property
    def sigma(self) -> float:
        return self.sigma_schedule.value_at(self.step)

    @property
    def lr(self) -> float:
        return self.lr_schedule.value_at(self.step)

    def ask(self) -> np.ndarray:
        """The K samples of this step, (K, d) in mu's dtype."""
        eps = normal((self.num_samples, self._mu.size), self.seed, self.step, stream=Stream.SAMPLES)
        # w = mu + sigma eps in float64, rounded once: sample_point of csrc/include/homotopt/sample.hpp
        return (self._mu.astype(np.float64) + self.sigma * eps).astype(self._mu.dtype)

    def weights(self, values: Any, *, nan_policy: str = "raise") -> np.ndarray:
        """softmax(N_t f) for values (K,) or (K, J); remembered for a following tell(g)."""
        v = input_array(values, "values")
        if v.shape[0] != self.num_samples:
            raise ValueError(f"values: expected K = {self.num_samples} rows, got shape {v.shape}")
        w, lse, count = _power_weights_counted(v, self.power, nan_policy)
        self._pending_weights = (self.step, lse, count)
        return w

    def tell(self, values: Any = None, grads: Any = None, *, nan_policy: str = "raise") -> PowerGradient:
        """Reduces this step's samples and moves mu; returns the estimate used.

        ``tell(values, grads)``: per-pair values (K,) / (K, J) and gradients (K, d) / (K, J, d).
        ``tell(g)`` or ``tell(grads=g)``: g (K, d) is the gradient of sum p f with the weights p from
        ``weights()`` of this step.
        """
        if grads is None:  # tell(g): the one positional argument is the gradient
            values, grads = None, values
        if grads is None:
            raise TypeError("tell: expected grads (tell(values, grads), or tell(g) after weights())")
        N = self.power
        if values is not None:
            est = power_gradient(values, grads, N, nan_policy=nan_policy)
        else:
            if self._pending_weights is None or self._pending_weights[0] != self.step:
                raise ValueError("tell: without values, call weights(values) for this step first")
            g = input_array(grads, "grads")
            if g.shape != (self.num_samples, self._mu.size):
                raise ValueError(f"grads: expected shape (K, d) = ({self.num_samples}, {self._mu.size}), got {g.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError("grads: expected finite values")
            _, lse, count = self._pending_weights
            direction = g.sum(axis=0, dtype=np.float64).astype(self._mu.dtype)
            lme = lse - math.log(count) if count else -math.inf
            with np.errstate(divide="ignore"):
                log_scale = float(np.log(N)) + lme
            est = PowerGradient(direction, np.exp(log_scale) * direction, log_scale, lme, count, 0)
        d = est.direction.astype(np.float64)
        c = _core.step_multiplier(STEP_RULES[self.step_rule], self.lr, N, est.log_scale, float(np.linalg.norm(d)))
        self._mu = (self._mu.astype(np.float64) + c * d).astype(self._mu.dtype)
        self.step += 1
        self._pending_weights = None
        return est

    def report(self, value: float) -> bool:
        """Records the validation fitness of the current mu; returns whether it is the best so far."""
        v = real(value, "value")
        if v > self.best_value:  # improves_best of runner.hpp: False for NaN, and the first of equals kept
            self.best_value, self.best_mu, self.best_step = v, self._mu.copy(), self.step
            return True
        return False

    def __repr__(self) -> str:
        return (f"ProgPowerHP(d={self._mu.size}, K={self.num_samples}, step={self.step}, "
                f"N={self.power:.4g}, sigma={self.sigma:.4g}, best={self.best_value:.6g})")
