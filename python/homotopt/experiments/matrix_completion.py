"""Low-rank matrix completion (a second cross-domain problem the paper suggests): Prog-PowerHP (ask/tell)
against SGD and Adam on the same minibatches of observed entries.

M = U* V*^T (m = n = 20, rank 2, Gaussian factors scaled so entries are O(1)); a share `rate` of the
entries is observed, near the recovery threshold (r (m + n - r) = 76 degrees of freedom; rates 0.3-0.5
observe 120-200 entries). Parameters w = (U, V), d = 80; fitness on an observed entry (i, j):
f_w = -(u_i . v_j - M_ij)^2. Every method starts from the same small random factors and draws the same
J entries per step. Success: relative error ||U V^T - M||_F / ||M||_F <= 1e-3 at the best iterate (best by
the mean fitness on all observed entries, every 100 steps).
"""

from __future__ import annotations

import numpy as np

from ..asktell import ProgPowerHP, sigma_to
from ._base import Options, Report

NAME = "matrix-completion"
SUMMARY = "rank-2 completion of a 20 x 20 matrix near the sampling threshold: Prog-PowerHP vs SGD, Adam"

M_, N_, RANK, J, K = 20, 20, 2, 16, 8
RATES = (0.3, 0.4, 0.5)
SGD_LR, ADAM_LR, PHP_LR = 0.05, 0.01, 0.5


def instance(rate: float, seed: int):
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((M_, RANK)), rng.standard_normal((N_, RANK))
    M = U @ V.T / np.sqrt(RANK)
    obs = np.argwhere(rng.random((M_, N_)) < rate)
    return M, obs


def split(w: np.ndarray):
    return w[..., :M_ * RANK].reshape(w.shape[:-1] + (M_, RANK)), w[..., M_ * RANK:].reshape(w.shape[:-1] + (N_, RANK))


def pairs(w: np.ndarray, M: np.ndarray, idx: np.ndarray):
    """Fitness (..., J) and gradients (..., J, d) at w (..., d) on the entries idx (J, 2)."""
    U, V = split(w)
    ui, vj = U[..., idx[:, 0], :], V[..., idx[:, 1], :]             # (..., J, r)
    res = np.sum(ui * vj, -1) - M[idx[:, 0], idx[:, 1]]            # (..., J)
    g = np.zeros(w.shape[:-1] + (len(idx), w.shape[-1]))
    jj = np.arange(len(idx))
    for a in range(RANK):
        g[..., jj, idx[:, 0] * RANK + a] = -2 * res * vj[..., a]
        g[..., jj, M_ * RANK + idx[:, 1] * RANK + a] = -2 * res * ui[..., a]
    return -res * res, g


def rel_error(w: np.ndarray, M: np.ndarray) -> np.ndarray:
    U, V = split(w)
    return np.linalg.norm(U @ np.swapaxes(V, -1, -2) - M, axis=(-2, -1)) / np.linalg.norm(M)


def run_methods(rate: float, runs: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    M, obs = instance(rate, seed)
    d = (M_ + N_) * RANK
    w0 = 0.1 * np.random.default_rng(seed + 1).standard_normal((runs, d))
    batches = np.random.default_rng(seed + 2).integers(0, len(obs), (steps, runs, J))
    full = lambda w: pairs(w, M, obs)[0].mean(-1)  # noqa: E731
    out = {}
    # docs/tuning.md's scale-free settings, unchanged (width 1: the entries' scale).
    opt = ProgPowerHP(w0, num_samples=K, runs=runs, seed=seed, step_rule="sigma", lr=PHP_LR, scale_free=True,
                      power=0.3, sigma=sigma_to(0.3, 1e-7, steps))
    for t in range(steps):
        W = opt.ask()
        vals = np.empty((runs, K, J))
        grads = np.empty((runs, K, J, d))
        for r in range(runs):
            vals[r], grads[r] = pairs(W[r], M, obs[batches[t, r]])
        opt.tell(vals, grads)
        if t % 100 == 0 or t == steps - 1:
            opt.report(full(opt.mu))
    out["Prog-PowerHP"] = rel_error(opt.best_mu, M)
    for name in ("SGD", "Adam"):
        w = w0.copy()
        m, v = np.zeros_like(w), np.zeros_like(w)
        best, best_w = full(w), w.copy()
        for t in range(steps):
            g = np.stack([pairs(w[r], M, obs[batches[t, r]])[1].mean(0) for r in range(runs)])  # ascent gradient
            if name == "SGD":
                w = w + SGD_LR * g
            else:
                m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
                w = w + ADAM_LR * (m / (1 - 0.9 ** (t + 1))) / (np.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-8)
            if t % 100 == 0 or t == steps - 1:
                f = full(w)
                better = f > best
                best, best_w[better] = np.where(better, f, best), w[better]
        out[name] = rel_error(best_w, M)
    return out


def run(opts: Options) -> Report:
    runs = opts.trials or (3 if opts.quick else 20)
    steps = opts.steps or (200 if opts.quick else 10_000)
    rates = RATES[-1:] if opts.quick else RATES
    rows, data = [], {}
    for rate in rates:
        res = run_methods(rate, runs, steps, opts.seed)
        data[f"rate={rate}"] = res
        for name, err in res.items():
            rows.append({"rate": rate, "method": name, "median rel. error": float(np.median(err)),
                         "success (<=1e-3)": float(np.mean(err <= 1e-3))})
    report = Report(NAME, ["rate", "method", "median rel. error", "success (<=1e-3)"], rows, data,
                    {"m": M_, "n": N_, "rank": RANK, "J": J, "K": K, "runs": runs, "steps": steps, "rates": rates,
                     "sgd_lr": SGD_LR, "adam_lr": ADAM_LR, "powerhp": {"lr": PHP_LR, "step_rule": "sigma",
                     "scale_free": True, "power": 0.3, "sigma": "0.3 -> 1e-7 geometric"}, "seed": opts.seed,
                     "quick": opts.quick})

    def plot(fig):
        ax = fig.add_subplot()
        for name in ("Prog-PowerHP", "SGD", "Adam"):
            ax.plot(rates, [r["success (<=1e-3)"] for r in rows if r["method"] == name], "o-", label=name)
        ax.set_xlabel("observed share of entries")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.05, 1.05)
        ax.legend()

    report.plots = {"success.png": plot}
    return report
