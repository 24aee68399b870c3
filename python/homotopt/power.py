"""The fused, log-sum-exp stable K-sample power gradient (papers/prog_powerhp.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core, _device
from ._result import PowerGradient
from ._validation import (as_array, float_dtype, input_array, integer, nan_policy_code, nonnegative, real,
                          require_keys)

__all__ = ["power_gradient", "power_weights", "PowerState", "PowerGradient"]


def power_gradient(values: Any, grads: Any, power: float, *, nan_policy: str = "raise") -> PowerGradient:
    """The power gradient of K samples on J data points, without ever forming exp(N f).

    For fitness values f_kj and gradients grad f_kj, computes
    ``direction = sum_kj softmax(N f)_kj grad f_kj`` and ``log_scale = log N + log mean exp(N f)``,
    so that the paper's ``g = 1/(KJ) sum_kj N exp(N f_kj) grad f_kj = exp(log_scale) * direction``.
    One pass over the gradients through the mergeable (max, rescaled sum, rescaled weighted
    gradient) state; no (K, J) weight array is stored. Exact where the literal formula under- or
    overflows (N f of +-1e6 and beyond).

    Args:
        values: (K,) or (K, J) fitness values, float32 or float64. ``-inf`` is allowed and means
            weight exactly 0 (that pair's gradient is never read).
        grads: (K, d) or (K, J, d) gradients with respect to the sample, same dtype as values.
        power: N >= 0.
        nan_policy: "raise" (default): a NaN or +inf value, or a non-finite gradient, is a
            ValueError naming the pair. "omit": such pairs get weight 0 and are counted in
            ``omitted``; all pairs omitted is still an error.

    Overflow, one rule for both signs: the N -> infinity limit, which is then exact. If N * top
    overflows float64 for the largest counted value top (to +inf, or to -inf for a finite top), the
    float64 weights softmax(N f) are exactly 1/T on the T pairs with f == top and 0 elsewhere (any
    other exponent lies more than 1e292 below), so ``direction`` is the mean gradient over those ties
    and ``log_scale`` = ``log_mean_exp`` = +inf or -inf (the rounding of a value beyond the float64
    range); the literal gradient is then inf or 0 times the direction's sign. Nothing raises for
    overflow. Other pairs whose N f overflows to -inf get weight 0, which is exact likewise.

    Returns:
        PowerGradient with direction (d,) in the inputs' dtype, log_scale, log_mean_exp, count,
        omitted, and the literal gradient.

    Inputs that are not C-contiguous are copied first; results are accumulated in float64.
    GPU arrays (PyTorch, CuPy, JAX: through ``__cuda_array_interface__`` or DLPack) are reduced on
    their device without copies, and the direction comes back as an array of the same library.
    """
    policy = nan_policy_code(nan_policy)
    N = nonnegative(power, "power")
    if _device.is_device_array(values) or _device.is_device_array(grads):
        v, g = _device_pair(values, grads)
        d = g["shape"][-1] if g["shape"] else 1
        dtype = np.float32 if v["dtype"] == "f4" else np.float64
        direction, gradient = (_device.empty_like(values, (d,), dtype) for _ in range(2))
        out = _core.power_gradient(v, g, N, policy, _device.describe(direction, "direction"),
                                   _device.describe(gradient, "gradient"))
        return PowerGradient(direction, gradient, *out[2:])
    v = input_array(values, "values")
    g = input_array(grads, "grads")
    return PowerGradient._from_core(_core.power_gradient(v, g, N, policy))


def _device_pair(values: Any, grads: Any) -> tuple[dict, dict]:
    """Both on one GPU, described for the core (a mix of host and GPU arrays is an error)."""
    if not (_device.is_device_array(values) and _device.is_device_array(grads)):
        raise ValueError("values, grads: expected both on the same device, got one GPU array and one host array")
    return _device.describe(values, "values"), _device.describe(grads, "grads")


def power_weights(values: Any, power: float, *, nan_policy: str = "raise") -> tuple[np.ndarray, float]:
    """The normalized weights softmax(N f) and log sum exp(N f).

    With them, any autograd framework gets the power-gradient direction from ONE backward pass:
    ``direction = grad of sum_kj p_kj f_kj`` with the weights p held constant (see README).

    Args:
        values: (K,) or (K, J) fitness values, float32 or float64.
        power: N >= 0.
        nan_policy: as in :func:`power_gradient`; omitted pairs get weight 0.

    Overflow of N f follows :func:`power_gradient`'s rule: the N -> infinity limit (weight 1/T on
    the T ties of the largest value, log_sum_exp = +-inf), which is the exact float64 answer then.

    Returns:
        (weights, log_sum_exp): weights of values' shape and dtype, summing to 1 (all zeros when
        every value is -inf), and log sum_kj exp(N f_kj) over the counted pairs. GPU values (PyTorch,
        CuPy) give GPU weights of the same library, on the same device and stream (one wait per call,
        for log_sum_exp and the checks).
    """
    weights, log_sum_exp, _ = _power_weights_counted(values, power, nan_policy)
    return weights, log_sum_exp


def _power_weights_counted(values: Any, power: float, nan_policy: str) -> tuple[np.ndarray, float, int]:
    """power_weights plus the count of pairs in the mean (the native call's, not recounted)."""
    policy = nan_policy_code(nan_policy)
    N = nonnegative(power, "power")
    if _device.is_device_array(values):  # weights on the same device, in the same library
        v = _device.describe(values, "values")
        weights = _device.empty_like(values, tuple(v["shape"]), np.float32 if v["dtype"] == "f4" else np.float64)
        _, log_sum_exp, count, _ = _core.power_weights(v, N, policy, _device.describe(weights, "weights"))
        return weights, float(log_sum_exp), int(count)
    v = input_array(values, "values")
    weights, log_sum_exp, count, _ = _core.power_weights(v, N, policy)
    return weights, float(log_sum_exp), int(count)


class PowerState:
    """The mergeable power-gradient state (m, s, u), for samples that arrive in pieces.

    ``update`` reduces a chunk of samples; ``merge`` combines states built in other threads or
    processes (states pickle); ``result`` gives the same PowerGradient as :func:`power_gradient`
    on all the samples at once, up to rounding, in any order of chunks and merges.

    Args:
        dim: d, the length of each gradient.
        dtype: float32 or float64: the dtype of the inputs and of the result's direction. The
            state itself accumulates in float64.
    """

    def __init__(self, dim: int, dtype: Any = np.float64) -> None:
        self._dtype = float_dtype(dtype)
        self._state = _core.PowerState(integer(dim, "dim", 1))

    @property
    def dim(self) -> int:
        return int(self._state.dim)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def count(self) -> int:
        """Pairs reduced so far (omitted ones excluded)."""
        return int(self._state.count)

    @property
    def omitted(self) -> int:
        return int(self._state.omitted)

    @property
    def power(self) -> float | None:
        """N of the reduced pairs, or None while the state is empty."""
        p = float(self._state.power)
        return None if p < 0 else p

    def _check_dtype(self, x: np.ndarray, name: str) -> None:
        if x.dtype != self._dtype:
            raise TypeError(f"{name}: expected dtype {self._dtype} (the state's dtype), got {x.dtype}")

    def update(self, values: Any, grads: Any, power: float, *, nan_policy: str = "raise") -> "PowerState":
        """Reduces a chunk of samples into the state (shapes as in :func:`power_gradient`).

        Every chunk must use the same power N. Returns self.
        """
        policy = nan_policy_code(nan_policy)
        if _device.is_device_array(values) or _device.is_device_array(grads):
            v, g = _device_pair(values, grads)  # reduced on the GPU; the state stays on the host
            for name, desc in (("values", v), ("grads", g)):
                if np.dtype(desc["dtype"]) != self._dtype:
                    raise TypeError(f"{name}: expected dtype {self._dtype} (the state's dtype), got {np.dtype(desc['dtype'])}")
        else:
            v = input_array(values, "values")
            g = input_array(grads, "grads")
            self._check_dtype(v, "values")
            self._check_dtype(g, "grads")
        self._state.update(v, g, nonnegative(power, "power"), policy)
        return self

    def merge(self, other: "PowerState") -> "PowerState":
        """Merges another state of the same dim, dtype and power into this one. Returns self."""
        if not isinstance(other, PowerState):
            raise TypeError(f"other: expected a PowerState, got {type(other).__name__}")
        if other._dtype != self._dtype:
            raise TypeError(f"other: expected a state of dtype {self._dtype}, got {other._dtype}")
        self._state.merge(other._state)
        return self

    def result(self) -> PowerGradient:
        """The power gradient of everything reduced so far (ValueError while empty)."""
        return PowerGradient._from_core(self._state.result(self._dtype == np.float32))

    def copy(self) -> "PowerState":
        new = PowerState.__new__(PowerState)
        new.__setstate__(self.__getstate__())
        return new

    def __getstate__(self) -> dict:
        power, m, s, count, omitted, u, top = self._state.snapshot()  # read together, under the state's lock
        return {"dtype": self._dtype.name, "power": float(power), "m": float(m), "s": float(s),
                "count": int(count), "omitted": int(omitted), "u": np.array(u), "top": float(top)}

    def __setstate__(self, state: dict) -> None:
        """Restores a state from __getstate__, validated as on construction (nothing changes if rejected).

        ``top`` (the largest value, in the N -> infinity limit mode) may be absent: -inf, no limit."""
        require_keys(state, ("dtype", "power", "m", "s", "count", "omitted", "u"))
        dtype = float_dtype(state["dtype"])
        u = as_array(state["u"], "u")
        if u.ndim != 1 or u.dtype.kind not in "fi":
            raise ValueError(f"u: expected shape (d,) of real numbers, got shape {u.shape} and dtype {u.dtype}")
        core = _core.PowerState.from_parts(real(state["power"], "power"), real(state["m"], "m"), real(state["s"], "s"),
                                           integer(state["count"], "count"), integer(state["omitted"], "omitted"),
                                           u.astype(np.float64), real(state.get("top", -np.inf), "top"))
        self._dtype, self._state = dtype, core

    def __repr__(self) -> str:
        return (f"PowerState(dim={self.dim}, dtype={self._dtype}, count={self.count}, "
                f"omitted={self.omitted}, power={self.power})")
