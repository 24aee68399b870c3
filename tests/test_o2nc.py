"""Exponentiated O2NC: the fused kernel against the float64 transcription of papers/o2nc.md, the SGDM
form, the step scale s, the NumPy optimizer, and bad input (which must leave every array untouched)."""

import numpy as np
import pytest
from scipy import stats

import homotopt
from homotopt import reference
from homotopt.random import Stream

SIZES = [(1,), (3,), (1000003,), (17, 5), (2, 3, 4, 5, 2)]  # odd sizes; 5-D like a Conv3d weight

OPTIONS = [  # every option of the rule; s drawn unless given
    dict(),
    dict(scaling="uniform"),
    dict(scaling="none"),
    dict(mu=0.5),
    dict(weight_decay=0.01),
    dict(maximize=True),
    dict(beta=1.0, mu=0.3, weight_decay=0.05, maximize=True),
    dict(s=2.5),
    dict(s=0.0),
]


def make(rng, dtype, sizes=SIZES, scale=1.0):
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in sizes]


def error_bounds(x, g, D, D_ref, *, lr, beta, mu=0.0, weight_decay=0.0, s, dtype):
    """First-order bounds on the kernel's rounding in one step from the same (x, g, D): the coefficients
    are rounded to the working precision (one rounding each), then two or three fused multiply-adds
    and a product, each rounded once."""
    u = np.finfo(dtype).eps / 2
    x, g, D = (np.abs(np.asarray(a, dtype=np.float64)) for a in (x, g, D))
    b = beta / (1 + lr * mu)
    err_D = 6 * u * b * (D + lr * g + lr * weight_decay * x)
    err_x = 3 * u * (x + s * np.abs(D_ref)) + s * err_D
    return err_D, err_x


def hyper(opts):
    h = dict(lr=0.05, beta=0.9, mu=0.0, weight_decay=0.0)
    h.update({k: v for k, v in opts.items() if k in h})
    return h


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_kernel_matches_reference(rng, dtype, opts):
    x = make(rng, dtype)
    D = [np.zeros_like(a) for a in x]
    h = hyper(opts)
    kw = {k: v for k, v in opts.items() if k not in h}
    worst = 0.0
    for step in range(3):  # three steps, so D carries momentum; each compared from the same state
        g = make(rng, dtype)
        x0, D0 = [a.copy() for a in x], [a.copy() for a in D]
        res = homotopt.o2nc_update(x, g, D, seed=7, step=step, **h, **kw)
        assert not res.found_inf
        if "s" in opts:
            assert res.s == opts["s"]
        else:
            # The same draw as the NumPy Philox transcription; the log differs by an ulp at most.
            assert res.s == pytest.approx(reference.o2nc_scale(7, step, opts.get("scaling", "exponential")),
                                          rel=1e-15)
        x_ref, D_ref = reference.o2nc_update(x0, g, D0, s=res.s, maximize=opts.get("maximize", False), **h)
        for i in range(len(x)):
            assert x[i].dtype == dtype and D[i].dtype == dtype
            err_D, err_x = error_bounds(x0[i], g[i], D0[i], D_ref[i], s=res.s, dtype=dtype, **h)
            # Worst seen (error / bound), 6 seeds x 9 options x 3 steps of 200001 elements: D 0.54, x 0.40
            # (float32); D 0.72, x 0.66 (float64).
            dD = np.abs(D[i] - D_ref[i])
            dx = np.abs(x[i] - x_ref[i])
            assert np.all(dD <= err_D), (i, (dD / err_D).max())
            assert np.all(dx <= err_x), (i, (dx / err_x).max())
            worst = max(worst, float((dD / np.maximum(err_D, 1e-300)).max()))
    assert worst <= 1.0


def test_one_call_equals_one_call_per_tensor_and_any_thread_count(rng, threads):
    x = make(rng, np.float32, [(1,), (70001,), (3,), (200003,), (64,)])
    g = make(rng, np.float32, [a.shape for a in x])
    D = make(rng, np.float32, [a.shape for a in x])
    results = []
    for n_threads, split in ((1, False), (2, False), (2, True), (1, True)):
        threads(n_threads)
        xs, Ds = [a.copy() for a in x], [a.copy() for a in D]
        if split:
            for i in range(len(x)):
                homotopt.o2nc_update([xs[i]], [g[i]], [Ds[i]], lr=0.1, beta=0.9, mu=0.1, weight_decay=0.01,
                                     seed=3, step=5)
        else:
            homotopt.o2nc_update(xs, g, Ds, lr=0.1, beta=0.9, mu=0.1, weight_decay=0.01, seed=3, step=5)
        results.append(xs + Ds)
    for other in results[1:]:  # elementwise: the same bits however the elements are split
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_mixed_dtypes_in_one_call(rng):
    x = [rng.standard_normal(5).astype(np.float32), rng.standard_normal(7)]
    g = [rng.standard_normal(5).astype(np.float32), rng.standard_normal(7)]
    D = [np.zeros(5, np.float32), np.zeros(7)]
    x0 = [a.copy() for a in x]
    res = homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.5, seed=1, step=1)
    x_ref, D_ref = reference.o2nc_update(x0, g, [np.zeros(5), np.zeros(7)], lr=0.1, beta=0.5, s=res.s)
    # Values O(1): worst seen 5e-8 (float32) and 6e-17 (float64) over 10 seeds.
    np.testing.assert_allclose(x[0], x_ref[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(x[1], x_ref[1], rtol=0, atol=1e-14)
    assert x[0].dtype == np.float32 and x[1].dtype == np.float64


@pytest.mark.parametrize("mu", [0.0, 0.7])
@pytest.mark.parametrize("beta", [0.9, 0.99])
def test_sgdm_form_equals_d_form(rng, beta, mu):
    """papers/o2nc.md: with b' = beta / (1 + lr mu), m <- b' m + (1 - b') g, x <- x - s lr b'/(1-b') m
    is the D form with D = -lr b' / (1 - b') m."""
    lr, steps = 0.03, 40
    sizes = [(1,), (3,), (1001,)]
    x = make(rng, np.float64, sizes)
    D = [np.zeros(s) for s in sizes]
    xs_ref, ms = [a.copy() for a in x], [np.zeros(s) for s in sizes]
    xd_ref, Ds_ref = [a.copy() for a in x], [np.zeros(s) for s in sizes]
    for step in range(steps):
        g = make(rng, np.float64, sizes)
        res = homotopt.o2nc_update(x, g, D, lr=lr, beta=beta, mu=mu, seed=11, step=step)
        xs_ref, ms = reference.o2nc_sgdm_update(xs_ref, g, ms, lr=lr, beta=beta, mu=mu, s=res.s)
        xd_ref, Ds_ref = reference.o2nc_update(xd_ref, g, Ds_ref, lr=lr, beta=beta, mu=mu, s=res.s)
    b = beta / (1 + lr * mu)
    for i in range(len(sizes)):
        # Two roundings of the same float64 recursion over 40 steps: worst seen 7e-14 relative to max |x|
        # (beta = 0.99: the SGDM form's lr b' / (1 - b') = 100 lr amplifies its rounding).
        scale = np.abs(x[i]).max()
        np.testing.assert_allclose(x[i], xs_ref[i], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(xd_ref[i], xs_ref[i], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(D[i], -lr * b / (1 - b) * ms[i], rtol=0, atol=1e-12 * np.abs(D[i]).max())


# ---- the step scale s ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,step", [(0, 0), (1, 1), (12345, 678), (2**64 - 1, 2**32 - 1), (2**40 + 3, 2**31)])
def test_same_s_in_python_and_cpp(seed, step):
    kw = dict(lr=0.1, beta=0.9, seed=seed, step=step)
    s = homotopt.o2nc_update([], [], [], **kw).s
    assert s == homotopt.o2nc_scale(seed, step)
    assert s == homotopt.random.exponential(1, seed, step, stream=Stream.SCALE)[0]
    assert s == pytest.approx(reference.o2nc_scale(seed, step), rel=1e-15)  # NumPy's log1p vs ours: 1 ulp
    u = homotopt.o2nc_update([], [], [], scaling="uniform", **kw).s
    assert u == 2 * homotopt.random.uniform(1, seed, step, stream=Stream.SCALE)[0]
    assert u == reference.o2nc_scale(seed, step, "uniform")  # the same 52 bits: exact
    assert homotopt.o2nc_update([], [], [], scaling="none", **kw).s == 1.0


def test_s_is_exponential_over_100000_steps():
    n = 100_000
    s = np.array([homotopt.o2nc_update([], [], [], lr=0.1, beta=0.9, seed=2024, step=t).s for t in range(n)])
    assert abs(s.mean() - 1) < 5 / np.sqrt(n)  # sd of Exp(1) is 1
    assert abs(s.var() - 1) < 5 * np.sqrt(8 / n)  # var of the sample variance of Exp(1): (mu4 - 1) / n = 8 / n
    # A fixed seed: a deterministic outcome; the threshold is loose enough for a correct stream.
    assert stats.kstest(s, "expon").pvalue > 1e-3
    u = np.array([homotopt.o2nc_scale(2024, t, "uniform") for t in range(n)])
    assert stats.kstest(u, "uniform", args=(0, 2)).pvalue > 1e-3
    assert abs(u.mean() - 1) < 5 * np.sqrt(1 / 3 / n)


# ---- non-finite gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_gradient_skips_every_tensor(rng, bad, dtype):
    x = make(rng, dtype, [(5,), (300001,), (2, 3)])
    g = make(rng, dtype, [a.shape for a in x])
    D = make(rng, dtype, [a.shape for a in x])
    g[1][299999] = bad  # late in a large tensor: the first ones must not have been written
    before = [a.copy() for a in x + D]
    res = homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.9, seed=5, step=9)
    assert res.found_inf and not res.applied
    assert res.s == homotopt.o2nc_scale(5, 9)
    for a, b in zip(x + D, before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"grads\[1\]: non-finite gradient -?(nan|inf) at element 299999; no tensor "
                                         r"was updated"):
        homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.9, seed=5, step=9, nan_policy="raise")
    for a, b in zip(x + D, before):
        np.testing.assert_array_equal(a, b)
    # check_finite=False trusts the caller: the step is applied and the non-finite value propagates.
    res = homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.9, seed=5, step=9, check_finite=False)
    assert not res.found_inf and not np.isfinite(D[1][299999])
    np.testing.assert_array_equal(np.isfinite(x[1]), np.arange(x[1].size) != 299999)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_found_anywhere(dtype, threads):
    """Every position of the finiteness pass: vector body, tail, tensor and thread boundaries."""
    sizes = [(37,), (1,), (40000,), (5,)]
    for n_threads in (1, 2):
        threads(n_threads)
        for t, size in enumerate(sizes):
            for pos in sorted({0, 1, 7, 8, 31, 32, 33, size[0] // 2, size[0] - 1} & set(range(size[0]))):
                for bad in (np.nan, np.inf):
                    g = [np.zeros(s, dtype) for s in sizes]
                    g[t][pos] = bad
                    x = [np.zeros(s, dtype) for s in sizes]
                    D = [np.zeros(s, dtype) for s in sizes]
                    assert homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.9, seed=0, step=0).found_inf, (t, pos)


def test_huge_finite_gradients_are_not_flagged():
    x, g, D = [np.zeros(3, np.float32)], [np.full(3, np.finfo(np.float32).max)], [np.zeros(3, np.float32)]
    assert not homotopt.o2nc_update(x, g, D, lr=0.5, beta=0.5, seed=0, step=0).found_inf


# ---- edge cases that are not errors -------------------------------------------------------------------------
def test_empty_lists_and_zero_size_tensors(rng):
    assert not homotopt.o2nc_update([], [], [], lr=0.1, beta=0.9, seed=0, step=0).found_inf
    x = [np.zeros(0), rng.standard_normal(4), np.zeros((3, 0))]
    g = [np.zeros(0), np.ones(4), np.zeros((3, 0))]
    D = [np.zeros(0), np.zeros(4), np.zeros((3, 0))]
    x1 = x[1].copy()
    res = homotopt.o2nc_update(x, g, D, lr=0.1, beta=0.5, s=2.0, seed=0, step=0)
    np.testing.assert_allclose(D[1], -0.05)
    np.testing.assert_allclose(x[1], x1 - 0.1)
    assert res.s == 2.0


def test_shared_and_read_only_grads_are_fine(rng):
    g = rng.standard_normal(6)
    g.flags.writeable = False
    x = [rng.standard_normal(6), rng.standard_normal(6)]
    D = [np.zeros(6), np.zeros(6)]
    homotopt.o2nc_update(x, [g, g], D, lr=0.1, beta=0.9, s=1.0, seed=0, step=0)
    np.testing.assert_array_equal(D[0], D[1])


# ---- the NumPy optimizer -------------------------------------------------------------------------------------
def test_optimizer_is_the_sequence_of_updates(rng):
    x = make(rng, np.float32, [(10,), (3, 4)])
    x_manual = [a.copy() for a in x]
    D_manual = [np.zeros_like(a) for a in x]
    opt = homotopt.ExpO2NC(x, lr=0.1, beta=0.9, mu=0.1, weight_decay=0.01, seed=42)
    for step in range(5):
        g = make(rng, np.float32, [a.shape for a in x])
        res = opt.step(g)
        ref = homotopt.o2nc_update(x_manual, g, D_manual, lr=0.1, beta=0.9, mu=0.1, weight_decay=0.01,
                                   seed=42, step=step)
        assert res == ref
    assert opt.step_count == 5
    for a, b in zip(x + opt.buffers, x_manual + D_manual):
        np.testing.assert_array_equal(a, b)


def test_optimizer_resumes_bit_for_bit(rng):
    shapes = [(7,), (2, 5)]
    grads = [make(rng, np.float64, shapes) for _ in range(8)]
    x = make(rng, np.float64, shapes)
    opt = homotopt.ExpO2NC(x, lr=0.05, beta=0.95, seed=9)
    for g in grads[:3]:
        opt.step(g)
    saved, x_saved = opt.state_dict(), [a.copy() for a in x]
    for g in grads[3:]:
        opt.step(g)
    x2 = [a.copy() for a in x_saved]
    opt2 = homotopt.ExpO2NC(x2, lr=1.0, beta=0.5)  # settings come from the state_dict
    opt2.load_state_dict(saved)
    for g in grads[3:]:
        opt2.step(g)
    for a, b in zip(x + opt.buffers, x2 + opt2.buffers):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"buffers\[1\]: expected shape \(5, 2\) and dtype float64, got \(2, 5\)"):
        homotopt.ExpO2NC([np.zeros(7), np.zeros((5, 2))], lr=0.1, beta=0.9).load_state_dict(saved)


def test_optimizer_skipped_step_does_not_count(rng):
    x = [rng.standard_normal(4)]
    opt = homotopt.ExpO2NC(x, lr=0.1, beta=0.9, seed=1)
    assert opt.step([np.array([1.0, np.nan, 0.0, 0.0])]).found_inf
    assert opt.step_count == 0
    assert opt.step([np.ones(4)]).s == homotopt.o2nc_scale(1, 0)
    assert opt.step_count == 1
