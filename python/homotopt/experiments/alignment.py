"""Assumption 4 (average-best alignment) violated on purpose: how Prog-PowerHP degrades.

Data x ~ D are of two kinds: with probability 0.9 a "common" point (f_w = -||w||^2) and with probability
0.1 a "rare" one (f_w = c - ||w - 3 e||^2, e = (1, ..., 1)/sqrt(d)). The average fitness
G(w) = E f_w(x) is maximized at w* = 0.3 e whatever c; the best case max_x f_w(x), which exp(N f) favours
as N grows, peaks at 3 e once c > 0. The bonus c sets how far apart the two are. For each c and each cap
N_max of the power (N rises linearly from 0.01 to N_max over the run), Prog-PowerHP (ask/tell, R runs,
J = 8 points per step, step rule "mean" so that N changes the weighting and not the step size, best
iterate by the exact G reported every 50 steps) is scored by the gap
G(w*) - G(best mu); N_max -> 0 is plain stochastic gradient ascent on G.
"""

from __future__ import annotations

import numpy as np

from ..asktell import ProgPowerHP, sigma_to
from ._base import Options, Report

NAME = "alignment"
SUMMARY = "a problem violating the average-best alignment (Assumption 4): G gap against the bonus c and N_max"

D, P_RARE, SHIFT, J, K = 10, 0.1, 3.0, 8, 8
BONUSES = (0.0, 0.5, 2.0, 8.0)
N_MAXES = (0.01, 0.3, 1.0, 3.0, 10.0)


def average(w: np.ndarray, c: float) -> np.ndarray:
    e = np.ones(w.shape[-1]) / np.sqrt(w.shape[-1])
    return -(1 - P_RARE) * np.sum(w * w, -1) + P_RARE * (c - np.sum((w - SHIFT * e) ** 2, -1))


def optimum(c: float) -> float:
    return float(average(np.full(D, P_RARE * SHIFT / np.sqrt(D)), c))


def trial(c: float, n_max: float, runs: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """G gaps per run: of the best reported iterate, and of the final iterate."""
    e = np.ones(D) / np.sqrt(D)
    rng = np.random.default_rng(seed)
    mu0 = rng.standard_normal((runs, D))
    opt = ProgPowerHP(mu0, num_samples=K, runs=runs, seed=seed, step_rule="mean", lr=0.05,
                      power=__import__("homotopt").PowerSchedule(0.01, (n_max - 0.01) / steps, n_max),
                      sigma=sigma_to(0.5, 1e-4, steps))
    for t in range(steps):
        W = opt.ask()                                   # (R, K, d)
        rare = rng.random((runs, 1, J)) < P_RARE         # the same J points for every sample of a run
        center = np.where(rare[..., None], SHIFT * e, 0.0)        # (R, 1, J, d)
        diff = W[:, :, None, :] - center
        values = np.where(rare, c, 0.0) - np.sum(diff * diff, -1)  # (R, K, J)
        opt.tell(values, -2 * diff)
        if t % 50 == 0 or t == steps - 1:
            opt.report(average(opt.mu, c))
    return optimum(c) - opt.best_value, optimum(c) - average(opt.mu, c)


def run(opts: Options) -> Report:
    runs = opts.trials or (3 if opts.quick else 20)
    steps = opts.steps or (150 if opts.quick else 5000)
    bonuses = BONUSES[::3] if opts.quick else BONUSES
    n_maxes = N_MAXES[::2] if opts.quick else N_MAXES
    both = np.array([[np.median(trial(c, n, runs, steps, opts.seed), axis=1) for n in n_maxes] for c in bonuses])
    gaps, finals = both[..., 0], both[..., 1]
    rows = [{"bonus c": c, "N_max": n, "median G gap (best)": gaps[i, j], "median G gap (final)": finals[i, j]}
            for i, c in enumerate(bonuses) for j, n in enumerate(n_maxes)]
    report = Report(NAME, ["bonus c", "N_max", "median G gap (best)", "median G gap (final)"], rows,
                    {"gaps_best": gaps, "gaps_final": finals},
                    {"d": D, "p_rare": P_RARE, "shift": SHIFT, "J": J, "K": K, "runs": runs, "steps": steps,
                     "bonuses": bonuses, "n_maxes": n_maxes, "lr": 0.05, "step_rule": "mean", "seed": opts.seed,
                     "quick": opts.quick})
    report.notes.append("best: the iterate with the best exact G among those reported every 50 steps (a "
                        "perfect validation set); final: the last iterate. "
                        "G gap = G(w*) - G(mu) (0 is the average maximizer; the best-case maximizer 3e has "
                        f"gap {optimum(0.0) - float(average(SHIFT * np.ones(D) / np.sqrt(D), 0.0)):.3g}).")

    def plot(fig):
        ax = fig.add_subplot()
        for i, c in enumerate(bonuses):
            ax.plot(n_maxes, np.maximum(gaps[i], 1e-8), "o-", color=f"C{i}", label=f"c = {c:g}, best")
            ax.plot(n_maxes, np.maximum(finals[i], 1e-8), "s--", color=f"C{i}", label=f"c = {c:g}, final")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N_max")
        ax.set_ylabel("median G(w*) - G(best mu)")
        ax.legend(fontsize=7)
        ax.set_title("Average-best misalignment: the price of a large power")

    report.plots = {"gap.png": plot}
    return report
