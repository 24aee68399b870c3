"""The paper's Figure 1: the 1-D example's landscape log F_{N,sigma}(mu) for several N and sigma, computed by
quadrature in log space, and the path of one Prog-PowerHP run over it.

F_{N,sigma}(mu) = E_z[exp(N f(mu + sigma z))], z ~ N(0, 1), f the 1-D example (no data noise). The
quadrature is composite Gauss-Legendre on a mesh graded towards the two peaks (16 nodes per panel),
accumulated in log space with homotopt's log-sum-exp state: exp(N f) reaches e^1150 at N = 100 and is
never formed. Gauss-Hermite, the textbook rule for Gaussian expectations, does not converge here: its
nodes are too sparse for the 3e-3-wide global peak (at sigma = 0.1, N = 10, 100 and 200 nodes give
106.5 and 98.5), and NumPy's hermgauss breaks down (NaN weights) beyond ~300 nodes.
"""

from __future__ import annotations

import numpy as np

import homotopt
from homotopt.problems import Toy1D

from ._base import Options, Report

NAME = "figure1"
SUMMARY = "the 1-D example: log F_{N,sigma} by quadrature for several N and sigma, and a Prog-PowerHP path over it"

POWERS = (1.0, 10.0, 100.0)
SIGMAS = (0.5, 0.2, 0.05)
RUN = dict(num_samples=16, power=0.5, sigma=homotopt.SigmaSchedule(0.5, 0.999), lr=homotopt.LearningRate(0.01),
           steps=10_000)


def _mesh() -> np.ndarray:
    """Panel edges on [-4, 4]: uniform, plus geometric refinement (to 1e-7) around both peaks."""
    edges = [np.linspace(-4.0, 4.0, 801)]
    for peak in (-0.5, 0.5):
        r = np.logspace(-7, 0, 300)
        edges.append(peak + r)
        edges.append(peak - r)
    return np.unique(np.concatenate(edges))


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)


def quadrature_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Nodes w and log weights of the composite rule on the graded mesh."""
    edges = _mesh()
    a, b = edges[:-1, None], edges[1:, None]
    w = (a + b) / 2 + (b - a) / 2 * _NODES[None, :]
    logw = np.log((b - a) / 2 * _WEIGHTS[None, :])
    return w.ravel(), logw.ravel()


def log_F(mu: np.ndarray, power: float, sigma: float) -> np.ndarray:
    """log E_z[exp(N f(mu + sigma z))] for each mu, by quadrature over w = mu + sigma z in log space."""
    toy = Toy1D()
    w, logw = quadrature_nodes()
    f = toy.fitness(w[:, None])  # f at every node
    out = np.empty(len(mu))
    for i, m in enumerate(np.atleast_1d(mu)):
        log_phi = -0.5 * ((w - m) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
        # log sum_i exp(N f_i + log w_i + log phi_i) through the LSE state: values f + (log w + log phi)/N at power N
        _, lse = homotopt.power_weights(f + (logw + log_phi) / power, power)
        out[i] = lse
    return out


def run(opts: Options) -> Report:
    grid = np.linspace(-1.5, 1.5, 121 if opts.quick else 601)
    landscapes = {(N, s): log_F(grid, N, s) / N for N in POWERS for s in SIGMAS}
    toy = Toy1D()
    steps = opts.steps or (2000 if opts.quick else RUN["steps"])
    decay = RUN["sigma"].decay ** (RUN["steps"] / steps)
    path, chosen = None, None
    for seed in range(opts.seed, opts.seed + 20):  # the first seed whose run reaches the global maximum
        opt = homotopt.ProgPowerHP(np.array([0.5]), num_samples=RUN["num_samples"], power=RUN["power"],
                                   sigma=homotopt.SigmaSchedule(0.5, decay), lr=RUN["lr"], seed=seed)
        mus = [0.5]
        for _ in range(steps):
            W = opt.ask()
            values, grads = homotopt.reference.toy1d_pairs(W[:, 0], np.zeros(1))
            opt.tell(values, grads)
            mus.append(float(opt.mu[0]))
        candidate = np.array(mus)
        if path is None or abs(candidate[-1] - toy.w_star) < abs(path[-1] - toy.w_star):
            path, chosen = candidate, seed
        if abs(candidate[-1] - toy.w_star) < 1e-2:
            break
    sigmas = homotopt.SigmaSchedule(0.5, decay).values(steps + 1)
    rows = [{"N": N, "sigma": s, "argmax mu": float(grid[np.argmax(landscapes[(N, s)])]),
             "max (1/N) log F": float(landscapes[(N, s)].max())} for N in POWERS for s in SIGMAS]
    rows.append({"N": "path", "sigma": f"seed {chosen}", "argmax mu": float(path[-1]),
                 "max (1/N) log F": float(toy.fitness(path[-1:]))})
    report = Report(NAME, ["N", "sigma", "argmax mu", "max (1/N) log F"], rows,
                    {"grid": grid, "landscapes": {f"N={N},sigma={s}": v for (N, s), v in landscapes.items()},
                     "path": path, "w_star": toy.w_star},
                    {"powers": POWERS, "sigmas": SIGMAS, "run": {k: repr(v) for k, v in RUN.items()}, "steps": steps,
                     "path_seed": chosen, "quick": opts.quick})
    report.notes.append(f"Global maximum of f at w* = {toy.w_star:.6f}; the path starts at the local maximum +0.5. "
                        "Large sigma flattens the sharp peak away; large N lifts it: the argmax moves to it.")

    def landscape_plot(fig):
        axes = fig.subplots(1, len(SIGMAS), sharey=True)
        for ax, s in zip(axes, SIGMAS):
            for N in POWERS:
                ax.plot(grid, landscapes[(N, s)], label=f"N = {N:g}")
            ax.set_title(f"sigma = {s:g}", fontsize=9)
            ax.set_xlabel("mu")
        axes[0].set_ylabel("(1/N) log F_{N,sigma}(mu)")
        axes[0].legend(fontsize=7)

    def path_plot(fig):
        ax = fig.add_subplot()
        t = np.arange(len(path))
        ax.plot(t, path, lw=0.8, label="mu_t")
        ax.fill_between(t, path - sigmas, path + sigmas, alpha=0.2, label="mu_t +- sigma_t")
        ax.axhline(toy.w_star, color="k", ls=":", lw=0.8, label="global maximum")
        ax.axhline(0.5, color="gray", ls="--", lw=0.8, label="local maximum")
        ax.set_xlabel("step")
        ax.set_ylabel("mu")
        ax.set_title(f"One Prog-PowerHP run (seed {chosen}), K = {RUN['num_samples']}")
        ax.legend(fontsize=7)

    report.plots = {"landscape.png": landscape_plot, "path.png": path_plot}
    return report
