"""Real phase retrieval: recover x* from y_i = (a_i . x*)^2 (papers/prog_powerhp.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core, _device
from .._result import PowerGradient
from .._validation import counter32, float_dtype, input_array, integer, nonnegative, positive, seed as check_seed
from ..random import Stream, normal

__all__ = ["PhaseRetrieval"]


class PhaseRetrieval:
    """Phase retrieval with fitness f_w(a, y) = -((a . w)^2 - y)^2 (maximized; 0 at w = +-x*).

    One instance, or a batch of R instances (one per trial, as in the paper's protocol) when the
    arrays have a leading axis of R: then ``problem[r]`` is instance r, and ``fitness``/``metric``
    take one point per instance, (R, d).

    Args:
        A: (n, d) or (R, n, d) measurement vectors a_i, float32 or float64, finite.
        y: (n,) or (R, n) measurements, same dtype, finite.
        x_true: optional (d,) or (R, d) ground truth, needed only for :meth:`metric`.

    A and y may live on a GPU (PyTorch, CuPy, JAX arrays): then :meth:`power_gradient` and the runners
    work on the device, without copies (GPU data are not scanned for NaN; fitness and metric need
    host arrays).
    """

    def __init__(self, A: Any, y: Any, x_true: Any = None) -> None:
        if _device.is_device_array(A) or _device.is_device_array(y):
            self._init_device(A, y, x_true)
            return
        self._device = None
        A = input_array(A, "A")
        y = input_array(y, "y")
        if A.ndim not in (2, 3) or min(A.shape) < 1:
            raise ValueError(f"A: expected shape (n, d) or (R, n, d) with every size >= 1, got {A.shape}")
        if y.dtype != A.dtype:
            raise TypeError(f"y: expected dtype {A.dtype} (the dtype of A), got {y.dtype}")
        if y.shape != A.shape[:-1]:
            raise ValueError(f"y: expected shape {A.shape[:-1]} (A's shape without d), got {y.shape}")
        for name, arr in (("A", A), ("y", y)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: expected finite values, got NaN or inf")
        if x_true is not None:
            x_true = np.ascontiguousarray(x_true, dtype=np.float64)
            want = A.shape[:-2] + (A.shape[-1],)
            if x_true.shape != want:
                raise ValueError(f"x_true: expected shape {want}, got {x_true.shape}")
            if not np.all(np.isfinite(x_true)) or not np.all(np.any(x_true, axis=-1)):
                raise ValueError("x_true: expected finite values, not all zero")
        # Kept by reference (no copy of contiguous data): modify them only through a new problem.
        self.A, self.y, self.x_true = A, y, x_true

    def _init_device(self, A: Any, y: Any, x_true: Any) -> None:
        if not (_device.is_device_array(A) and _device.is_device_array(y)):
            raise ValueError("A, y: expected both on the same device, got one GPU array and one host array")
        a, b = _device.describe(A, "A"), _device.describe(y, "y")
        if len(a["shape"]) not in (2, 3) or min(a["shape"]) < 1:
            raise ValueError(f"A: expected shape (n, d) or (R, n, d) with every size >= 1, got {a['shape']}")
        if b["dtype"] != a["dtype"]:
            raise TypeError(f"y: expected dtype {np.dtype(a['dtype'])} (the dtype of A), got {np.dtype(b['dtype'])}")
        if tuple(b["shape"]) != tuple(a["shape"][:-1]):
            raise ValueError(f"y: expected shape {tuple(a['shape'][:-1])} (A's shape without d), got {b['shape']}")
        self._device = (a["shape"], np.dtype(a["dtype"]))
        self._views = (a, b)  # described once: the estimator runs on the stream of mu, described per call
        self.A, self.y = A, y
        self.x_true = None if x_true is None else np.ascontiguousarray(x_true, dtype=np.float64)

    @classmethod
    def random(cls, d: int, n: int, seed: int = 0, dtype: Any = np.float64, *,
               trials: int | None = None) -> "PhaseRetrieval":
        """The protocol's instance: x* = z / ||z||, z ~ N(0, I_d); a_i ~ N(0, I_d); y_i = (a_i . x*)^2.

        Drawn from the Philox stream Stream.PROBLEM of `seed` (trial r: z at step 0, A at step 1), so
        the same seed gives the same problem on every machine. With `trials=R`, R independent
        instances (instance r is what ``random(d, n, seed)`` would give with trial r).
        """
        d, n = integer(d, "d", 1), integer(n, "n", 1)
        dt = float_dtype(dtype)
        s = check_seed(seed)
        R = None if trials is None else integer(trials, "trials", 1)
        As, ys, xs = [], [], []
        for r in range(1 if R is None else R):
            z = normal(d, s, 0, trial=r, stream=Stream.PROBLEM)
            x = z / np.linalg.norm(z)
            A64 = normal((n, d), s, 1, trial=r, stream=Stream.PROBLEM)
            As.append(A64.astype(dt))
            ys.append(((A64 @ x) ** 2).astype(dt))
            xs.append(x)
        if R is None:
            return cls(As[0], ys[0], xs[0])
        return cls(np.stack(As), np.stack(ys), np.stack(xs))

    @property
    def _shape(self) -> tuple:
        return tuple(self._device[0]) if self._device else self.A.shape

    @property
    def trials(self) -> int | None:
        """R for a batch of instances, None for one instance."""
        return int(self._shape[0]) if len(self._shape) == 3 else None

    @property
    def n(self) -> int:
        return int(self._shape[-2])

    @property
    def d(self) -> int:
        return int(self._shape[-1])

    dim = d

    @property
    def dtype(self) -> np.dtype:
        return self._device[1] if self._device else self.A.dtype

    @property
    def on_device(self) -> bool:
        """Whether A and y live on a GPU."""
        return self._device is not None

    def _require_host(self, what: str) -> None:
        if self._device:
            raise TypeError(f"{what}: needs the problem's data on the host (A and y are GPU arrays)")

    def __getitem__(self, r: int) -> "PhaseRetrieval":
        self._require_host("problem[r]")
        if self.trials is None:
            raise TypeError("this problem is a single instance; indexing selects an instance of a batch")
        r = integer(r, "r", 0, self.trials - 1)
        return PhaseRetrieval(self.A[r], self.y[r], None if self.x_true is None else self.x_true[r])

    def _mu(self, mu: Any, allow_batch: bool) -> np.ndarray:
        if not isinstance(mu, np.ndarray):
            mu = np.asarray(mu, dtype=self.dtype)
        if mu.dtype != self.dtype:
            raise TypeError(f"mu: expected dtype {self.dtype} (the problem's dtype), got {mu.dtype}")
        if self.trials is not None:
            if mu.shape != (self.trials, self.d):
                raise ValueError(f"mu: expected shape (R, d) = ({self.trials}, {self.d}) for a batch of instances, "
                                 f"got {mu.shape}")
        else:
            ok = mu.shape == (self.d,) or (allow_batch and mu.ndim == 2 and mu.shape[1] == self.d and mu.shape[0] >= 1)
            if not ok:
                want = f"(d,) or (R, d) with d = {self.d}" if allow_batch else f"(d,) = ({self.d},)"
                raise ValueError(f"mu: expected shape {want}, got {mu.shape}")
        return np.ascontiguousarray(mu)

    def power_gradient(self, mu: Any, *, sigma: float, power: float, num_samples: int, seed: int,
                       step: int = 0, rows: Any = None, trial: int = 0) -> PowerGradient:
        """The fused K-sample power-gradient estimator at mu.

        Draws w_k = mu + sigma eps_k, k < K, with eps = ``random.normal((K, d), seed, step,
        trial=trial, stream=Stream.SAMPLES)``, and reduces the K x J pairs (all n rows, or the given
        row indices as the minibatch) in one pass over A: per-pair gradients never touch memory.

        Args:
            mu: (d,) point, the problem's dtype.
            sigma: smoothing > 0. power: N >= 0. num_samples: K >= 1.
            seed, step, trial: the Philox address of the noise.
            rows: optional (J,) integer row indices in [0, n) (repeats allowed); default all rows.
        """
        if self.trials is not None:
            raise TypeError("power_gradient: select an instance of the batch first, problem[r]")
        args = (integer(num_samples, "num_samples", 1, 2**31), positive(sigma, "sigma"), nonnegative(power, "power"),
                check_seed(seed), counter32(trial, "trial"), counter32(step, "step"))
        if self._device:
            if not _device.is_device_array(mu) or (rows is not None and not _device.is_device_array(rows)):
                raise ValueError("mu, rows: expected GPU arrays on the problem's device (A and y are GPU arrays)")
            out = _device.empty_like(self.A, (2, self.d), self.dtype)  # direction and gradient, one allocation
            direction = _device.describe(out, "direction")
            gradient = dict(direction, ptr=direction["ptr"] + self.d * self.dtype.itemsize)
            for view in (direction, gradient):
                view.update(shape=(self.d,), strides=None)
            res = _core.phase_retrieval_power_gradient(
                *self._views, _device.describe(mu, "mu"), None if rows is None else _device.describe(rows, "rows"),
                *args, direction, gradient)
            return PowerGradient(out[0], out[1], *res[2:])
        mu = self._mu(mu, allow_batch=False)
        if rows is not None:
            rows = np.asarray(rows)
            if rows.ndim != 1 or rows.size == 0:
                raise ValueError(f"rows: expected shape (J,) with J >= 1, got {rows.shape}")
            if rows.dtype.kind not in "iu":
                raise TypeError(f"rows: expected integer row indices, got dtype {rows.dtype}")
            rows = np.ascontiguousarray(rows, dtype=np.int64)
        return PowerGradient._from_core(_core.phase_retrieval_power_gradient(self.A, self.y, mu, rows, *args))

    def fitness(self, mu: Any) -> float | np.ndarray:
        """Mean fitness over all n measurements: a float for mu (d,), an (R,) array for mu (R, d)
        (for a batch of instances, point r on instance r)."""
        self._require_host("fitness")
        mu = self._mu(mu, allow_batch=True)
        if self.trials is not None:
            return np.array([_core.phase_retrieval_fitness(self.A[r], self.y[r], mu[r])[0] for r in range(self.trials)])
        out = _core.phase_retrieval_fitness(self.A, self.y, mu)
        return float(out[0]) if mu.ndim == 1 else out

    def metric(self, mu: Any) -> float | np.ndarray:
        """M(mu) = min(||mu - x*||, ||mu + x*||) / ||x*|| (success: M <= 1e-3). Needs x_true."""
        if self.x_true is None:
            raise ValueError("metric: this problem has no x_true")
        mu = self._mu(mu, allow_batch=True)
        if self.trials is not None:
            return np.array([_core.phase_retrieval_metric(self.x_true[r], mu[r])[0] for r in range(self.trials)])
        out = _core.phase_retrieval_metric(self.x_true, mu)
        return float(out[0]) if mu.ndim == 1 else out

    def random_start(self, trials: int, seed: int = 0) -> np.ndarray:
        """The protocol's starting points, (R, d): mu_0 = u sqrt(mean(y)), u uniform on the unit sphere
        (from Stream.START, trial r), mean(y) of trial r's instance."""
        self._require_host("random_start")
        R = integer(trials, "trials", 1)
        if self.trials is not None and R != self.trials:
            raise ValueError(f"trials: expected {self.trials} (the batch's instances), got {R}")
        out = np.empty((R, self.d))
        for r in range(R):
            u = normal(self.d, check_seed(seed), 0, trial=r, stream=Stream.START)
            y = self.y if self.trials is None else self.y[r]
            out[r] = u / np.linalg.norm(u) * np.sqrt(float(np.mean(y, dtype=np.float64)))
        return out.astype(self.dtype)

    def _runner_problem(self) -> dict:
        if self._device:
            return {"kind": _core.ProblemKind.phase_retrieval, "batched": self.trials is not None, "A": _device.describe(self.A, "A"),
                    "y": _device.describe(self.y, "y"), "x_true": self.x_true, "owners": (self.A, self.y)}
        return {"kind": _core.ProblemKind.phase_retrieval, "batched": self.trials is not None, "A": self.A, "y": self.y, "x_true": self.x_true}

    def __repr__(self) -> str:
        batch = "" if self.trials is None else f", trials={self.trials}"
        return f"PhaseRetrieval(n={self.n}, d={self.d}, dtype={self.dtype}{batch})"
