"""Prog-PowerHP on your own objective, in NumPy, through ask/tell.

Maximizes the Rastrigin-like fitness f(w; x) = -sum_i (w_i - x_i)^2 + A sum_i cos(2 pi (w_i - x_i)), whose
mean over data x ~ N(c, 0.01 I) has many local maxima around the global one at c. Run:
    python examples/asktell_numpy.py [--steps 3000]
"""

import argparse

import numpy as np

import homotopt


def fitness_and_grad(W, X, amp=3.0):
    """Values (K, J) and gradients (K, J, d) of f at samples W (K, d) on data X (J, d)."""
    diff = W[:, None, :] - X[None, :, :]
    values = -(diff**2).sum(-1) + amp * np.cos(2 * np.pi * diff).sum(-1)
    grads = -2 * diff - 2 * np.pi * amp * np.sin(2 * np.pi * diff)
    return values, grads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    d, center = 5, np.linspace(-1.0, 1.0, 5)
    rng = np.random.default_rng(0)
    mu0 = center + 2.5  # far away, behind many local maxima
    opt = homotopt.ProgPowerHP(mu0, num_samples=16, power=homotopt.PowerSchedule(1.0, 1e-3, 5.0),
                               sigma=homotopt.SigmaSchedule(1.0, 0.999, 1e-3), lr=homotopt.LearningRate(0.05), seed=0)
    validation = center + 0.1 * rng.standard_normal((256, d))
    for t in range(args.steps):
        W = opt.ask()
        X = center + 0.1 * rng.standard_normal((8, d))     # J = 8 fresh data points
        values, grads = fitness_and_grad(W, X)
        opt.tell(values, grads)
        if t % 100 == 0 or t == args.steps - 1:
            opt.report(float(fitness_and_grad(opt.mu[None, :], validation)[0].mean()))
    # Plain stochastic gradient ascent from the same start, for comparison: it stops at a local maximum.
    w = mu0.copy()
    for t in range(args.steps):
        X = center + 0.1 * rng.standard_normal((8, d))
        w += 0.01 * fitness_and_grad(w[None, :], X)[1][0].mean(axis=0)
    print(f"start: distance to the optimum {np.linalg.norm(mu0 - center):.3f}")
    print(f"Prog-PowerHP (ask/tell): best iterate at distance {np.linalg.norm(opt.best_mu - center):.3f} "
          f"(validation fitness {opt.best_value:.3f})")
    print(f"SGD: final distance {np.linalg.norm(w - center):.3f} "
          f"(validation fitness {fitness_and_grad(w[None, :], validation)[0].mean():.3f})")


if __name__ == "__main__":
    main()
