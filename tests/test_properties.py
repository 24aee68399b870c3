"""Property-based tests (hypothesis) against the float64 references of homotopt.reference.

Profiles: "ci" (the default: a fixed number of examples, derandomized, so CI is reproducible) and
"long" (many more, random): ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py``.
"""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import homotopt as ht
from homotopt import reference

settings.register_profile("ci", max_examples=60, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Tolerances, relative to the largest |gradient| (the direction is a convex combination of them), by
# analysis: float64 accumulation over at most 30 pairs (~30 ulp = 7e-15) for float64; for float32
# inputs (exact in float64) the float32 rounding of the output (6e-8) dominates. Both bounds are taken
# with a wide margin; 16,000 "long" examples passed them.
TOL = {np.float64: 1e-13, np.float32: 2e-6}


@st.composite
def pairs(draw, with_nan: bool = False):
    """values (K,) or (K, J) with N f in [-1e6, 1e6], or (overflow) N up to 1e307 with |f| up to 1e10 so
    that N f overflows float64 to either side (plus -inf, and NaN / +inf when with_nan), grads."""
    K = draw(st.integers(1, 6))
    J = draw(st.one_of(st.none(), st.integers(1, 5)))
    d = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    overflow = draw(st.booleans())  # N up to 1e300 with |f| up to 1e10: N f overflows (lse.hpp's limit)
    power = draw(st.sampled_from([1e290, 1e300, 1e307] if overflow else [0.0, 1e-3, 1.0, 7.5, 1e3]))
    shape = (K,) if J is None else (K, J)
    n = K * (J or 1)
    specials = [-np.inf] + ([np.nan, np.inf] if with_nan else [])
    if overflow:  # overflowing values and, mixed in, values whose N f stays finite
        elem = st.one_of(st.floats(-1e10, 1e10, allow_nan=False), st.floats(-1e-298, 1e-298, allow_nan=False),
                         st.sampled_from(specials))
    else:
        bound = 1e6 / max(power, 1.0)  # N f in [-1e6, 1e6]
        elem = st.one_of(st.floats(-bound, bound, allow_nan=False), st.sampled_from(specials))
    v = np.array(draw(st.lists(elem, min_size=n, max_size=n)), dtype=dtype).reshape(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    g = np.random.default_rng(seed).normal(size=shape + (d,)).astype(dtype)
    if draw(st.booleans()):  # ties at the max: equal weights
        v.reshape(-1)[: max(1, n // 2)] = v.reshape(-1)[0]
    return v, g, power, dtype


def _check_against_reference(v, g, power, dtype, policy):
    try:
        ref = reference.power_gradient(v, g, power, nan_policy=policy)
    except ValueError:
        with pytest.raises(ValueError):
            ht.power_gradient(v, g, power, nan_policy=policy)
        return None
    res = ht.power_gradient(v, g, power, nan_policy=policy)
    scale = max(1.0, float(np.max(np.abs(g))))
    np.testing.assert_allclose(res.direction.astype(np.float64), ref["direction"], rtol=0, atol=TOL[dtype] * scale)
    assert res.count == ref["count"] and res.omitted == ref["omitted"]
    if math.isinf(ref["log_scale"]):
        assert res.log_scale == ref["log_scale"]
    else:
        assert abs(res.log_scale - ref["log_scale"]) <= 1e-12 * max(1.0, abs(ref["log_scale"]))
    return res


@given(pairs(), st.sampled_from(["raise", "omit"]))
def test_power_gradient_matches_reference(case, policy):
    v, g, power, dtype = case
    _check_against_reference(v, g, power, dtype, policy)


@given(pairs(with_nan=True))
def test_power_gradient_nan_policies(case):
    v, g, power, dtype = case
    bad = np.isnan(v) | (v == np.inf)
    if bad.any():
        with pytest.raises(ValueError, match="values: non-finite value"):
            ht.power_gradient(v, g, power, nan_policy="raise")
    _check_against_reference(v, g, power, dtype, "omit")


@given(pairs(with_nan=True), st.sampled_from(["raise", "omit"]))
def test_power_weights_match_reference(case, policy):
    v, _, power, dtype = case
    try:
        w_ref, lse_ref = reference.power_weights(v, power, nan_policy=policy)
    except ValueError:
        with pytest.raises(ValueError):
            ht.power_weights(v, power, nan_policy=policy)
        return
    w, lse = ht.power_weights(v, power, nan_policy=policy)
    assert w.shape == v.shape and w.dtype == v.dtype
    np.testing.assert_allclose(w.astype(np.float64), w_ref, rtol=0, atol=TOL[dtype])
    if math.isinf(lse_ref):
        assert lse == lse_ref
    else:
        assert abs(lse - lse_ref) <= 1e-12 * max(1.0, abs(lse_ref))
    if np.isfinite(lse):
        assert abs(float(w.astype(np.float64).sum()) - 1.0) <= 10 * TOL[dtype] * w.size


@given(pairs(), st.integers(2, 5), st.randoms(use_true_random=False))
def test_power_state_merges_in_any_order_equal_one_shot(case, pieces, rnd):
    v, g, power, dtype = case
    one = ht.power_gradient(v, g, power)
    K = v.shape[0]
    cuts = sorted(rnd.sample(range(1, K), min(pieces - 1, K - 1))) if K > 1 else []
    bounds = [0] + cuts + [K]
    states = [ht.PowerState(g.shape[-1], dtype).update(v[a:b], g[a:b], power) for a, b in zip(bounds, bounds[1:])]
    states = [pickle.loads(pickle.dumps(s)) if rnd.random() < 0.5 else s for s in states]
    rnd.shuffle(states)
    while len(states) > 1:  # merge random pairs, in random order
        i, j = rnd.sample(range(len(states)), 2)
        states[i].merge(states[j])
        states.pop(j)
    res = states[0].result()
    scale = max(1.0, float(np.max(np.abs(g))))
    np.testing.assert_allclose(res.direction.astype(np.float64), one.direction.astype(np.float64), rtol=0,
                               atol=TOL[dtype] * scale)
    assert res.count == one.count
    if math.isinf(one.log_scale):
        assert res.log_scale == one.log_scale
    else:
        assert abs(res.log_scale - one.log_scale) <= 1e-12 * max(1.0, abs(one.log_scale))


@given(st.integers(1, 3), st.integers(1, 50), st.sampled_from([np.float32, np.float64]),
       st.floats(1e-6, 10.0), st.floats(0.0, 1.0, exclude_min=True), st.floats(0.0, 10.0), st.floats(0.0, 1.0),
       st.booleans(), st.sampled_from(["exponential", "uniform", "none"]), st.integers(0, 2**64 - 1),
       st.integers(0, 2**32 - 1), st.integers(0, 2**31))
def test_o2nc_update_matches_its_rule(n_arrays, size, dtype, lr, beta, mu, wd, maximize, scaling, seed, step, data):
    rng = np.random.default_rng(data)
    params = [rng.normal(size=size).astype(dtype) for _ in range(n_arrays)]
    grads = [rng.normal(size=size).astype(dtype) for _ in range(n_arrays)]
    buffers = [rng.normal(size=size).astype(dtype) for _ in range(n_arrays)]
    s = reference.o2nc_scale(seed, step, scaling)
    want_x, want_D = reference.o2nc_update(params, grads, buffers, lr=lr, beta=beta, mu=mu, weight_decay=wd, s=s,
                                           maximize=maximize)
    out = ht.o2nc_update(params, grads, buffers, lr=lr, beta=beta, mu=mu, weight_decay=wd, scaling=scaling,
                         seed=seed, step=step, maximize=maximize)
    assert not out.found_inf
    assert out.s == pytest.approx(s, rel=1e-12)
    # float32 state: rounding of D and x to float32 (2^-24 relative) on values up to ~(1 + lr) * 5 in size.
    tol = 1e-12 if dtype == np.float64 else 3e-6
    for x, D, wx, wD in zip(params, buffers, want_x, want_D):
        np.testing.assert_allclose(D, wD, rtol=tol, atol=tol * (1 + float(np.max(np.abs(wD)))))
        np.testing.assert_allclose(x, wx, rtol=tol, atol=tol * (1 + float(np.max(np.abs(wx))) + s * float(np.max(np.abs(wD)))))


@given(st.floats(0.0, 1e3), st.floats(0.0, 10.0), st.one_of(st.floats(0.0, 1e4), st.just(math.inf)),
       st.integers(1, 50), st.integers(1, 300))
def test_power_schedule_closed_form(start, increment, top, every, steps):
    got = ht.PowerSchedule(start, increment, top, every).values(steps)
    t = np.arange(steps)
    np.testing.assert_array_equal(got, np.minimum(start + increment * (t // every), top))


@given(st.floats(1e-6, 1e3), st.floats(1e-3, 1.0), st.floats(0.0, 10.0), st.integers(1, 300))
def test_sigma_schedule_closed_form(start, decay, floor, steps):
    got = ht.SigmaSchedule(start, decay, floor).values(steps)
    t = np.arange(steps, dtype=np.float64)
    np.testing.assert_allclose(got, start * decay ** t + floor, rtol=1e-13, atol=0)


@given(st.floats(1e-6, 1e3), st.floats(-0.5, 2.0), st.floats(1e-3, 100.0), st.integers(1, 300))
def test_learning_rate_closed_form(base, gamma, offset, steps):
    got = ht.LearningRate(base, gamma, offset).values(steps)
    t = np.arange(steps, dtype=np.float64)
    np.testing.assert_allclose(got, base * (t + offset) ** -(0.5 + gamma), rtol=1e-13, atol=0)


@given(pairs(with_nan=True))
def test_torch_sample_merge_matches_power_weights(case):
    """ProgPowerHP's per-sample native merge (power_merge_sample), sample after sample with u's rescales
    replayed on the pairs' weights, gives softmax(N f) (nan_policy="omit") and the count."""
    torch = pytest.importorskip("torch")
    from homotopt.torch import _powerhp_merge as merge

    v, _, power, _ = case
    f = v.reshape(v.shape[0], -1).astype(np.float64)
    counted = ~(np.isnan(f) | (f == np.inf))
    try:
        want, _ = reference.power_weights(f, power, nan_policy="omit")
    except ValueError:  # every pair omitted
        return
    state = torch.tensor([[-math.inf, 0.0, 0.0, -math.inf]], dtype=torch.float64)
    coef = torch.zeros(1, 2, dtype=torch.float64)
    W = np.zeros_like(f)
    for k in range(f.shape[0]):
        wb = merge.merge_sample(state, coef, torch.from_numpy(f[k].copy()), torch.from_numpy(counted[k].copy()),
                                power, [0])
        W[:k] *= float(coef[0, 0])
        W[k] = wb.numpy()
    m, s, count, _ = state[0].tolist()
    assert count == counted.sum()
    got = W / s if s > 0 else W
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3), st.integers(1, 8), st.booleans(), st.booleans(),
       st.sampled_from(["raw", "log", "unit", "mean", "sigma"]), st.sampled_from([None, "clip", "reflect"]),
       st.floats(0.0, 50.0), st.integers(0, 2**32 - 1))
def test_asktell_on_torch_tensors_follows_the_numpy_route(R, K, J, d, maximize, scale_free, rule, bounds, power,
                                                          seed):
    """The caller-held form (torch tensors: means, samples and gradients stay on their device) against the
    native NumPy route on the same settings: 3 steps of mu, best_mu and estimates equal to rounding."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    mu0 = rng.uniform(-0.5, 0.5, (R, d))
    kw = dict(num_samples=K, power=power, sigma=0.3, lr=0.05, step_rule=rule, maximize=maximize,
              scale_free=scale_free, runs=R, seed=seed)
    if bounds:
        kw.update(bounds=(-0.6, 0.6), bound_mode=bounds)
    a, b = ht.ProgPowerHP(mu0, **kw), ht.ProgPowerHP(torch.from_numpy(mu0.copy()), **kw)
    C = rng.normal(size=(J, d))
    for _ in range(3):
        Wa, Wb = a.ask(), b.ask()
        np.testing.assert_allclose(Wb.numpy(), Wa, rtol=1e-9, atol=1e-12)
        sign = -1.0 if maximize else 1.0  # a loss (w . c)^2, or its negation as the fitness
        z = np.einsum("rkd,jd->rkj", Wa, C)
        va, ga = sign * z ** 2, sign * 2 * z[..., None] * C
        ea = a.tell(va, ga)
        eb = b.tell(torch.from_numpy(va), torch.from_numpy(ga))  # the same values: the steps compare
        np.testing.assert_allclose(eb.direction.numpy(), ea.direction, rtol=1e-9, atol=1e-12)
        assert (eb.count, eb.omitted) == (ea.count, ea.omitted)
        np.testing.assert_allclose(b.mu.numpy(), a.mu, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.best_mu.numpy(), a.best_mu, rtol=1e-9, atol=1e-12)
