"""Input checks of the Python layer: clear exceptions naming the argument, before native code runs.

The native core checks shapes, dtypes and values again (it is also a C++ API); these helpers turn
Python objects into arrays and validate what only Python sees (strings, seeds, Python scalars).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import _core

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
NAN_POLICIES = {"raise": _core.NanPolicy.raise_, "omit": _core.NanPolicy.omit}


def float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """The NumPy dtype for `dtype`, which must be float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dt}")
    return dt


def as_array(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """np.asarray(x), with the errors of ragged or unconvertible input naming the argument."""
    try:
        return np.asarray(x, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name}: cannot make an array of it ({exc})") from exc


def input_array(x: Any, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 array of 1 or more dimensions for a read-only input (copied only
    if not contiguous). A 0-d array or a scalar is an error, not a vector of one."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__dlpack__") or hasattr(x, "__cuda_array_interface__"):
            raise TypeError(f"{name}: expected a NumPy array, got {type(x).__module__}.{type(x).__name__}"
                            " (GPU arrays are accepted only where the CUDA backend supports them)")
        x = as_array(x, name)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of 1 or more dimensions, got a 0-d array or scalar")
    return np.ascontiguousarray(x)


def boolean(x: Any, name: str) -> bool:
    """A Python bool from a bool or NumPy bool (a truthy string or number is an error)."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(x).__name__} {x!r}")
    return bool(x)


def require_keys(state: Any, keys: Any, name: str = "state") -> None:
    """A saved state must be a dict holding every key (ValueError naming the first missing one)."""
    if not isinstance(state, dict):
        raise TypeError(f"{name}: expected a dict, got {type(state).__name__}")
    for k in keys:
        if k not in state:
            raise ValueError(f"{name}: missing key {k!r} (expected keys {sorted(keys)})")


def nan_policy_code(nan_policy: str) -> _core.NanPolicy:
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy: expected 'raise' or 'omit', got {nan_policy!r}")
    return NAN_POLICIES[nan_policy]


def real(x: Any, name: str) -> float:
    """A Python float from a real scalar (bools rejected)."""
    if type(x) is float or type(x) is int:  # fast path: the ABC checks below cost ~1 us
        return float(x)
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(x).__name__}")
    return float(x)


def positive(x: Any, name: str) -> float:
    v = real(x, name)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a finite value > 0, got {v}")
    return v


def nonnegative(x: Any, name: str) -> float:
    v = real(x, name)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name}: expected a finite value >= 0, got {v}")
    return v


def integer(x: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """A Python int in [low, high] (bounds optional; bools and floats rejected)."""
    if type(x) is not int and (isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral)):
        raise TypeError(f"{name}: expected an integer, got {type(x).__name__}")
    v = int(x)
    if low is not None and v < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name}: expected an integer <= {high}, got {v}")
    return v


def seed(x: Any, name: str = "seed") -> int:
    return integer(x, name, 0, 2**64 - 1)


def counter32(x: Any, name: str) -> int:
    return integer(x, name, 0, 2**32 - 1)
