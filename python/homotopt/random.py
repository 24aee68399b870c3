"""The Philox4x32-10 streams of the native core, exposed so that any noise can be rebuilt exactly.

Every number has an address (seed, stream, trial, step, index). The estimators and runners draw
from fixed streams (:class:`Stream`); calling these functions with the same address returns the
same numbers, e.g. the K x d noise of ``PhaseRetrieval.power_gradient(..., seed=s, step=t)`` is
``normal((K, d), s, t, stream=Stream.SAMPLES)``.
"""

from __future__ import annotations

import enum
from typing import Any, Sequence

import numpy as np

from . import _core
from ._validation import counter32, float_dtype, integer, seed as check_seed

__all__ = ["Stream", "normal", "uniform", "exponential", "integers"]


class Stream(enum.IntEnum):
    """Which consumer a stream belongs to (mirrors homotopt::RandomStream in philox.hpp)."""

    SAMPLES = 1     #: Gaussian samples w_k = mu + sigma eps_k
    MINIBATCH = 2   #: minibatch row indices
    SCALE = 3       #: the O2NC step scale s
    START = 4       #: starting points
    PROBLEM = 5     #: data of random problem instances
    INPUTS = 6      #: fresh inputs drawn each step (teacher-student)
    DIRECTIONS = 7  #: search directions of baselines (SLGH)
    USER = 8        #: the default for direct calls


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape: expected an int or a sequence of ints, got {type(shape).__name__}")
    out = tuple(integer(s, "shape", 0) for s in shape)
    if len(out) > 4:
        raise ValueError(f"shape: expected at most 4 dimensions, got {len(out)}")
    return out


def _empty(shape: Any, dtype: Any) -> np.ndarray:
    """np.empty for the output, with an allocation failure naming the argument."""
    dims = _shape(shape)
    try:
        return np.empty(dims, dtype=dtype)
    except (MemoryError, ValueError) as exc:  # ValueError: more than 2^63 bytes
        raise MemoryError(f"shape: cannot allocate an array of shape {dims} and dtype {np.dtype(dtype)} "
                          f"({exc})") from None


def _fill(distribution: _core.Distribution, shape, seed, step, trial, stream, offset, dtype) -> np.ndarray:
    out = _empty(shape, float_dtype(dtype))
    _core.random_fill(out, distribution, check_seed(seed), counter32(int(stream), "stream"),
                      counter32(trial, "trial"), counter32(step, "step"), integer(offset, "offset", 0, 2**63))
    return out


def normal(shape: int | Sequence[int], seed: int, step: int = 0, *, trial: int = 0,
           stream: int = Stream.USER, offset: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """Standard normal numbers offset, offset + 1, ... of the stream, in C order of `shape`.

    Box-Muller in float32 on two 32-bit words (24-bit radius uniform, so |n| <= 5.77; see
    ``normal_pair`` in philox.hpp), then widened to `dtype`.
    """
    return _fill(_core.Distribution.normal, shape, seed, step, trial, stream, offset, dtype)


def uniform(shape: int | Sequence[int], seed: int, step: int = 0, *, trial: int = 0,
            stream: int = Stream.USER, offset: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """Uniform numbers in [0, 1) (52 random bits each)."""
    return _fill(_core.Distribution.uniform, shape, seed, step, trial, stream, offset, dtype)


def exponential(shape: int | Sequence[int], seed: int, step: int = 0, *, trial: int = 0,
                stream: int = Stream.USER, offset: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """Exp(1) numbers, -log(u) with u in (0, 1]."""
    return _fill(_core.Distribution.exponential, shape, seed, step, trial, stream, offset, dtype)


def integers(n: int, shape: int | Sequence[int], seed: int, step: int = 0, *, trial: int = 0,
             stream: int = Stream.USER, offset: int = 0) -> np.ndarray:
    """Integers in [0, n), 1 <= n <= 2^32, as int64 ((32-bit word * n) >> 32; bias below n / 2^32)."""
    out = _empty(shape, np.int64)
    _core.random_indices(out, integer(n, "n", 1, 2**32), check_seed(seed), counter32(int(stream), "stream"),
                         counter32(trial, "trial"), counter32(step, "step"), integer(offset, "offset", 0, 2**63))
    return out
