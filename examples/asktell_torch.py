"""Training a PyTorch model with Prog-PowerHP: one backward pass per step through homotopt.power_weights.

A small network y = sum_h v_h tanh(a_h x + b_h) fits a noisy sine; its parameters are the vector w being
optimized. Each step: K samples of w (ask), the fitness -(y_w(x_j) - t_j)^2 of every sample on a
minibatch of J points (a (K, J) tensor, computed for all samples at once), the weights p = softmax(N f)
(weights), one backward pass of sum p f, and tell with the (K, d) gradient. mu0 is a torch tensor, so
the samples, weights and means are torch tensors on its device (a GPU's, with --device cuda): only the
K x J values and a few numbers per step cross to the host. Run:
    python examples/asktell_torch.py [--steps 2000] [--device cuda]
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
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    dev = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    x_val = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64, device=dev)
    t_val = torch.sin(x_val)
    mu0 = torch.tensor(0.5 * np.random.default_rng(0).standard_normal(3 * H), device=dev)
    opt = homotopt.ProgPowerHP(mu0, num_samples=8, power=homotopt.PowerSchedule(1.0, 1e-3, 20.0),
                               sigma=homotopt.SigmaSchedule(0.3, 0.998, 1e-3), lr=homotopt.LearningRate(0.2), seed=0)
    for t in range(args.steps):
        W = opt.ask().requires_grad_(True)                          # (K, d) on mu0's device
        x = ((torch.rand(32, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi).to(dev)
        target = torch.sin(x) + 0.05 * torch.randn(32, generator=gen, dtype=torch.float64).to(dev)
        f = -((predict(W, x) - target) ** 2)                       # (K, J) fitness values
        p = opt.weights(f.detach())                                 # softmax(N f), a tensor on the device
        (p * f).sum().backward()                                    # one backward pass for all K samples
        opt.tell(W.grad)
        if t % 100 == 0 or t == args.steps - 1:
            with torch.no_grad():
                opt.report(-((predict(opt.mu[None, :], x_val)[0] - t_val) ** 2).mean())
    print(f"best validation mean squared error {-opt.best_value:.4f} at step {opt.best_step}")


if __name__ == "__main__":
    main()
