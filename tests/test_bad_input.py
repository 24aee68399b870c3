"""Bad input to power_gradient / power_weights: a table of (call, exception, message pattern)."""

import numpy as np
import pytest

import homotopt

V, G = np.zeros((3, 2)), np.zeros((3, 2, 4))
V1, G1 = np.zeros(3), np.zeros((3, 4))

CASES = [
    (lambda: homotopt.power_gradient(V.astype(np.int64), G, 1.0), TypeError, "values: expected dtype float32 or float64, got int64"),
    (lambda: homotopt.power_gradient(V, G.astype(np.float32), 1.0), TypeError, r"grads: expected dtype float64 \(the dtype of values\), got float32"),
    (lambda: homotopt.power_gradient(V.astype(np.complex128), G, 1.0), TypeError, "values"),
    (lambda: homotopt.power_gradient(np.zeros((3, 2, 1)), G, 1.0), ValueError, r"values: expected shape \(K,\) or \(K, J\), got \(3, 2, 1\)"),
    (lambda: homotopt.power_gradient(V, np.zeros((3, 4)), 1.0), ValueError, r"grads: expected shape \(K, J, d\) with \(K, J\) = \(3, 2\)"),
    (lambda: homotopt.power_gradient(V1, np.zeros((2, 4)), 1.0), ValueError, r"grads: expected shape \(K, d\) with K = 3 \(from values\), got \(2, 4\)"),
    (lambda: homotopt.power_gradient(V1, G, 1.0), ValueError, r"grads: expected shape \(K, d\)"),
    (lambda: homotopt.power_gradient(np.zeros(0), np.zeros((0, 4)), 1.0), ValueError, "every size >= 1"),
    (lambda: homotopt.power_gradient(np.zeros((3, 0)), np.zeros((3, 0, 4)), 1.0), ValueError, "every size >= 1"),
    (lambda: homotopt.power_gradient(V1, np.zeros((3, 0)), 1.0), ValueError, "d >= 1"),
    (lambda: homotopt.power_gradient(V, G, -1.0), ValueError, "power: expected a finite value >= 0, got -1.0"),
    (lambda: homotopt.power_gradient(V, G, np.inf), ValueError, "power"),
    (lambda: homotopt.power_gradient(V, G, np.nan), ValueError, "power"),
    (lambda: homotopt.power_gradient(V, G, "2"), TypeError, "power: expected a real number"),
    (lambda: homotopt.power_gradient(V, G, 1.0, nan_policy="ignore"), ValueError, "nan_policy: expected 'raise' or 'omit'"),
    (lambda: homotopt.power_weights(np.zeros((2, 2, 2)), 1.0), ValueError, "values: expected shape"),
    (lambda: homotopt.power_weights(np.array([np.nan, 1.0]), 1.0), ValueError, r"values: non-finite value nan at k = 0"),
    (lambda: homotopt.power_weights(V, -2.0), ValueError, "power"),
]


@pytest.mark.parametrize("call,exc,match", CASES)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_lists_are_accepted():
    res = homotopt.power_gradient([0.0, 1.0], [[1.0], [2.0]], 1.0)
    assert res.direction.shape == (1,)
