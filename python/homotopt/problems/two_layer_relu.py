"""The two-layer ReLU teacher-student problem (papers/prog_powerhp.md, after Safran and Shamir 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .._validation import float_dtype, integer, seed as check_seed
from ..random import Stream, normal

__all__ = ["TwoLayerReLU"]


class TwoLayerReLU:
    """Teacher y(x) = sum_{i<k} relu(v_i . x) with orthonormal v_i; student s_W(x) = sum_i relu(w_i . x);
    fitness f_W(x) = -(s_W(x) - y(x))^2 on inputs x ~ N(0, I_n), W in R^{k x n} flattened row-major
    (d = k n). The student has no more units than the teacher ("under-parameterized").

    Training inputs are fresh each step (the runners draw them from the run's seed, Stream.INPUTS);
    the best iterate is chosen on a fixed validation set, and the metric is the mean squared error
    on a fixed test set, both drawn from the problem's `seed`.

    Args:
        k: hidden units (teacher and student), n: input dimension, k <= n.
        seed: Philox seed of the teacher, validation and test sets (Stream.PROBLEM; steps 0, 1, 2).
        test_size, validation_size: sizes of the fixed sets.
        trials: R independent teachers (one per trial); instance r is what trials=None gives for trial r.
        dtype: float32 or float64.
    """

    def __init__(self, k: int, n: int, seed: int = 0, test_size: int = 5000, validation_size: int = 1000, *,
                 trials: int | None = None, dtype: Any = np.float64) -> None:
        self.k, self.n = integer(k, "k", 1, 256), integer(n, "n", 1)
        if self.k > self.n:
            raise ValueError(f"k: expected k <= n (orthonormal teacher rows), got k = {self.k}, n = {self.n}")
        self.seed = check_seed(seed)
        test_size, validation_size = integer(test_size, "test_size", 1), integer(validation_size, "validation_size", 1)
        self._dtype = float_dtype(dtype)
        R = None if trials is None else integer(trials, "trials", 1)
        parts: dict[str, list[np.ndarray]] = {key: [] for key in ("teacher", "val_x", "val_y", "test_x", "test_y")}
        for r in range(1 if R is None else R):
            q, _ = np.linalg.qr(normal((self.n, self.k), self.seed, 0, trial=r, stream=Stream.PROBLEM))
            teacher = q.T  # k orthonormal rows
            val_x = normal((validation_size, self.n), self.seed, 1, trial=r, stream=Stream.PROBLEM)
            test_x = normal((test_size, self.n), self.seed, 2, trial=r, stream=Stream.PROBLEM)
            for key, value in (("teacher", teacher), ("val_x", val_x), ("val_y", self._labels(teacher, val_x)),
                               ("test_x", test_x), ("test_y", self._labels(teacher, test_x))):
                parts[key].append(np.ascontiguousarray(value, dtype=self._dtype))
        stack = (lambda xs: xs[0]) if R is None else np.stack
        self.teacher, self.val_x, self.val_y, self.test_x, self.test_y = (
            stack(parts[key]) for key in ("teacher", "val_x", "val_y", "test_x", "test_y"))
        self._trials = R

    @staticmethod
    def _labels(teacher: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ teacher.T, 0.0).sum(axis=1)

    @property
    def trials(self) -> int | None:
        return self._trials

    @property
    def dim(self) -> int:
        return self.k * self.n

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def _mu(self, mu: Any) -> np.ndarray:
        mu = np.asarray(mu)
        if mu.dtype != self._dtype:
            raise TypeError(f"mu: expected dtype {self._dtype} (the problem's dtype), got {mu.dtype}")
        if self._trials is not None and mu.shape != (self._trials, self.dim):
            raise ValueError(f"mu: expected shape (R, d) = ({self._trials}, {self.dim}), got {mu.shape}")
        if mu.shape[-1:] != (self.dim,) or mu.ndim not in (1, 2):
            raise ValueError(f"mu: expected shape (d,) or (R, d) with d = k n = {self.dim}, got {mu.shape}")
        return np.ascontiguousarray(mu)

    def _evaluate(self, mu: Any, x: np.ndarray, y: np.ndarray) -> float | np.ndarray:
        mu = self._mu(mu)
        if self._trials is not None:
            return np.array([_core.two_layer_relu_fitness(mu[r], x[r], y[r], self.k)[0] for r in range(self._trials)])
        out = _core.two_layer_relu_fitness(mu, x, y, self.k)
        return float(out[0]) if mu.ndim == 1 else out

    def fitness(self, mu: Any) -> float | np.ndarray:
        """Mean fitness -(s_W(x) - y)^2 on the validation set (what selects the best iterate)."""
        return self._evaluate(mu, self.val_x, self.val_y)

    def metric(self, mu: Any) -> float | np.ndarray:
        """Test loss: mean squared error (s_W(x) - y)^2 on the test set (lower is better)."""
        value = self._evaluate(mu, self.test_x, self.test_y)
        return -value

    def random_start(self, trials: int, seed: int = 0) -> np.ndarray:
        """Starting students, (R, d): entries N(0, 1/n) (Stream.START, trial r)."""
        R = integer(trials, "trials", 1)
        if self._trials is not None and R != self._trials:
            raise ValueError(f"trials: expected {self._trials} (the batch's instances), got {R}")
        out = np.stack([normal(self.dim, check_seed(seed), 0, trial=r, stream=Stream.START) for r in range(R)])
        return (out / np.sqrt(self.n)).astype(self._dtype)

    def _runner_problem(self) -> dict:
        return {"kind": _core.ProblemKind.two_layer_relu, "batched": self._trials is not None, "teacher": self.teacher, "val_x": self.val_x,
                "val_y": self.val_y, "test_x": self.test_x, "test_y": self.test_y}

    def __repr__(self) -> str:
        batch = "" if self._trials is None else f", trials={self._trials}"
        return f"TwoLayerReLU(k={self.k}, n={self.n}, dtype={self._dtype}{batch})"
