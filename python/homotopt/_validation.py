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


def input_array(x: Any, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 array for a read-only input (copied only if not contiguous)."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__dlpack__") or hasattr(x, "__cuda_array_interface__"):
            raise TypeError(f"{name}: expected a NumPy array, got {type(x).__module__}.{type(x).__name__}"
                            " (GPU arrays are accepted only where the CUDA backend supports them)")
        x = np.asarray(x)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    return np.ascontiguousarray(x)


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
