"""power_gradient and power_weights against the float64 reference, on random and adversarial inputs."""

import math

import numpy as np
import pytest

import homotopt
from homotopt import reference

SHAPES = [  # K, J (None: values of shape (K,)), d
    (1, None, 1), (1, 1, 1), (5, None, 3), (1, 7, 4), (8, 16, 100), (3, 1, 1), (32, 64, 257),
]


def make(rng, K, J, d, dtype=np.float64, scale=1.0):
    vshape = (K,) if J is None else (K, J)
    values = (rng.standard_normal(vshape) * scale).astype(dtype)
    grads = rng.standard_normal(vshape + (d,)).astype(dtype)
    return values, grads


def check_against_reference(res, ref, rtol):
    scale = max(1.0, float(np.abs(ref["direction"]).max()))
    np.testing.assert_allclose(res.direction, ref["direction"], rtol=0, atol=rtol * scale)
    for key in ("log_scale", "log_mean_exp"):
        got, want = getattr(res, key), ref[key]
        if math.isinf(want):
            assert got == want
        else:
            assert abs(got - want) <= rtol * max(1.0, abs(want)), (key, got, want)
    assert res.count == ref["count"] and res.omitted == ref["omitted"]


@pytest.mark.parametrize("K,J,d", SHAPES)
@pytest.mark.parametrize("power", [0.0, 0.5, 3.0, 1e3])
def test_float64_matches_reference(rng, K, J, d, power):
    values, grads = make(rng, K, J, d)
    res = homotopt.power_gradient(values, grads, power)
    # Same float64 math in another order: worst seen 3e-15 relative to max |direction|.
    check_against_reference(res, reference.power_gradient(values, grads, power), 1e-12)
    assert res.direction.dtype == np.float64 and res.direction.shape == (d,)


@pytest.mark.parametrize("K,J,d", SHAPES)
def test_float32_matches_reference(rng, K, J, d):
    values, grads = make(rng, K, J, d, np.float32)
    res = homotopt.power_gradient(values, grads, 2.0)
    assert res.direction.dtype == np.float32
    # The inputs are exact in float64 and the state accumulates in float64; the only float32 error
    # is the final rounding of the direction: half an ulp, 6e-8 relative.
    check_against_reference(res, reference.power_gradient(values, grads, 2.0), 2e-7)


@pytest.mark.parametrize("scale", [1e3, 1e6])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_huge_exponents_stay_exact(rng, scale, sign):
    """|N f| >= 1e3 or 1e6 for every pair: every raw weight exp(N f) over- or underflows; the result does not."""
    values, grads = make(rng, 6, 9, 5)
    values = sign * (np.abs(values) + 0.1)  # all positive or all negative
    power = scale / np.abs(values).min()
    res = homotopt.power_gradient(values, grads, power)
    ref = reference.power_gradient(values, grads, power)
    check_against_reference(res, ref, 1e-12)
    naive = reference.naive_power_gradient(values, grads, power)["direction"]
    assert not np.all(np.isfinite(naive))  # the literal normalization is inf/inf or 0/0 here
    assert np.all(np.isfinite(res.direction)) and np.isfinite(res.log_scale)


def test_direction_is_the_argmax_gradient_when_one_pair_dominates(rng):
    values, grads = make(rng, 10, None, 4)
    values[3] = values.max() + 1.0
    res = homotopt.power_gradient(values, grads, 1e6)
    np.testing.assert_allclose(res.direction, grads[3], rtol=1e-15)
    assert res.log_mean_exp == pytest.approx(1e6 * values[3] - math.log(10), rel=1e-15)


def test_minus_inf_values_have_weight_zero_and_unread_gradients(rng):
    values, grads = make(rng, 6, 4, 3)
    values[1, 2] = -np.inf
    values[4, :] = -np.inf
    grads[1, 2] = np.nan  # never read: the pair has weight exactly 0
    grads[4] = np.inf
    res = homotopt.power_gradient(values, grads, 2.0)
    check_against_reference(res, reference.power_gradient(values, grads, 2.0), 1e-12)
    assert res.count == 24 and res.omitted == 0


def test_all_minus_inf_gives_zero_direction(rng):
    values = np.full((3, 2), -np.inf)
    grads = rng.standard_normal((3, 2, 4))
    res = homotopt.power_gradient(values, grads, 1.0)
    assert np.all(res.direction == 0) and res.log_scale == -np.inf and res.log_mean_exp == -np.inf
    weights, lse = homotopt.power_weights(values, 1.0)
    assert np.all(weights == 0) and lse == -np.inf


def test_power_zero_is_the_plain_mean(rng):
    values, grads = make(rng, 4, 5, 6)
    res = homotopt.power_gradient(values, grads, 0.0)
    np.testing.assert_allclose(res.direction, grads.reshape(-1, 6).mean(axis=0), rtol=1e-13, atol=1e-15)
    assert res.log_mean_exp == 0.0 and res.log_scale == -np.inf and np.all(res.gradient == 0)


def test_literal_gradient(rng):
    values, grads = make(rng, 4, 3, 5)
    res = homotopt.power_gradient(values, grads, 2.0)
    np.testing.assert_allclose(res.gradient, math.exp(res.log_scale) * res.direction, rtol=1e-14)
    under = homotopt.power_gradient(-np.abs(values) - 1.0, grads, 1e4)  # N f < -1e4: underflows
    assert np.all(under.gradient == 0) and np.any(under.direction != 0)
    over = homotopt.power_gradient(np.abs(values) + 1.0, grads, 1e4)
    assert np.all(np.isinf(over.gradient[over.direction != 0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_policy_values(rng, bad):
    values, grads = make(rng, 5, 4, 3)
    values[2, 1] = bad
    with pytest.raises(ValueError, match=r"values: non-finite value .* at \(k, j\) = \(2, 1\)"):
        homotopt.power_gradient(values, grads, 1.0)
    res = homotopt.power_gradient(values, grads, 1.0, nan_policy="omit")
    check_against_reference(res, reference.power_gradient(values, grads, 1.0, "omit"), 1e-12)
    assert res.omitted == 1 and res.count == 19


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_policy_grads(rng, bad):
    values, grads = make(rng, 5, None, 70)
    grads[3, 66] = bad
    with pytest.raises(ValueError, match=r"grads: non-finite gradient .* at k = 3, element 66"):
        homotopt.power_gradient(values, grads, 1.0)
    res = homotopt.power_gradient(values, grads, 1.0, nan_policy="omit")
    check_against_reference(res, reference.power_gradient(values, grads, 1.0, "omit"), 1e-12)
    assert res.omitted == 1


def test_nan_gradient_of_underflowed_pair_is_still_caught(rng):
    values, grads = make(rng, 4, None, 2)
    values[0] = -1e6  # weight exp(N f - m) underflows to 0, but the value is finite: the pair is read
    grads[0, 1] = np.nan
    with pytest.raises(ValueError, match="k = 0"):
        homotopt.power_gradient(values, grads, 10.0)


def test_all_omitted_is_an_error(rng):
    values, grads = make(rng, 3, 2, 2)
    values[:] = np.nan
    with pytest.raises(ValueError, match="all 6 pairs are non-finite"):
        homotopt.power_gradient(values, grads, 1.0, nan_policy="omit")


def test_overflowing_sum_is_reported(rng):
    values = np.zeros(3)
    grads = np.full((3, 2), 1e308)
    with pytest.raises(ValueError, match="overflows float64"):
        homotopt.power_gradient(values, grads, 1.0)


def test_power_times_value_overflow_gives_the_limit():
    """N f = +inf at the largest value: the N -> infinity limit (lse.hpp), not an error."""
    res = homotopt.power_gradient(np.array([1e300, 0.0]), np.array([[2.0], [3.0]]), 1e10)
    assert res.direction.tolist() == [2.0] and res.log_scale == np.inf


@pytest.mark.parametrize("K,J,d", SHAPES)
def test_weights_match_reference_and_give_the_direction(rng, K, J, d):
    values, grads = make(rng, K, J, d)
    weights, lse = homotopt.power_weights(values, 7.0)
    ref_w, ref_lse = reference.power_weights(values, 7.0)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-13, atol=1e-300)
    assert lse == pytest.approx(ref_lse, rel=1e-14, abs=1e-14)
    assert weights.sum() == pytest.approx(1.0, rel=1e-14)
    # One backward pass of sum p f gives sum p grad f: the direction.
    direction = np.tensordot(weights, grads, axes=weights.ndim)
    np.testing.assert_allclose(direction, homotopt.power_gradient(values, grads, 7.0).direction,
                               rtol=1e-12, atol=1e-14)


def test_weights_float32_and_omit(rng):
    values, _ = make(rng, 4, 6, 1, np.float32)
    values[1, 1] = np.nan
    weights, lse = homotopt.power_weights(values, 1.0, nan_policy="omit")
    assert weights.dtype == np.float32 and weights[1, 1] == 0
    ref_w, ref_lse = reference.power_weights(values, 1.0, "omit")
    np.testing.assert_allclose(weights, ref_w, rtol=2e-7, atol=1e-9)


def test_thread_count_does_not_change_bits(rng, threads):
    values, grads = make(rng, 64, 32, 300)
    threads(1)
    one = homotopt.power_gradient(values, grads, 3.0)
    threads(2)
    two = homotopt.power_gradient(values, grads, 3.0)
    np.testing.assert_array_equal(one.direction, two.direction)
    assert one.log_scale == two.log_scale


def test_non_contiguous_inputs_are_read_correctly(rng):
    values, grads = make(rng, 6, 8, 10)
    res = homotopt.power_gradient(values[:, ::2], grads[:, ::2, :], 1.5)
    check_against_reference(res, reference.power_gradient(values[:, ::2], grads[:, ::2], 1.5), 1e-12)
