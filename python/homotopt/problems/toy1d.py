"""The 1-D example of the paper (its Figure 1): a sharp global maximum next to a wide local one."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._validation import integer, nonnegative, seed as check_seed
from ..random import Stream, normal, uniform

__all__ = ["Toy1D"]


class Toy1D:
    """f_w(eps) = -log((w + eps + 1/2)^2 + 1e-5) - log((w + eps - 1/2)^2 + 1e-2), eps ~ N(0, noise^2).

    The global maximum is the sharp peak near w = -1/2; a wider local maximum sits near +1/2. With
    noise > 0 the runners draw eps fresh each step (Stream.INPUTS) and validate on `validation_size`
    fixed draws (Stream.PROBLEM of `seed`). float64; d = 1. The metric is |mu - w*|, w* the maximizer
    of the validation fitness.
    """

    def __init__(self, noise: float = 0.0, validation_size: int = 1000, seed: int = 0) -> None:
        self.noise = nonnegative(noise, "noise")
        n_val = integer(validation_size, "validation_size", 1)
        self.val_eps = self.noise * normal(n_val, check_seed(seed), 0, stream=Stream.PROBLEM) if self.noise > 0 else None
        self.w_star = self._argmax()

    def _argmax(self) -> float:
        # The sharp peak is near -1/2: a fine grid there, then golden-section refinement.
        grid = np.linspace(-1.0, 0.0, 20001)
        values = self._fitness(grid)
        lo, hi = grid[max(int(np.argmax(values)) - 1, 0)], grid[min(int(np.argmax(values)) + 1, grid.size - 1)]
        ratio = (np.sqrt(5.0) - 1.0) / 2.0
        for _ in range(80):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            if self._fitness(np.array([a]))[0] > self._fitness(np.array([b]))[0]:
                hi = b
            else:
                lo = a
        return float((lo + hi) / 2.0)

    def _fitness(self, w: np.ndarray) -> np.ndarray:
        return _core.toy1d_fitness(np.ascontiguousarray(w, dtype=np.float64), self.val_eps)

    trials = None
    dim = 1
    dtype = np.dtype(np.float64)

    def fitness(self, mu: Any) -> float | np.ndarray:
        """Mean fitness over the validation draws (f_mu(0) without noise); mu of shape (1,) or (R, 1)."""
        mu = np.asarray(mu, dtype=np.float64)
        if mu.ndim not in (1, 2) or mu.shape[-1] != 1:
            raise ValueError(f"mu: expected shape (1,) or (R, 1), got {mu.shape}")
        out = self._fitness(mu.reshape(-1))
        return float(out[0]) if mu.ndim == 1 else out

    def metric(self, mu: Any) -> float | np.ndarray:
        """|mu - w*|."""
        mu = np.asarray(mu, dtype=np.float64)
        out = np.abs(mu.reshape(-1) - self.w_star)
        return float(out[0]) if mu.ndim == 1 else out

    def random_start(self, trials: int, seed: int = 0) -> np.ndarray:
        """Starting points uniform in [-1, 1], (R, 1) (Stream.START)."""
        R = integer(trials, "trials", 1)
        return (2.0 * uniform((R, 1), check_seed(seed), 0, stream=Stream.START) - 1.0)

    def _runner_problem(self) -> dict:
        return {"kind": _core.ProblemKind.toy1d, "batched": False, "noise": self.noise, "val_x": self.val_eps,
                "x_true": np.array([self.w_star])}

    def __repr__(self) -> str:
        return f"Toy1D(noise={self.noise}, w*={self.w_star:.6f})"
