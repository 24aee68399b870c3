"""The papers' baselines on the same data, seeds and minibatch order as Prog-PowerHP.

All ascend the problem's fitness (the library maximizes everywhere) and share the runner's call
shape, result type and best-iterate rule. Minibatches come from the same Philox stream as
Prog-PowerHP's, so trial r of every method sees the same rows at step t.
"""

from __future__ import annotations

from typing import Any, Callable

from ._run import RunResult, run, schedule_config
from ._validation import integer, nonnegative, real
from .schedules import LearningRate, PowerSchedule, SigmaSchedule, as_lr

__all__ = ["gd", "sgd", "adam", "slgh"]

_NO_POWER = PowerSchedule(0.0)
_UNIT_SIGMA = SigmaSchedule(1.0)


def _common(problem, mu0, steps, batch_size, lr, eval_every, trials, seed, progress, callback, method, extra,
            sigma=_UNIT_SIGMA) -> RunResult:
    config = schedule_config(_NO_POWER, sigma, as_lr(lr))
    config.update(batch_size=integer(batch_size, "batch_size", 1), **extra)
    return run(method, problem, mu0, steps=steps, trials=trials, seed=seed, eval_every=eval_every,
               progress=progress, callback=callback, config=config)


def gd(problem: Any, mu0: Any, *, steps: int, lr: LearningRate | float, batch_size: int = 1,
       eval_every: int = 100, trials: int | None = None, seed: int = 0, progress: bool = True,
       callback: Callable[[dict], None] | None = None) -> RunResult:
    """Full-batch gradient ascent on the mean fitness over all the problem's data: mu += lr grad.

    For problems with a fixed data set (phase retrieval); `batch_size` is ignored.
    """
    if not hasattr(problem, "A"):
        raise ValueError("gd: the problem draws fresh data each step and has no full batch; use sgd")
    return _common(problem, mu0, steps, batch_size, lr, eval_every, trials, seed, progress, callback, "gd", {})


def sgd(problem: Any, mu0: Any, *, steps: int, batch_size: int, lr: LearningRate | float,
        eval_every: int = 100, trials: int | None = None, seed: int = 0, progress: bool = True,
        callback: Callable[[dict], None] | None = None) -> RunResult:
    """Minibatch stochastic gradient ascent: mu += lr_t mean_j grad f(mu; x_j)."""
    return _common(problem, mu0, steps, batch_size, lr, eval_every, trials, seed, progress, callback, "sgd", {})


def adam(problem: Any, mu0: Any, *, steps: int, batch_size: int, lr: LearningRate | float, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, eval_every: int = 100, trials: int | None = None, seed: int = 0,
         progress: bool = True, callback: Callable[[dict], None] | None = None) -> RunResult:
    """Adam (Kingma and Ba) ascending the minibatch mean fitness, with bias correction."""
    extra = {"beta1": real(beta1, "beta1"), "beta2": real(beta2, "beta2"), "eps": real(eps, "eps")}
    return _common(problem, mu0, steps, batch_size, lr, eval_every, trials, seed, progress, callback, "adam", extra)


def slgh(problem: Any, mu0: Any, *, steps: int, batch_size: int, lr: LearningRate | float, num_samples: int = 8,
         sigma: float = 1.0, gamma: float = 0.95, sigma_min: float = 0.01, eval_every: int = 100,
         trials: int | None = None, seed: int = 0, progress: bool = True,
         callback: Callable[[dict], None] | None = None) -> RunResult:
    """SLGH_r, single-loop Gaussian homotopy with a fixed-rate sigma decay (Iwakiri et al. 2022):
    mu += lr mean_k[(f(mu + s u_k) - f(mu)) u_k] / s over K directions u_k ~ N(0, I) (Stream.DIRECTIONS),
    f the minibatch mean fitness, then s <- max(gamma s, sigma_min), s starting at `sigma`.
    Defaults gamma = 0.95, sigma_min = 0.01 as in the authors' code."""
    extra = {"num_samples": integer(num_samples, "num_samples", 1), "slgh_gamma": real(gamma, "gamma"),
             "slgh_sigma_min": nonnegative(sigma_min, "sigma_min")}
    return _common(problem, mu0, steps, batch_size, lr, eval_every, trials, seed, progress, callback, "slgh", extra,
                   sigma=SigmaSchedule(sigma))
