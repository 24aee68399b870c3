"""Real phase retrieval: recover x* from y_i = (a_i . x*)^2 (papers/prog_powerhp.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._result import PowerGradient
from .._validation import counter32, float_dtype, input_array, integer, nonnegative, positive, seed as check_seed
from ..random import Stream, normal

__all__ = ["PhaseRetrieval"]


class PhaseRetrieval:
    """Phase retrieval with fitness f_w(a, y) = -((a . w)^2 - y)^2 (maximized; 0 at w = +-x*).

    Args:
        A: (n, d) measurement vectors a_i, float32 or float64, finite.
        y: (n,) measurements, same dtype, finite.
        x_true: optional (d,) ground truth, needed only for :meth:`metric`.
    """

    def __init__(self, A: Any, y: Any, x_true: Any = None) -> None:
        A = input_array(A, "A")
        y = input_array(y, "y")
        if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
            raise ValueError(f"A: expected shape (n, d) with n, d >= 1, got {A.shape}")
        if y.dtype != A.dtype:
            raise TypeError(f"y: expected dtype {A.dtype} (the dtype of A), got {y.dtype}")
        if y.shape != (A.shape[0],):
            raise ValueError(f"y: expected shape (n,) = ({A.shape[0]},), got {y.shape}")
        for name, arr in (("A", A), ("y", y)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: expected finite values, got NaN or inf")
        if x_true is not None:
            x_true = np.asarray(x_true, dtype=np.float64)
            if x_true.shape != (A.shape[1],):
                raise ValueError(f"x_true: expected shape (d,) = ({A.shape[1]},), got {x_true.shape}")
            if not np.all(np.isfinite(x_true)) or not np.any(x_true):
                raise ValueError("x_true: expected finite values, not all zero")
        # Kept by reference (no copy of contiguous data): modify them only through a new problem.
        self.A, self.y, self.x_true = A, y, x_true

    @classmethod
    def random(cls, d: int, n: int, seed: int = 0, dtype: Any = np.float64) -> "PhaseRetrieval":
        """The protocol's instance: x* = z / ||z||, z ~ N(0, I_d); a_i ~ N(0, I_d); y_i = (a_i . x*)^2.

        Drawn from the Philox stream Stream.PROBLEM of `seed` (z at step 0, A at step 1), so the same
        seed gives the same problem on every machine.
        """
        d, n = integer(d, "d", 1), integer(n, "n", 1)
        dt = float_dtype(dtype)
        s = check_seed(seed)
        z = normal(d, s, 0, stream=Stream.PROBLEM)
        x_true = z / np.linalg.norm(z)
        A64 = normal((n, d), s, 1, stream=Stream.PROBLEM)
        y64 = (A64 @ x_true) ** 2
        return cls(A64.astype(dt), y64.astype(dt), x_true)

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    @property
    def d(self) -> int:
        return int(self.A.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.A.dtype

    def _mu(self, mu: Any, allow_batch: bool) -> np.ndarray:
        if not isinstance(mu, np.ndarray):
            mu = np.asarray(mu, dtype=self.dtype)
        if mu.dtype != self.dtype:
            raise TypeError(f"mu: expected dtype {self.dtype} (the problem's dtype), got {mu.dtype}")
        ok = mu.shape == (self.d,) or (allow_batch and mu.ndim == 2 and mu.shape[1] == self.d and mu.shape[0] >= 1)
        if not ok:
            want = f"(d,) or (R, d) with d = {self.d}" if allow_batch else f"(d,) = ({self.d},)"
            raise ValueError(f"mu: expected shape {want}, got {mu.shape}")
        return np.ascontiguousarray(mu)

    def power_gradient(self, mu: Any, *, sigma: float, power: float, num_samples: int, seed: int,
                       step: int = 0, rows: Any = None) -> PowerGradient:
        """The fused K-sample power-gradient estimator at mu.

        Draws w_k = mu + sigma eps_k, k < K, with eps = ``random.normal((K, d), seed, step,
        stream=Stream.SAMPLES)``, and reduces the K x J pairs (all n rows, or the given row indices
        as the minibatch) in one pass over A: per-pair gradients never touch memory.

        Args:
            mu: (d,) point, the problem's dtype.
            sigma: smoothing > 0. power: N >= 0. num_samples: K >= 1.
            seed, step: the Philox address of the noise.
            rows: optional (J,) integer row indices in [0, n) (repeats allowed); default all rows.
        """
        mu = self._mu(mu, allow_batch=False)
        if rows is not None:
            rows = np.asarray(rows)
            if rows.ndim != 1 or rows.size == 0:
                raise ValueError(f"rows: expected shape (J,) with J >= 1, got {rows.shape}")
            if rows.dtype.kind not in "iu":
                raise TypeError(f"rows: expected integer row indices, got dtype {rows.dtype}")
            rows = np.ascontiguousarray(rows, dtype=np.int64)
        out = _core.phase_retrieval_power_gradient(
            self.A, self.y, mu, rows, integer(num_samples, "num_samples", 1, 2**31),
            positive(sigma, "sigma"), nonnegative(power, "power"), check_seed(seed), 0,
            counter32(step, "step"))
        return PowerGradient._from_core(out)

    def fitness(self, mu: Any) -> float | np.ndarray:
        """Mean fitness over all n measurements: a float for mu (d,), an (R,) array for mu (R, d)."""
        mu = self._mu(mu, allow_batch=True)
        out = _core.phase_retrieval_fitness(self.A, self.y, mu)
        return float(out[0]) if mu.ndim == 1 else out

    def metric(self, mu: Any) -> float | np.ndarray:
        """M(mu) = min(||mu - x*||, ||mu + x*||) / ||x*|| (success: M <= 1e-3). Needs x_true."""
        if self.x_true is None:
            raise ValueError("metric: this problem has no x_true")
        mu = np.asarray(self._mu(mu, allow_batch=True), dtype=np.float64)
        x = self.x_true
        m = np.minimum(np.linalg.norm(mu - x, axis=-1), np.linalg.norm(mu + x, axis=-1)) / np.linalg.norm(x)
        return float(m) if mu.ndim == 1 else m

    def __repr__(self) -> str:
        return f"PhaseRetrieval(n={self.n}, d={self.d}, dtype={self.dtype})"
