"""The result type of every power-gradient computation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PowerGradient(NamedTuple):
    """The K-sample power gradient, in a form that neither overflows nor underflows.

    Attributes:
        direction: (d,) the softmax(N f)-weighted mean of the per-pair gradients, sum p_kj grad f_kj.
            Its scale is O(|grad f|) whatever N and f are.
        log_scale: log N + log mean exp(N f); the paper's gradient is exp(log_scale) * direction.
            +inf or -inf when N f overflows float64 at the largest value (the N -> infinity limit,
            where ``direction`` is the mean gradient of the pairs tied at the largest value).
        log_mean_exp: log of the mean of exp(N f) over the counted pairs (log of the surrogate's
            Monte-Carlo estimate).
        count: pairs in the mean (K J minus the omitted ones).
        omitted: pairs given weight 0 for a non-finite value or gradient (nan_policy="omit").
        gradient: (d,) the paper's literal g = exp(log_scale) * direction. It underflows to 0 when
            N f is very negative (N f < -745 in float64) and overflows to inf when very positive;
            prefer `direction` and `log_scale`.
    """

    direction: np.ndarray
    gradient: np.ndarray
    log_scale: float
    log_mean_exp: float
    count: int
    omitted: int

    @classmethod
    def _from_core(cls, t: tuple) -> "PowerGradient":
        # The native tuple already holds (ndarray, ndarray, float, float, int, int) in field order.
        return cls._make(t)

    def __repr__(self) -> str:
        d = self.direction
        return (f"PowerGradient(d={d.shape[0]}, dtype={d.dtype}, log_scale={self.log_scale:.6g}, "
                f"log_mean_exp={self.log_mean_exp:.6g}, count={self.count}, omitted={self.omitted}, "
                f"|direction|={float(np.linalg.norm(d)):.6g})")
