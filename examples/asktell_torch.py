"""Training a PyTorch model with Prog-PowerHP: one backward pass per step through homotopt.power_weights.

A small network y = sum_h v_h tanh(a_h x + b_h) fits a noisy sine; its parameters are the vector w being
optimized. Each step: K samples of w (ask), the fitness -(y_w(x_j) - t_j)^2 of every sample on a
minibatch of J points (a (K, J) tensor, computed for all samples at once), the weights p = softmax(N f)
(weights), one backward pass of sum p f, and tell with the (K, d) gradient. Run:
    python examples/asktell_torch.py [--steps 2000]
"""

import argparse
import math

import numpy as np
import torch

import homotopt

H = 8  # hidden units; d = 3 H


def predict(W: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Outputs (K, J) of the K networks with parameters W (K, 3H) at inputs x (J,)."""
    a, b, v = W[:, :H], W[:, H:2 * H], W[:, 2 * H:]
    return (v[:, None, :] * torch.tanh(a[:, None, :] * x[None, :, None] + b[:, None, :])).sum(-1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    x_val = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64)
    t_val = torch.sin(x_val)
    opt = homotopt.ProgPowerHP(0.5 * np.random.default_rng(0).standard_normal(3 * H), num_samples=8,
                               power=homotopt.PowerSchedule(1.0, 1e-3, 20.0),
                               sigma=homotopt.SigmaSchedule(0.3, 0.998, 1e-3), lr=homotopt.LearningRate(0.2), seed=0)
    for t in range(args.steps):
        W = torch.from_numpy(opt.ask()).requires_grad_(True)
        x = (torch.rand(32, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
        target = torch.sin(x) + 0.05 * torch.randn(32, generator=gen, dtype=torch.float64)
        f = -((predict(W, x) - target) ** 2)                       # (K, J) fitness values
        p = torch.from_numpy(opt.weights(f.detach().numpy()))
        (p * f).sum().backward()                                    # one backward pass for all K samples
        opt.tell(W.grad.numpy())
        if t % 100 == 0 or t == args.steps - 1:
            with torch.no_grad():
                mu = torch.from_numpy(opt.mu)[None, :]
                opt.report(float(-((predict(mu, x_val)[0] - t_val) ** 2).mean()))
    print(f"best validation mean squared error {-opt.best_value:.4f} at step {opt.best_step}")


if __name__ == "__main__":
    main()
