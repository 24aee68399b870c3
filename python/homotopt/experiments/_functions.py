"""Classic multimodal test functions with gradients, vectorized over leading axes (x: (..., d)).

Each returns (value, gradient) of a loss to minimize, with its minimum value 0 at a known point.
The shifted-rotated Rastrigin follows CEC 2017's F5 form f(x) = rastrigin(M (x - o) * 5.12 / 100)
on [-100, 100]^d with a random orthogonal M and shift o in [-80, 80]^d (drawn from a seed; CEC's own
data files are not used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Pair = tuple[np.ndarray, np.ndarray]


def ackley(x: np.ndarray) -> Pair:
    d = x.shape[-1]
    r = np.sqrt(np.sum(x * x, -1) / d)
    c = np.mean(np.cos(2 * np.pi * x), -1)
    e1, e2 = np.exp(-0.2 * r), np.exp(c)
    f = -20 * e1 - e2 + 20 + np.e
    with np.errstate(invalid="ignore", divide="ignore"):
        g1 = np.where(r[..., None] > 0, 20 * 0.2 * e1[..., None] * x / (d * r[..., None]), 0.0)
    g2 = e2[..., None] * 2 * np.pi * np.sin(2 * np.pi * x) / d
    return np.maximum(f, 0.0), g1 + g2


def rastrigin(x: np.ndarray) -> Pair:
    d = x.shape[-1]
    f = 10 * d + np.sum(x * x - 10 * np.cos(2 * np.pi * x), -1)
    return f, 2 * x + 20 * np.pi * np.sin(2 * np.pi * x)


def griewank(x: np.ndarray) -> Pair:
    d = x.shape[-1]
    i = np.sqrt(np.arange(1, d + 1))
    c = np.cos(x / i)
    p = np.prod(c, -1)
    f = 1 + np.sum(x * x, -1) / 4000 - p
    s = np.sin(x / i) / i
    with np.errstate(invalid="ignore", divide="ignore"):
        others = np.where(np.abs(c) > 1e-300, p[..., None] / c, 0.0)
    return f, x / 2000 + others * s


def levy(x: np.ndarray) -> Pair:
    w = 1 + (x - 1) / 4
    a = np.sin(np.pi * w[..., 0]) ** 2
    wm = w[..., :-1]
    b = np.sum((wm - 1) ** 2 * (1 + 10 * np.sin(np.pi * wm + 1) ** 2), -1)
    wl = w[..., -1]
    c = (wl - 1) ** 2 * (1 + np.sin(2 * np.pi * wl) ** 2)
    gw = np.zeros_like(w)
    gw[..., 0] += 2 * np.sin(np.pi * w[..., 0]) * np.cos(np.pi * w[..., 0]) * np.pi
    gw[..., :-1] += 2 * (wm - 1) * (1 + 10 * np.sin(np.pi * wm + 1) ** 2) \
        + (wm - 1) ** 2 * 20 * np.sin(np.pi * wm + 1) * np.cos(np.pi * wm + 1) * np.pi
    gw[..., -1] += 2 * (wl - 1) * (1 + np.sin(2 * np.pi * wl) ** 2) \
        + (wl - 1) ** 2 * 2 * np.sin(2 * np.pi * wl) * np.cos(2 * np.pi * wl) * 2 * np.pi
    return a + b + c, gw / 4


ST_MIN = -2.903534027771177  # per coordinate, at x = -2.903534


def styblinski_tang(x: np.ndarray) -> Pair:
    d = x.shape[-1]
    f = 0.5 * np.sum(x**4 - 16 * x**2 + 5 * x, -1) - d * 0.5 * (ST_MIN**4 - 16 * ST_MIN**2 + 5 * ST_MIN)
    return np.maximum(f, 0.0), 0.5 * (4 * x**3 - 32 * x + 5)


@dataclass(frozen=True)
class TestFunction:
    """A loss on [lower, upper]^d with minimum 0; `fn(x) -> (values, grads)`."""

    name: str
    fn: Callable[[np.ndarray], Pair]
    lower: float
    upper: float


def shifted_rotated_rastrigin(d: int, seed: int = 0) -> TestFunction:
    rng = np.random.default_rng(seed)
    M, _ = np.linalg.qr(rng.standard_normal((d, d)))
    o = rng.uniform(-80, 80, d)
    s = 5.12 / 100

    def fn(x: np.ndarray) -> Pair:
        f, g = rastrigin(((x - o) @ M.T) * s)
        return f, (g @ M) * s

    return TestFunction("shifted-rotated Rastrigin", fn, -100.0, 100.0)


def suite(d: int, seed: int = 0) -> list[TestFunction]:
    """The six functions of the test-functions experiment at dimension d (standard domains)."""
    return [TestFunction("Ackley", ackley, -32.768, 32.768), TestFunction("Rastrigin", rastrigin, -5.12, 5.12),
            TestFunction("Griewank", griewank, -600.0, 600.0), TestFunction("Levy", levy, -10.0, 10.0),
            TestFunction("Styblinski-Tang", styblinski_tang, -5.0, 5.0), shifted_rotated_rastrigin(d, seed)]
