"""Hyper-parameter sensitivity of Prog-PowerHP (the paper's first "next check"): phase retrieval at
d = 50, n = 150 (n/d = 3), success rate (M <= 1e-3) over two heat maps -- the power's start N0 against its
increment Delta, and sigma's start sigma0 against its decay beta -- and a line over K. Every other setting
stays at the base point (the d = 100 protocol's values scaled to T steps). The robust region named in the
notes is the set of cells within 0.1 of the best cell's success rate.
"""

from __future__ import annotations

import numpy as np

import homotopt
from homotopt.problems import PhaseRetrieval

from ._base import Options, Report

NAME = "sensitivity"
SUMMARY = "phase retrieval d = 50, n/d = 3: success heat maps over N0 x Delta, sigma0 x beta, and K"

D, N_ROWS, J = 50, 150, 16
BASE = dict(K=8, N0=0.01, delta_T=1.0, sigma0=0.15, beta_T=1e-5, lr=0.7)
# Grids: Delta and beta are given as totals over the run (N gains delta_T; sigma shrinks by beta_T),
# so the same grid means the same schedule shape at any T.
N0S = (0.001, 0.01, 0.1, 1.0)
DELTA_TS = (0.0, 0.3, 1.0, 3.0)
SIGMA0S = (0.01, 0.05, 0.15, 0.5)
BETA_TS = (1.0, 1e-2, 1e-5, 1e-8)
KS = (1, 2, 4, 8, 16)


def _run(batch, mu0, steps, seed, progress, *, K, N0, delta_T, sigma0, beta_T, lr) -> float:
    res = homotopt.prog_powerhp(batch, mu0, steps=steps, num_samples=K, batch_size=J, seed=seed, progress=progress,
                                power=homotopt.PowerSchedule(N0, delta_T / steps, max(N0 + delta_T, N0)),
                                sigma=homotopt.SigmaSchedule(sigma0, beta_T ** (1.0 / steps)), lr=homotopt.LearningRate(lr),
                                eval_every=max(1, steps // 100))
    return res.success_rate(1e-3)


def run(opts: Options) -> Report:
    trials = opts.trials or (3 if opts.quick else 40)
    steps = opts.steps or (100 if opts.quick else 20_000)
    batch = PhaseRetrieval.random(D, N_ROWS, seed=opts.seed, trials=trials)
    mu0 = batch.random_start(trials, seed=opts.seed + 1)
    go = dict(batch=batch, mu0=mu0, steps=steps, seed=opts.seed, progress=False)
    grid_n = np.array([[_run(**go, **(BASE | dict(N0=a, delta_T=b))) for b in DELTA_TS] for a in N0S])
    grid_s = np.array([[_run(**go, **(BASE | dict(sigma0=a, beta_T=b))) for b in BETA_TS] for a in SIGMA0S])
    line_k = np.array([_run(**go, **(BASE | dict(K=k))) for k in KS])
    rows = []
    for i, a in enumerate(N0S):
        rows += [{"grid": "N0 x Delta_T", "row": a, "col": b, "success": grid_n[i, j]} for j, b in enumerate(DELTA_TS)]
    for i, a in enumerate(SIGMA0S):
        rows += [{"grid": "sigma0 x beta_T", "row": a, "col": b, "success": grid_s[i, j]} for j, b in enumerate(BETA_TS)]
    rows += [{"grid": "K", "row": k, "col": "", "success": s} for k, s in zip(KS, line_k)]

    def robust(grid, ra, ca, rname, cname):
        best = grid.max()
        if best == 0:
            return f"{rname} x {cname}: no cell succeeded (no robust region at this size)"
        cells = [f"({rname}={ra[i]:g}, {cname}={ca[j]:g})" for i, j in zip(*np.where(grid >= best - 0.1))]
        return f"{rname} x {cname}: best {best:.2f}; within 0.1 of it: " + ", ".join(cells)

    report = Report(NAME, ["grid", "row", "col", "success"], rows,
                    {"N0_x_delta": grid_n, "sigma0_x_beta": grid_s, "K": line_k},
                    {"d": D, "n": N_ROWS, "J": J, "steps": steps, "trials": trials, "base": BASE, "N0s": N0S,
                     "delta_Ts": DELTA_TS, "sigma0s": SIGMA0S, "beta_Ts": BETA_TS, "Ks": KS, "seed": opts.seed,
                     "quick": opts.quick})
    report.notes += ["Delta_T: total rise of N over the run (Delta = Delta_T / T, N capped at N0 + Delta_T); "
                     "beta_T: sigma_T / sigma0 (beta = beta_T^(1/T)); step rule 'log', lr 0.7, J = 16.",
                     robust(grid_n, N0S, DELTA_TS, "N0", "Delta_T"), robust(grid_s, SIGMA0S, BETA_TS, "sigma0", "beta_T"),
                     "K: " + ", ".join(f"{k}: {s:.2f}" for k, s in zip(KS, line_k))]

    def heat(grid, ra, ca, rname, cname):
        def draw(fig):
            ax = fig.add_subplot()
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower")
            ax.set_xticks(range(len(ca)), [f"{c:g}" for c in ca])
            ax.set_yticks(range(len(ra)), [f"{r:g}" for r in ra])
            ax.set_xlabel(cname)
            ax.set_ylabel(rname)
            for i in range(len(ra)):
                for j in range(len(ca)):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
            fig.colorbar(im, ax=ax, label="success rate (M <= 1e-3)")
            ax.set_title(f"Phase retrieval d = {D}, n = {N_ROWS}, T = {steps}")
        return draw

    report.plots = {"power_grid.png": heat(grid_n, N0S, DELTA_TS, "N0", "Delta_T (total rise of N)"),
                    "sigma_grid.png": heat(grid_s, SIGMA0S, BETA_TS, "sigma0", "beta_T = sigma_T / sigma0")}
    return report
