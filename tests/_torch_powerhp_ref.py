"""The float64 reference of homotopt.torch.ProgPowerHP: explicit per-pair autograd, then the stable
estimator of homotopt.reference (shared by the torch Prog-PowerHP tests)."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.func import functional_call

from homotopt import reference
from homotopt import random as hrandom
from homotopt.random import Stream


def mlp(seed: int, dtype=torch.float64) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(dtype)


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3)
        self.fc = torch.nn.Linear(3 * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def cnn(seed: int, dtype=torch.float64) -> torch.nn.Module:
    torch.manual_seed(seed)
    return SmallCNN().to(dtype)


def data(kind: str, J: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((J, 5) if kind == "mlp" else (J, 1, 6, 6), generator=g, dtype=dtype)
    y = torch.randn(J, generator=g, dtype=dtype)
    return x, y


def losses(model, x, y) -> torch.Tensor:
    return (model(x).squeeze(-1) - y) ** 2


def flat(model) -> np.ndarray:
    return np.concatenate([p.detach().double().reshape(-1).numpy() for p in model.parameters()])


def pairs(model, mu: np.ndarray, eps: np.ndarray, sigma: np.ndarray, x, y, maximize: bool, fn=losses):
    """values (K, J) and per-pair gradients of f (K, J, D) at w_k = mu + sigma eps_k (sigma per element)."""
    ref = copy.deepcopy(model).double()
    names = [n for n, _ in ref.named_parameters()]
    shapes = [p.shape for _, p in ref.named_parameters()]
    K, D = eps.shape
    J = x.shape[0]
    values = np.empty((K, J))
    grads = np.empty((K, J, D))
    for k in range(K):
        w = mu + sigma * eps[k]
        for j in range(J):
            tensors, off = {}, 0
            for n, s in zip(names, shapes):
                size = int(np.prod(s))
                tensors[n] = torch.tensor(w[off:off + size].reshape(s), requires_grad=True)
                off += size
            out = fn(lambda inp: functional_call(ref, tensors, (inp,)), x[j:j + 1].double(), y[j:j + 1].double())
            f = out.sum() if maximize else -out.sum()
            gs = torch.autograd.grad(f, list(tensors.values()))
            values[k, j] = float(f.detach())
            grads[k, j] = np.concatenate([g.reshape(-1).numpy() for g in gs])
    return values, grads


def apply_fn(model_call, x, y):
    return (model_call(x).squeeze(-1) - y) ** 2


def reference_step(model, x, y, *, K, seed, t, power, sigma, alpha, rule="log", maximize=False, groups=None):
    """mu after one step, in float64. groups: list of (numel, power, sigma, alpha) in parameter order
    (default one group)."""
    mu = flat(model)
    D = mu.size
    if groups is None:
        groups = [(D, power, sigma, alpha)]
    # the library's noise (float32-accurate normals; the identity is tested on its own)
    eps = hrandom.normal((K, D), seed, t, stream=Stream.SAMPLES)
    sig = np.concatenate([np.full(n, s) for n, _, s, _ in groups])
    values, grads = pairs(model, mu, eps, sig, x, y, maximize, apply_fn)
    out, off = mu.copy(), 0
    for n, N, _, a in groups:
        est = reference.power_gradient(values, grads[..., off:off + n], N)
        d = est["direction"]
        c = reference.step_multiplier(rule, a, N, est["log_scale"], float(np.linalg.norm(d)))
        out[off:off + n] += c * d
        off += n
    return out
