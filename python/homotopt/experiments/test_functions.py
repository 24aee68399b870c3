"""Classic multimodal test functions (Ackley, Rastrigin, Griewank, Levy, Styblinski-Tang, a shifted-rotated
Rastrigin) at d = 10 and 30: Prog-PowerHP (ask/tell, scale-free settings fixed for all functions) against
CMA-ES with IPOP restarts (pycma, optional: ``pip install homotopt[cma]``), Adam with restarts and GD, at
equal evaluation budgets.

Accounting: every method gets B = budget_per_dim x d evaluations per seed. One evaluation is one point
at which the method sees f (and, for Prog-PowerHP, GD and Adam, its gradient: the gradient methods get
the gradient free, CMA-ES uses values only). Starts are uniform in the domain (CMA-ES: its x0); all
methods clip to the domain. The score is f(best point seen) - f* (0 for every function here); success
is f - f* <= 1e-3 (converged in the global basin).
"""

from __future__ import annotations

import time

import numpy as np

from ..asktell import ProgPowerHP, sigma_to
from ._base import Options, Report
from ._functions import TestFunction, suite

NAME = "test-functions"
SUMMARY = "Ackley, Rastrigin, Griewank, Levy, Styblinski-Tang, shifted-rotated Rastrigin: Prog-PowerHP vs CMA-ES, Adam, GD"

# Prog-PowerHP's settings, fixed for every function (docs/tuning.md): fractions of the domain width.
K, POWER, SIGMA0, SIGMA_END, LR = 16, 0.3, 0.3, 1e-7, 0.5
ADAM_LR, ADAM_RESTARTS, GD_LR = 0.01, 10, 1e-3


def powerhp(tf: TestFunction, d: int, seeds: int, budget: int, seed: int) -> np.ndarray:
    w = tf.upper - tf.lower
    T = budget // K
    mu0 = np.random.default_rng(seed).uniform(tf.lower, tf.upper, (seeds, d))
    opt = ProgPowerHP(mu0, num_samples=K, power=POWER, sigma=sigma_to(SIGMA0 * w, SIGMA_END * w, T), lr=LR,
                      step_rule="sigma", scale_free=True, maximize=False, runs=seeds, bounds=(tf.lower, tf.upper),
                      seed=seed)
    for _ in range(T):
        x = opt.ask()
        f, g = tf.fn(x)
        opt.tell(f, g)
    return np.minimum(opt.best_value, tf.fn(opt.mu)[0])


def adam(tf: TestFunction, d: int, seeds: int, budget: int, seed: int, restarts: int) -> np.ndarray:
    """Adam (lr ADAM_LR x width, betas 0.9/0.999) from `restarts` uniform starts of budget/restarts steps."""
    rng = np.random.default_rng(seed + 1)
    best = np.full(seeds, np.inf)
    lr = ADAM_LR * (tf.upper - tf.lower)
    steps = budget // restarts
    for _ in range(restarts):
        x = rng.uniform(tf.lower, tf.upper, (seeds, d))
        m, v = np.zeros_like(x), np.zeros_like(x)
        for t in range(1, steps + 1):
            f, g = tf.fn(x)
            best = np.minimum(best, f)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            x = np.clip(x - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8), tf.lower, tf.upper)
    return best


def gd(tf: TestFunction, d: int, seeds: int, budget: int, seed: int) -> np.ndarray:
    """Plain gradient descent, lr GD_LR x width, one uniform start."""
    x = np.random.default_rng(seed + 2).uniform(tf.lower, tf.upper, (seeds, d))
    best = np.full(seeds, np.inf)
    for _ in range(budget):
        f, g = tf.fn(x)
        best = np.minimum(best, f)
        x = np.clip(x - GD_LR * (tf.upper - tf.lower) * g, tf.lower, tf.upper)
    return best


def cmaes(tf: TestFunction, d: int, seeds: int, budget: int, seed: int) -> np.ndarray | None:
    """pycma's fmin2 with IPOP restarts, sigma0 = 0.3 x width, default population; None without pycma."""
    try:
        import cma
    except ImportError:
        return None
    out = []
    rng = np.random.default_rng(seed + 3)
    for s in range(seeds):
        x0 = rng.uniform(tf.lower, tf.upper, d)
        es_best = [np.inf]

        def f(x: np.ndarray) -> float:
            v = float(tf.fn(np.asarray(x))[0])
            es_best[0] = min(es_best[0], v)
            return v

        cma.fmin2(f, x0, 0.3 * (tf.upper - tf.lower), restarts=9, incpopsize=2,
                  options={"bounds": [tf.lower, tf.upper], "maxfevals": budget, "verbose": -9, "seed": seed + s + 1,
                           "tolfun": 1e-12, "tolx": 1e-12})
        out.append(es_best[0])
    return np.array(out)


def run(opts: Options) -> Report:
    dims = (10,) if opts.quick else (10, 30)
    seeds = opts.trials or (2 if opts.quick else 20)
    per_dim = opts.steps or (200 if opts.quick else 2000)
    names = ("Rastrigin",) if opts.quick else None
    rows, data = [], {}
    for d in dims:
        budget = per_dim * d
        for tf in suite(d, opts.seed):
            if names and tf.name not in names:
                continue
            results = {}
            for method, fn in (("Prog-PowerHP", lambda: powerhp(tf, d, seeds, budget, opts.seed)),
                               ("CMA-ES (IPOP)", lambda: cmaes(tf, d, seeds, budget, opts.seed)),
                               ("Adam x10 restarts", lambda: adam(tf, d, seeds, budget, opts.seed, ADAM_RESTARTS)),
                               ("GD", lambda: gd(tf, d, seeds, budget, opts.seed))):
                t0 = time.perf_counter()
                best = fn()
                if best is None:
                    continue
                results[method] = best
                rows.append({"function": tf.name, "d": d, "method": method, "median f-f*": float(np.median(best)),
                             "success": float(np.mean(best <= 1e-3)), "wall s": time.perf_counter() - t0})
            data[f"{tf.name} d={d}"] = results
    report = Report(NAME, ["function", "d", "method", "median f-f*", "success", "wall s"], rows, data,
                    {"dims": dims, "seeds": seeds, "budget_per_dim": per_dim, "K": K, "power": POWER,
                     "sigma0_frac": SIGMA0, "sigma_end_frac": SIGMA_END, "lr": LR, "step_rule": "sigma",
                     "scale_free": True, "adam_lr_frac": ADAM_LR, "adam_restarts": ADAM_RESTARTS, "gd_lr_frac": GD_LR,
                     "seed": opts.seed, "quick": opts.quick})
    report.notes.append(f"Budget: {per_dim} x d evaluations per seed for every method; success: f - f* <= 1e-3; "
                        f"{seeds} seeds. CMA-ES appears only when pycma is installed.")

    def plot(fig):
        ax = fig.add_subplot()
        labels = sorted({(r["function"], r["d"]) for r in rows}, key=lambda x: (x[1], x[0]))
        methods = list(dict.fromkeys(r["method"] for r in rows))
        for i, m in enumerate(methods):
            ys = [next((r["median f-f*"] for r in rows if r["method"] == m and (r["function"], r["d"]) == lab), np.nan)
                  for lab in labels]
            ax.bar(np.arange(len(labels)) + i * 0.8 / len(methods), np.maximum(ys, 1e-16), 0.8 / len(methods), label=m)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(labels)) + 0.4 - 0.4 / len(methods))
        ax.set_xticklabels([f"{f[:12]}\nd={d}" for f, d in labels], fontsize=6)
        ax.set_ylabel("median f - f* (best point)")
        ax.legend(fontsize=7)

    report.plots = {"medians.png": plot}
    return report
