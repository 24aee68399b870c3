"""Prog-PowerHP on the built-in problems: the whole loop in native code, many trials at once."""

from __future__ import annotations

from typing import Any, Callable

from ._run import STEP_RULES, RunResult, run, schedule_config
from ._validation import integer
from .schedules import LearningRate, PowerSchedule, SigmaSchedule, as_lr, as_power, as_sigma

__all__ = ["prog_powerhp"]


def prog_powerhp(problem: Any, mu0: Any, *, steps: int, num_samples: int, batch_size: int,
                 power: PowerSchedule | float, sigma: SigmaSchedule | float, lr: LearningRate | float,
                 step_rule: str = "log", eval_every: int = 100, trials: int | None = None, seed: int = 0,
                 progress: bool = True, callback: Callable[[dict], None] | None = None,
                 first_trial: int = 0) -> RunResult:
    """Runs Prog-PowerHP (papers/prog_powerhp.md, Algorithm 1) for R independent trials.

    Each step t: N_t, sigma_t, alpha_t from the schedules; K samples w_k = mu + sigma_t eps_k and J
    data points (a minibatch of rows drawn with replacement, or fresh inputs); the fused,
    log-sum-exp stable estimator of the power gradient; the step rule. Trial r draws its noise and
    minibatches from Philox (seed, r, t), so any trial replays alone and results do not depend on
    the thread count. The best iterate by the problem's validation fitness is kept (evaluated at
    t = 0, every `eval_every` steps and at the end; never chosen by the true solution).

    Args:
        problem: PhaseRetrieval, TwoLayerReLU or Toy1D (one instance, or a batch of R instances).
        mu0: (R, d) starting points, or (d,) with `trials=R`; the problem's dtype.
        steps: T. num_samples: K. batch_size: J.
        power, sigma, lr: schedules (a number means constant).
        step_rule: "log" (mu += alpha N d, the default: it is the one that works), "raw" (the paper's
            literal mu += alpha e^{log_scale} d, which underflows for large N |f|), or "unit"
            (mu += alpha d / ||d||), with d the direction.
        eval_every: steps between validations.
        progress: a tqdm progress bar. callback: called with {"step", "steps", "elapsed"} after each
            native chunk (raising KeyboardInterrupt there stops the run like Ctrl-C).
        first_trial: trial r of this call uses Philox trial index first_trial + r; with mu0[r0] and
            problem[r0], ``first_trial=r0`` replays trial r0 of a batch alone.

    Returns:
        RunResult; after Ctrl-C, the results so far with ``interrupted=True``.
    """
    if step_rule not in STEP_RULES:
        raise ValueError(f"step_rule: expected 'raw', 'log' or 'unit', got {step_rule!r}")
    config = schedule_config(as_power(power), as_sigma(sigma), as_lr(lr))
    config.update(num_samples=integer(num_samples, "num_samples", 1), batch_size=integer(batch_size, "batch_size", 1),
                  step_rule=STEP_RULES[step_rule])
    return run("powerhp", problem, mu0, steps=steps, trials=trials, seed=seed, eval_every=eval_every,
               progress=progress, callback=callback, config=config, first_trial=first_trial)
