"""The fused phase-retrieval estimator against the generic path on the same Philox noise."""

import numpy as np
import pytest

import homotopt
from homotopt import reference
from homotopt.problems import PhaseRetrieval
from homotopt.random import Stream


def samples(problem, mu, sigma, K, seed, step):
    """The fused kernel's W: mu + sigma eps from the samples stream, formed in the problem's dtype."""
    W = mu.astype(np.float64) + sigma * homotopt.random.normal((K, problem.d), seed, step, stream=Stream.SAMPLES)
    return W.astype(problem.dtype)


def truth(problem, W, rows, power):
    """The estimator's direction in long double (64-bit mantissa, 2^11 times finer than float64)."""
    ld = np.longdouble
    A = (problem.A if rows is None else problem.A[rows]).astype(ld)
    y = (problem.y if rows is None else problem.y[rows]).astype(ld)
    z = W.astype(ld) @ A.T
    r = z * z - y
    a = power * -(r * r)
    w = np.exp(a - a.max())
    return ((w * (-4 * r * z)).sum(axis=0) @ A / w.sum()).astype(np.float64)


def error_bound(problem, W, rows, power):
    """First-order bound on the error of any evaluation in the problem's dtype (weights and sums in
    float64), per direction component: z = a . w within (d + 2) eps |a| |w| (the dot-product bound),
    carried through r = z^2 - y, f = -r^2 and df/dz = -4 r z, the weights exp(N f - N f_max) (relative
    error N times the error of f, for the pair and for the max) and the float64 sums."""
    eps = float(np.finfo(problem.dtype).eps)
    eps64 = float(np.finfo(np.float64).eps)
    A = (problem.A if rows is None else problem.A[rows]).astype(np.float64)
    y = (problem.y if rows is None else problem.y[rows]).astype(np.float64)
    W = W.astype(np.float64)
    z = W @ A.T
    r = z * z - y
    f, g = -(r * r), -4 * r * z
    dz = (problem.d + 2) * eps * np.outer(np.linalg.norm(W, axis=1), np.linalg.norm(A, axis=1))
    dr = 2 * np.abs(z) * dz + eps * (z * z + np.abs(r))
    df = 2 * np.abs(r) * dr + eps * np.abs(f)
    dg = 4 * (np.abs(r) * dz + np.abs(z) * dr) + 2 * eps * np.abs(g)
    a = power * f
    w = np.exp(a - a.max())
    top = np.unravel_index(np.argmax(a), a.shape)
    dw = power * (df + df[top]) + 4 * eps64  # relative error of each weight
    S = w.sum()
    absA = np.abs(A)
    terms = ((w * np.abs(g) * (dw + dw.max())) @ absA + (w * dg) @ absA) / S
    sums = (w.size + problem.d) * eps64 * ((w * np.abs(g)) @ absA) / S
    return terms.sum(axis=0) + sums.sum(axis=0)


def check_fused(problem, mu, sigma, power, K, seed, step, rows):
    """The fused result, and the generic kernel fed with the same noise and the closed-form per-pair
    gradients, both within the first-order error bound of the long-double reference."""
    fused = problem.power_gradient(mu, sigma=sigma, power=power, num_samples=K, seed=seed, step=step, rows=rows)
    W = samples(problem, mu, sigma, K, seed, step)
    exact = truth(problem, W, rows, power)
    bound = error_bound(problem, W, rows, power)
    values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
    generic = homotopt.power_gradient(values.astype(problem.dtype), grads.astype(problem.dtype), power)
    for name, got in (("fused", fused.direction), ("generic", generic.direction)):
        excess = np.abs(got - exact) / bound
        assert excess.max() <= 1.0, (name, excess.max(), np.abs(got - exact).max(), bound.max())
    assert fused.count == K * (problem.n if rows is None else len(rows))
    return fused, generic


CASES = [  # d, n, K, J (None: all rows)
    (1, 1, 1, None), (1, 5, 1, 1), (3, 10, 1, None), (20, 60, 8, 8), (100, 400, 10, None),
    (100, 400, 8, 16), (37, 50, 5, 77), (257, 31, 3, None),
    # panel widths and padding of the micro-kernel: K around 4, 8, 16; rows around blocks of 12
    (7, 25, 17, None), (64, 13, 16, 5), (33, 40, 9, 12), (5, 11, 4, 13), (600, 30, 33, None),
]


@pytest.mark.parametrize("d,n,K,J", CASES)
@pytest.mark.parametrize("power", [0.0, 1.0, 1e4])
def test_fused_float64(rng, d, n, K, J, power):
    problem = PhaseRetrieval.random(d, n, seed=int(rng.integers(2**32)))
    mu = rng.standard_normal(d)
    rows = None if J is None else rng.integers(0, n, J)
    fused, generic = check_fused(problem, mu, 0.3, power, K, int(rng.integers(2**63)), int(rng.integers(2**32)), rows)
    assert fused.log_scale == pytest.approx(generic.log_scale, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("d,n,K,J", CASES)
def test_fused_float32(rng, d, n, K, J):
    problem = PhaseRetrieval.random(d, n, seed=int(rng.integers(2**32)), dtype=np.float32)
    mu = rng.standard_normal(d).astype(np.float32)
    rows = None if J is None else rng.integers(0, n, J)
    fused, generic = check_fused(problem, mu, 0.3, 1.0, K, 1, 2, rows)
    assert fused.direction.dtype == np.float32
    assert fused.log_scale == pytest.approx(generic.log_scale, rel=1e-3, abs=1e-3)


def test_rows_select_the_minibatch(rng):
    problem = PhaseRetrieval.random(10, 30, seed=3)
    mu = rng.standard_normal(10)
    rows = np.arange(30)
    a = problem.power_gradient(mu, sigma=0.1, power=2.0, num_samples=4, seed=5, rows=rows)
    b = problem.power_gradient(mu, sigma=0.1, power=2.0, num_samples=4, seed=5)
    np.testing.assert_array_equal(a.direction, b.direction)
    check_fused(problem, mu, 0.1, 2.0, 4, 5, 0, np.array([4, 4, 9]))


def test_huge_power_keeps_a_finite_direction():
    """N = 1e14: every exp(N f) underflows float64 and the direction is as exact as the conditioning
    allows. Fixed data, chosen near the solution (|f| ~ 1e-8, so N f ~ -1e6 for every pair and the
    error bound stays tight); random data could put one pair's N f above -745."""
    problem = PhaseRetrieval.random(20, 60, seed=1)
    mu = problem.x_true + 1e-4 * homotopt.random.normal(20, 99)
    fused, _ = check_fused(problem, mu, 1e-5, 1e14, 8, 0, 0, np.arange(4))
    assert fused.log_mean_exp < -745  # every exp(N f) underflows float64
    assert np.all(np.isfinite(fused.direction)) and np.any(fused.direction != 0)


def test_tiny_sigma_is_the_gradient_at_mu(rng):
    problem = PhaseRetrieval.random(15, 40, seed=2)
    mu = rng.standard_normal(15)
    res = problem.power_gradient(mu, sigma=1e-12, power=1e-3, num_samples=3, seed=0)
    values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, mu[None, :])
    # With sigma -> 0 all K samples sit at mu: the weights are the rows' softmax and K drops out.
    np.testing.assert_allclose(res.direction, reference.power_gradient(values, grads, 1e-3)["direction"],
                               rtol=1e-8)


def test_thread_count_changes_only_rounding(rng, threads):
    problem = PhaseRetrieval.random(64, 3000, seed=4)
    mu = rng.standard_normal(64)
    threads(1)
    one = problem.power_gradient(mu, sigma=0.2, power=1.0, num_samples=16, seed=1)
    threads(2)
    two = problem.power_gradient(mu, sigma=0.2, power=1.0, num_samples=16, seed=1)
    np.testing.assert_allclose(one.direction, two.direction, rtol=0, atol=1e-13 * np.abs(one.direction).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fitness_and_metric(rng, dtype):
    problem = PhaseRetrieval.random(12, 50, seed=6, dtype=dtype)
    mu = rng.standard_normal((4, 12)).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(problem.fitness(mu), reference.phase_retrieval_fitness(problem.A, problem.y, mu),
                               rtol=rtol)
    assert problem.fitness(mu[1]) == pytest.approx(problem.fitness(mu)[1], rel=rtol)
    np.testing.assert_allclose(problem.metric(mu), reference.phase_retrieval_metric(problem.x_true, mu), rtol=1e-12)
    x = problem.x_true.astype(dtype)
    assert problem.metric(-x) < 1e-6 and problem.fitness(x) > -1e-8


def test_random_problem_is_reproducible_and_follows_the_protocol():
    a, b = PhaseRetrieval.random(30, 90, seed=7), PhaseRetrieval.random(30, 90, seed=7)
    np.testing.assert_array_equal(a.A, b.A)
    assert np.linalg.norm(a.x_true) == pytest.approx(1.0)
    np.testing.assert_allclose(a.y, (a.A @ a.x_true) ** 2, rtol=1e-14)
    assert not np.array_equal(a.A, PhaseRetrieval.random(30, 90, seed=8).A)


P = PhaseRetrieval.random(4, 6, seed=0)
MU = np.zeros(4)
KW = dict(sigma=0.1, power=1.0, num_samples=2, seed=0)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: P.power_gradient(MU, **(KW | dict(sigma=0.0))), ValueError, "sigma"),
    (lambda: P.power_gradient(MU, **(KW | dict(sigma=np.nan))), ValueError, "sigma"),
    (lambda: P.power_gradient(MU, **(KW | dict(power=-1.0))), ValueError, "power"),
    (lambda: P.power_gradient(MU, **(KW | dict(num_samples=0))), ValueError, "num_samples"),
    (lambda: P.power_gradient(MU, **KW, rows=[0, 6]), ValueError, r"rows: expected row indices in \[0, n\)"),
    (lambda: P.power_gradient(MU, **KW, rows=[-1]), ValueError, "rows"),
    (lambda: P.power_gradient(MU, **KW, rows=[]), ValueError, "rows"),
    (lambda: P.power_gradient(MU, **KW, rows=[0.5]), TypeError, "rows"),
    (lambda: P.power_gradient(np.zeros(5), **KW), ValueError, r"mu: expected shape \(d,\)"),
    (lambda: P.power_gradient(np.zeros(4, np.float32), **KW), TypeError, "mu: expected dtype float64"),
    (lambda: P.power_gradient(np.array([0, np.nan, 0, 0]), **KW), ValueError, "mu: expected finite"),
    (lambda: P.power_gradient(MU, **(KW | dict(step=-1))), ValueError, "step"),
    (lambda: P.fitness(np.zeros((2, 3))), ValueError, "mu"),
    (lambda: PhaseRetrieval(np.zeros((3, 2)), np.zeros(2)), ValueError, "y: expected shape"),
    (lambda: PhaseRetrieval(np.zeros((3, 2)), np.zeros(3, np.float32)), TypeError, "y: expected dtype"),
    (lambda: PhaseRetrieval(np.array([[np.inf]]), np.zeros(1)), ValueError, "A: expected finite"),
    (lambda: PhaseRetrieval(np.zeros((3, 2), np.int64), np.zeros(3)), TypeError, "A: expected dtype"),
    (lambda: PhaseRetrieval(np.zeros(3), np.zeros(3)), ValueError, "A: expected shape"),
    (lambda: PhaseRetrieval(np.zeros((3, 2)), np.zeros(3)).metric(np.zeros(2)), ValueError, "x_true"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
