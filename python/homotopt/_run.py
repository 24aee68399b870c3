"""The driver shared by Prog-PowerHP and the baselines: validation of the call, the native runner
advanced in chunks (a progress bar between chunks; Ctrl-C stops cleanly with the results so far),
and the result type."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _core
from ._validation import boolean, integer, seed as check_seed
from .schedules import LearningRate, PowerSchedule, SigmaSchedule

METHODS = {m: getattr(_core.Method, m) for m in ("powerhp", "gd", "sgd", "adam", "slgh")}
STEP_RULES = {r: getattr(_core.StepRule, r) for r in ("raw", "log", "unit")}
_TARGET_CHUNK_S = 0.25  # wall time per native call: a responsive bar, negligible Python overhead


@dataclass(frozen=True)
class RunHistory:
    """Evaluations at steps 0, eval_every, 2 eval_every, ..., and the last step.

    Attributes: step (E,), power (E,) and sigma (E,) at those steps, value (E, R) the validation
    fitness of each trial's iterate, metric (E, R) the problem's metric (NaN where it has none).
    """

    step: np.ndarray
    power: np.ndarray
    sigma: np.ndarray
    value: np.ndarray
    metric: np.ndarray


@dataclass(frozen=True)
class RunResult:
    """The outcome of R trials.

    Attributes:
        method: "powerhp", "gd", "sgd", "adam" or "slgh".
        best_mu: (R, d) each trial's iterate with the best validation fitness (never a NaN iterate).
        best_value: (R,) that fitness (-inf if every evaluation was NaN).
        best_step: (R,) the step of that evaluation.
        best_metric: (R,) the problem's metric at best_mu, or None.
        final_mu: (R, d) the iterates after the last completed step.
        history: the evaluations (RunHistory).
        steps: steps completed (less than requested if interrupted).
        interrupted: whether Ctrl-C (KeyboardInterrupt) stopped the run early.
        wall_time: seconds.
        settings: the run's settings, for the record.
    """

    method: str
    best_mu: np.ndarray
    best_value: np.ndarray
    best_step: np.ndarray
    best_metric: np.ndarray | None
    final_mu: np.ndarray
    history: RunHistory
    steps: int
    interrupted: bool
    wall_time: float
    settings: dict = field(repr=False)

    def success_rate(self, threshold: float) -> float:
        """Share of trials whose best iterate has metric <= threshold (phase retrieval: M <= 1e-3)."""
        if self.best_metric is None:
            raise ValueError("success_rate: this problem has no metric")
        return float(np.mean(self.best_metric <= threshold))

    def __repr__(self) -> str:
        R = self.best_mu.shape[0]
        text = f"RunResult({self.method}, trials={R}, steps={self.steps}, wall_time={self.wall_time:.2f}s"
        if self.best_metric is not None:
            text += f", median metric={float(np.median(self.best_metric)):.3g}"
        return text + (", interrupted)" if self.interrupted else ")")


def starting_points(problem: Any, mu0: Any, trials: int | None) -> np.ndarray:
    """mu0 as (R, d) in the problem's dtype: (R, d) as given, or (d,) repeated `trials` times."""
    mu0 = np.asarray(mu0)
    if mu0.dtype != problem.dtype:
        raise TypeError(f"mu0: expected dtype {problem.dtype} (the problem's dtype), got {mu0.dtype}")
    d = problem.dim
    if mu0.ndim == 1:
        if mu0.shape != (d,):
            raise ValueError(f"mu0: expected shape (d,) = ({d},) or (R, d), got {mu0.shape}")
        mu0 = np.repeat(mu0[None, :], 1 if trials is None else integer(trials, "trials", 1), axis=0)
    elif mu0.ndim == 2:
        if mu0.shape[1] != d or mu0.shape[0] < 1:
            raise ValueError(f"mu0: expected shape (R, d) with d = {d}, got {mu0.shape}")
        if trials is not None and integer(trials, "trials", 1) != mu0.shape[0]:
            raise ValueError(f"trials: expected {mu0.shape[0]} (the rows of mu0) or None, got {trials}")
    else:
        raise ValueError(f"mu0: expected shape (d,) or (R, d), got {mu0.shape}")
    if problem.trials is not None and mu0.shape[0] != problem.trials:
        raise ValueError(f"mu0: expected R = {problem.trials} starting points (one per problem instance), "
                         f"got {mu0.shape[0]}")
    if not np.all(np.isfinite(mu0)):
        raise ValueError("mu0: expected finite values")
    return np.ascontiguousarray(mu0)


def run(method: str, problem: Any, mu0: Any, *, steps: int, trials: int | None, seed: int, eval_every: int,
        progress: bool, callback: Callable[[dict], None] | None, config: dict, first_trial: int = 0) -> RunResult:
    """Runs the native loop in chunks. `config` holds the method's settings in the binding's names."""
    if not hasattr(problem, "_runner_problem"):
        raise TypeError(f"problem: expected a homotopt problem (PhaseRetrieval, TwoLayerReLU, Toy1D), "
                        f"got {type(problem).__name__}")
    steps = integer(steps, "steps", 1, 2**32)
    cfg = dict(config, method=METHODS[method], steps=steps, seed=check_seed(seed),
               eval_every=integer(eval_every, "eval_every", 1), first_trial=integer(first_trial, "first_trial", 0))
    x0 = starting_points(problem, mu0, trials)
    runner = _core.Runner(problem._runner_problem(), cfg, x0)
    bar = _progress_bar(boolean(progress, "progress"), steps, method, x0.shape[0])
    interrupted = False
    start = time.perf_counter()
    chunk = min(steps, max(1, cfg["eval_every"]))
    try:
        while runner.step < steps:
            t0 = time.perf_counter()
            before = runner.step
            runner.advance(chunk)
            elapsed = time.perf_counter() - t0
            done = runner.step - before
            if bar is not None:
                bar.update(done)
            if callback is not None:
                callback({"step": runner.step, "steps": steps, "elapsed": time.perf_counter() - start})
            per_step = elapsed / max(done, 1)
            chunk = int(min(steps, max(1, _TARGET_CHUNK_S / max(per_step, 1e-9))))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - start
    mu, best_mu, best_value, best_step = runner.state()
    h = runner.history()
    history = RunHistory(h["step"], h["power"], h["sigma"], h["value"], h["metric"])
    best_metric = _metric(problem, best_mu)
    settings = dict(cfg, method=method, trials=x0.shape[0], problem=repr(problem))
    return RunResult(method, best_mu, best_value, best_step, best_metric, mu, history, int(runner.step),
                     interrupted, wall, settings)


def _metric(problem: Any, mu: np.ndarray) -> np.ndarray | None:
    try:
        out = problem.metric(mu)
    except ValueError:  # the problem has no metric (e.g. phase retrieval without x_true)
        return None
    return np.atleast_1d(np.asarray(out, dtype=np.float64))


def _progress_bar(progress: bool, steps: int, method: str, trials: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc=f"{method} x{trials}", unit="step", leave=False, dynamic_ncols=True)


def schedule_config(power: PowerSchedule, sigma: SigmaSchedule, lr: LearningRate) -> dict:
    """The schedules' part of the runner's config: the native (checked) structs."""
    return {"power": power.native(), "sigma": sigma.native(), "lr": lr.native()}
