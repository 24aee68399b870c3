"""The K-ablation of the paper: how the number of Gaussian samples K trades gradient variance, progress and
wall time (phase retrieval, d = 50, n = 200).

For each K in {1, 3, 5, 10, 20}:
  * variance: at a fixed starting point, the squared error of the power-gradient direction (minibatch
    of J = 16 rows, K samples) over `draws` independent draws, against the direction with all n rows
    and K = 100,000 samples (its own sampling error is 1/6,250 of K = 16's);
  * progress: Prog-PowerHP runs (the d = 100 protocol's settings, T = 30,000), the step at which the
    best iterate first reaches M < 1e-2 (median over the trials that do) and the share that does;
  * wall time per step of the native runner (one trial per thread).
"""

from __future__ import annotations

import time

import numpy as np

import homotopt
from homotopt.problems import PhaseRetrieval
from homotopt.random import Stream

from ._base import Options, Report

NAME = "k-ablation"
SUMMARY = "phase retrieval d = 50, n = 200: gradient variance, steps to M < 1e-2 and wall time against K"

KS = (1, 3, 5, 10, 20)
D, N_ROWS, J, STEPS = 50, 200, 16, 30_000
SIGMA0, POWER0 = 0.15, 0.5


def _settings(steps: int) -> dict:
    scale = STEPS / steps
    return dict(power=homotopt.PowerSchedule(0.01, 2e-5 * scale, 1.0),
                sigma=homotopt.SigmaSchedule(0.15, 0.9996**scale), lr=homotopt.LearningRate(0.7),
                eval_every=max(1, round(100 / scale)))


def run(opts: Options) -> Report:
    trials = opts.trials or (8 if opts.quick else 50)
    steps = opts.steps or (3000 if opts.quick else STEPS)
    draws = 50 if opts.quick else 400
    problem = PhaseRetrieval.random(D, N_ROWS, seed=opts.seed)
    mu = problem.random_start(1, seed=opts.seed + 1)[0]
    exact = problem.power_gradient(mu, sigma=SIGMA0, power=POWER0, num_samples=100_000, seed=opts.seed + 2).direction
    batch = PhaseRetrieval.random(D, N_ROWS, seed=opts.seed, trials=trials)
    mu0 = batch.random_start(trials, seed=opts.seed + 1)
    rows, data = [], {}
    for K in KS:
        errors = []
        for t in range(draws):
            rows_t = homotopt.random.integers(N_ROWS, J, opts.seed + 3, t, stream=Stream.MINIBATCH)
            g = problem.power_gradient(mu, sigma=SIGMA0, power=POWER0, num_samples=K, seed=opts.seed + 3, step=t,
                                       rows=rows_t).direction
            errors.append(float(np.sum((g - exact) ** 2)))
        t0 = time.perf_counter()
        res = homotopt.prog_powerhp(batch, mu0, steps=steps, num_samples=K, batch_size=J, seed=opts.seed,
                                    progress=opts.progress, **_settings(steps))
        wall = time.perf_counter() - t0
        hit = res.history.metric < 1e-2
        first = np.where(hit.any(axis=0), res.history.step[np.argmax(hit, axis=0)], -1)
        reached = first[first >= 0]
        rows.append({"K": K, "variance": float(np.mean(errors)), "variance x K": float(np.mean(errors)) * K,
                     "reached M<1e-2": float(np.mean(first >= 0)),
                     "median steps to M<1e-2": float(np.median(reached)) if reached.size else float("nan"),
                     "success M<=1e-3": res.success_rate(1e-3),
                     "us per trial-step": wall / (steps * trials) * 1e6 * homotopt.get_num_threads()})
        data[f"K={K}"] = {"squared_errors": errors, "first_step_below_1e-2": first, "best_metric": res.best_metric}
    report = Report(NAME, ["K", "variance", "variance x K", "reached M<1e-2", "median steps to M<1e-2",
                           "success M<=1e-3", "us per trial-step"], rows, data,
                    {"d": D, "n": N_ROWS, "J": J, "steps": steps, "trials": trials, "draws": draws, "sigma": SIGMA0,
                     "power": POWER0, "seed": opts.seed, "quick": opts.quick})
    report.notes.append("variance: mean squared error of the direction (J = 16 rows, K samples) against all rows "
                        "with K = 100,000; 'variance x K' constant means the 1/K law. us per trial-step: wall "
                        "time x threads / (steps x trials).")

    def variance_plot(fig):
        ax = fig.add_subplot()
        v = [r["variance"] for r in rows]
        ax.loglog(KS, v, "o-", label="measured")
        ax.loglog(KS, [v[0] / k for k in KS], "k:", label="1/K")
        ax.set_xlabel("K")
        ax.set_ylabel("E ||direction - exact||^2")
        ax.set_title("Gradient variance against K (d = 50, n = 200)")
        ax.legend()

    def time_plot(fig):
        ax = fig.add_subplot()
        ax.plot(KS, [r["us per trial-step"] for r in rows], "o-")
        ax.set_xlabel("K")
        ax.set_ylabel("microseconds per trial-step (one thread)")
        ax.set_title("Wall time per step against K")
        ax.set_ylim(bottom=0)

    report.plots = {"variance.png": variance_plot, "wall_time.png": time_plot}
    return report
