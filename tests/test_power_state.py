"""PowerState: chunks and merges in any order equal the one-shot result; pickling; misuse."""

import pickle

import numpy as np
import pytest

import homotopt


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunks_and_merges_in_random_order_equal_one_shot(rng, dtype):
    K, J, d = 40, 6, 13
    values = (rng.standard_normal((K, J)) * 50).astype(dtype)  # N f spans hundreds: rescaling matters
    grads = rng.standard_normal((K, J, d)).astype(dtype)
    power = 4.0
    whole = homotopt.power_gradient(values, grads, power)
    cuts = np.sort(rng.choice(np.arange(1, K), size=7, replace=False))
    chunks = list(zip(np.split(values, cuts), np.split(grads, cuts)))
    order = rng.permutation(len(chunks))
    states = []
    for i in order:  # some chunks into one state, the rest into their own states merged later
        if not states or rng.random() < 0.5:
            states.append(homotopt.PowerState(d, dtype))
        states[-1].update(*chunks[i], power)
    total = states[0]
    for s in rng.permutation(states[1:]):
        total.merge(pickle.loads(pickle.dumps(s)))  # states cross processes by pickle
    res = total.result()
    # float64 accumulation in a different association: worst seen 4e-16 relative to max |direction|.
    tol = 1e-13 if dtype == np.float64 else 2e-7
    np.testing.assert_allclose(res.direction, whole.direction, rtol=0, atol=tol * np.abs(whole.direction).max())
    assert res.log_scale == pytest.approx(whole.log_scale, rel=1e-13)
    assert res.count == K * J and res.omitted == 0
    assert res.direction.dtype == dtype


def test_empty_state_is_the_identity(rng):
    values, grads = rng.standard_normal(5), rng.standard_normal((5, 3))
    a = homotopt.PowerState(3).update(values, grads, 2.0)
    before = a.result()
    a.merge(homotopt.PowerState(3))
    b = homotopt.PowerState(3).merge(a)
    np.testing.assert_array_equal(a.result().direction, before.direction)
    np.testing.assert_array_equal(b.result().direction, before.direction)
    assert homotopt.PowerState(3).power is None and a.power == 2.0


def test_omitted_pairs_are_counted_across_chunks(rng):
    values, grads = rng.standard_normal((4, 2)), rng.standard_normal((4, 2, 3))
    values[0, 0] = np.nan
    grads[3, 1, 2] = np.inf
    state = homotopt.PowerState(3)
    state.update(values[:2], grads[:2], 1.0, nan_policy="omit")
    state.update(values[2:], grads[2:], 1.0, nan_policy="omit")
    res = state.result()
    one = homotopt.power_gradient(values, grads, 1.0, nan_policy="omit")
    assert res.omitted == 2 == one.omitted and res.count == 6
    np.testing.assert_allclose(res.direction, one.direction, rtol=0, atol=1e-14 * np.abs(one.direction).max())


def test_copy_is_independent(rng):
    a = homotopt.PowerState(2).update(rng.standard_normal(3), rng.standard_normal((3, 2)), 1.0)
    b = a.copy()
    b.update(rng.standard_normal(3), rng.standard_normal((3, 2)), 1.0)
    assert a.count == 3 and b.count == 6


@pytest.mark.parametrize("call,exc,match", [
    (lambda s: s.result(), ValueError, "empty"),
    (lambda s: s.update(np.zeros(2), np.zeros((2, 4)), 1.0), ValueError, r"d = 3 \(the state's dim\)"),
    (lambda s: s.update(np.zeros(2, np.float32), np.zeros((2, 3), np.float32), 1.0), TypeError, "state's dtype"),
    (lambda s: s.merge(homotopt.PowerState(4)), ValueError, "dim"),
    (lambda s: s.merge(homotopt.PowerState(3, np.float32)), TypeError, "dtype"),
    (lambda s: s.merge("state"), TypeError, "PowerState"),
    (lambda s: s.update(np.zeros(2), np.zeros((2, 3)), 1.0).update(np.zeros(2), np.zeros((2, 3)), 2.0),
     ValueError, "one state reduces one N"),
])
def test_misuse(call, exc, match):
    with pytest.raises(exc, match=match):
        call(homotopt.PowerState(3))


@pytest.mark.parametrize("dim,dtype,exc", [(0, np.float64, ValueError), (2.5, np.float64, TypeError),
                                           (3, np.int64, TypeError)])
def test_bad_construction(dim, dtype, exc):
    with pytest.raises(exc):
        homotopt.PowerState(dim, dtype)


def test_corrupt_pickle_is_rejected():
    state = homotopt.PowerState(2).update(np.zeros(1), np.ones((1, 2)), 1.0).__getstate__()
    state["s"] = -1.0
    with pytest.raises(ValueError, match="s: expected"):
        homotopt.PowerState(2).__setstate__(state)
