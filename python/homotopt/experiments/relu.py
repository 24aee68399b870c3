"""Two-layer ReLU teacher-student, under-parameterized (k = n): Prog-PowerHP against SGD, Adam and SLGH_r.

The protocol of papers/prog_powerhp.md: J = 30 fresh inputs per step, K = 1 sample, 35,000 steps,
100 runs, a 5,000-point test set; the best iterate is chosen on a held-out validation set (1,000
points) and the reported loss is its test loss. Settings: the best of the grids in
bench/tune_relu.py, tuned on other seeds at k = 10 (used for k <= 10) and k = 20 (used for k >= 15):
the loss grows with k, so the power, the rate and SLGH's rate that work at k = 10 diverge at k = 20.
The Mann-Whitney U test (one-sided: Prog-PowerHP's losses smaller) compares each baseline with
Prog-PowerHP.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import homotopt
from homotopt.problems import TwoLayerReLU

from ._base import Options, Report

NAME = "relu"
SUMMARY = "two-layer ReLU teacher-student, k = n in {6, 10, 15, 20}: test loss of Prog-PowerHP and baselines"

KS = (6, 10, 15, 20)
STEPS, J, THRESHOLD = 35_000, 30, 1e-3
METHODS = ("powerhp", "sgd", "adam", "slgh")
SMALL_K: dict[str, dict[str, Any]] = {  # tuned at k = 10 (bench/results/tune_relu_k10.json)
    "powerhp": dict(num_samples=1, power=(0.5, 5.0), sigma0=0.3, lr=homotopt.LearningRate(3.0)),
    "sgd": dict(lr=0.01),
    "adam": dict(lr=1e-3),
    "slgh": dict(lr=1e-3, num_samples=1, sigma=0.1, gamma=0.999),
}
LARGE_K: dict[str, dict[str, Any]] = {  # tuned at k = 20 (bench/results/tune_relu_k20.json)
    "powerhp": dict(num_samples=1, power=(0.25, 2.5), sigma0=0.1, lr=homotopt.LearningRate(1.0)),
    "sgd": dict(lr=0.01),
    "adam": dict(lr=1e-3),
    "slgh": dict(lr=1e-4, num_samples=1, sigma=0.1, gamma=0.999),
}


def settings(k: int) -> dict[str, dict[str, Any]]:
    return SMALL_K if k <= 10 else LARGE_K


def _run_method(method: str, problem, mu0, steps: int, seed: int, progress: bool):
    common = dict(steps=steps, batch_size=J, eval_every=max(1, steps // 70), seed=seed, progress=progress)
    s = settings(problem.k)[method]
    if method == "powerhp":
        n0, nmax = s["power"]
        return homotopt.prog_powerhp(problem, mu0, num_samples=s["num_samples"],
                                     power=homotopt.PowerSchedule(n0, (nmax - n0) / steps, nmax),
                                     sigma=homotopt.SigmaSchedule(s["sigma0"], (1e-4 / s["sigma0"]) ** (1 / steps)),
                                     lr=s["lr"], **common)
    return getattr(homotopt.baselines, method)(problem, mu0, **common, **s)


def mann_whitney_less(x: np.ndarray, y: np.ndarray) -> float:
    """One-sided p-value that x tends to be smaller than y (NaN without SciPy)."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return float("nan")
    return float(mannwhitneyu(x, y, alternative="less").pvalue)


def fisher_more_successes(x: np.ndarray, y: np.ndarray) -> float:
    """One-sided p-value (Fisher's exact test) that x's losses fall below THRESHOLD more often than y's
    (NaN without SciPy)."""
    try:
        from scipy.stats import fisher_exact
    except ImportError:
        return float("nan")
    a, b = int(np.sum(x < THRESHOLD)), int(np.sum(y < THRESHOLD))
    return float(fisher_exact([[a, x.size - a], [b, y.size - b]], alternative="greater").pvalue)


def task(*, k: int, method: str, seed: int = 0, trials: int = 100, steps: int = STEPS) -> dict[str, Any]:
    """One native run (a sweep's task): `trials` runs of `method` at k = n."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    problem = TwoLayerReLU(k, k, seed=seed, trials=trials)
    t0 = time.perf_counter()
    res = _run_method(method, problem, problem.random_start(trials, seed=seed + 1), steps, seed, False)
    loss = res.best_metric
    return {"mean loss": float(loss.mean()), "median loss": float(np.median(loss)),
            f"share < {THRESHOLD:g}": float(np.mean(loss < THRESHOLD)), "wall s": time.perf_counter() - t0}


def run(opts: Options) -> Report:
    ks = (6,) if opts.quick else KS
    trials = opts.trials or (8 if opts.quick else 100)
    steps = opts.steps or (3000 if opts.quick else STEPS)
    rows, data = [], {}
    for k in ks:
        problem = TwoLayerReLU(k, k, seed=opts.seed, trials=trials)
        mu0 = problem.random_start(trials, seed=opts.seed + 1)
        losses = {}
        for method in METHODS:
            t0 = time.perf_counter()
            res = _run_method(method, problem, mu0, steps, opts.seed, opts.progress)
            losses[method] = res.best_metric
            rows.append({"k = n": k, "method": method, "mean loss": float(res.best_metric.mean()),
                         "std": float(res.best_metric.std(ddof=1)) if trials > 1 else float("nan"),
                         "median loss": float(np.median(res.best_metric)),
                         f"share < {THRESHOLD:g}": float(np.mean(res.best_metric < THRESHOLD)),
                         "p (lower)": float("nan"), "p (share)": float("nan"), "wall s": time.perf_counter() - t0})
            data[f"k={k},{method}"] = {"test_loss": res.best_metric, "best_step": res.best_step}
        for row in rows:
            if row["k = n"] == k and row["method"] != "powerhp":
                row["p (lower)"] = mann_whitney_less(losses["powerhp"], losses[row["method"]])
                row["p (share)"] = fisher_more_successes(losses["powerhp"], losses[row["method"]])
    report = Report(NAME, ["k = n", "method", "mean loss", "std", "median loss", f"share < {THRESHOLD:g}",
                           "p (lower)", "p (share)", "wall s"], rows, data,
                    {"ks": ks, "trials": trials, "steps": steps, "J": J, "seed": opts.seed, "quick": opts.quick,
                     "settings": {f"k={k}": {m: {key: repr(v) for key, v in s.items()} for m, s in settings(k).items()}
                                  for k in ks}})
    report.notes.append("Loss: test mean squared error of the best iterate (chosen on the validation set). "
                        "One-sided tests against each baseline, small p favouring Prog-PowerHP: 'p (lower)', "
                        "Mann-Whitney U, that its losses are smaller; 'p (share)', Fisher's exact test, that its "
                        f"losses fall below {THRESHOLD:g} more often.")

    def box_plot(fig):
        axes = fig.subplots(1, len(ks), sharey=True, squeeze=False)[0]
        for ax, k in zip(axes, ks):
            ax.boxplot([np.maximum(data[f"k={k},{m}"]["test_loss"], 1e-12) for m in METHODS])
            ax.set_xticks(range(1, len(METHODS) + 1), METHODS)
            ax.set_yscale("log")
            ax.set_title(f"k = n = {k}", fontsize=9)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        axes[0].set_ylabel("test loss of the best iterate (floor 1e-12)")

    report.plots = {"test_loss.png": box_plot}
    return report
