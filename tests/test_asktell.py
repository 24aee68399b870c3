"""Ask/tell Prog-PowerHP: equal to the runner on the same noise; both tell routes; best tracking."""

import math

import numpy as np
import pytest

import homotopt
from homotopt import _core, reference
from homotopt.problems import PhaseRetrieval
from homotopt.random import Stream

POWER = homotopt.PowerSchedule(0.5, 0.1, 3.0)
SIGMA = homotopt.SigmaSchedule(0.2, 0.95, 0.01)
LR = homotopt.LearningRate(0.05)


def runner_iterates(problem, mu0, steps, K, J, seed):
    config = dict(homotopt._run.schedule_config(POWER, SIGMA, LR), steps=steps, num_samples=K, batch_size=J, seed=seed)
    runner = _core.Runner(problem._runner_problem(), config, mu0[None, :].copy())
    out = []
    for _ in range(steps):
        runner.advance(1)
        out.append(runner.state()[0][0])
    return np.array(out)


def test_ask_tell_equals_the_runner_on_the_same_noise():
    problem = PhaseRetrieval.random(10, 25, seed=1)
    mu0 = problem.random_start(1, seed=2)[0]
    T, K, J, seed = 12, 5, 6, 3
    opt = homotopt.ProgPowerHP(mu0, num_samples=K, power=POWER, sigma=SIGMA, lr=LR, seed=seed)
    iterates = []
    for t in range(T):
        W = opt.ask()
        rows = homotopt.random.integers(problem.n, J, seed, t, stream=Stream.MINIBATCH)
        values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
        opt.tell(values, grads)
        iterates.append(opt.mu)
    # Same samples and rows; per-pair grads from NumPy versus the fused kernel: rounding only
    # (worst seen 3e-16 relative).
    np.testing.assert_allclose(np.array(iterates), runner_iterates(problem, mu0, T, K, J, seed), rtol=0, atol=1e-12)


def test_weights_route_equals_per_pair_route():
    problem = PhaseRetrieval.random(8, 20, seed=4)
    mu0 = problem.random_start(1, seed=5)[0]
    a = homotopt.ProgPowerHP(mu0, num_samples=4, power=POWER, sigma=SIGMA, lr=LR, seed=6)
    b = homotopt.ProgPowerHP(mu0, num_samples=4, power=POWER, sigma=SIGMA, lr=LR, seed=6)
    rows = np.arange(7)
    for _ in range(5):
        W = a.ask()
        np.testing.assert_allclose(b.ask(), W, rtol=0, atol=1e-13)  # mu may differ in the last bits
        values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
        est_a = a.tell(values, grads)
        p = b.weights(values)
        g = np.einsum("kj,kjd->kd", p, grads)  # what one backward pass of sum p f gives per sample
        est_b = b.tell(g)
        np.testing.assert_allclose(est_b.direction, est_a.direction, rtol=0, atol=1e-13)
        assert est_b.log_scale == pytest.approx(est_a.log_scale, rel=1e-13)
        np.testing.assert_allclose(b.mu, a.mu, rtol=0, atol=1e-13)


def test_tell_takes_values_then_grads_and_keywords_either_way():
    problem = PhaseRetrieval.random(6, 12, seed=8)
    mu0 = problem.random_start(1, seed=9)[0]
    opts = [homotopt.ProgPowerHP(mu0, num_samples=3, power=POWER, sigma=SIGMA, lr=LR, seed=2) for _ in range(3)]
    W = opts[0].ask()
    values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, np.arange(5))
    a = opts[0].tell(values, grads)
    b = opts[1].tell(grads=grads, values=values)
    c = opts[2].tell(values=values, grads=grads)
    for other in (b, c):
        np.testing.assert_array_equal(other.direction, a.direction)
    np.testing.assert_array_equal(opts[1].mu, opts[0].mu)
    np.testing.assert_array_equal(opts[2].mu, opts[0].mu)


def test_weights_count_is_the_native_count():
    opt = homotopt.ProgPowerHP(np.zeros(2), num_samples=3, power=1.0, sigma=0.1, lr=0.1)
    opt.weights(np.array([0.5, np.nan, -np.inf]), nan_policy="omit")
    assert opt._pending_weights[2] == 2  # NaN omitted; -inf counted with weight 0


def test_schedules_at_step_are_value_at():
    opt = homotopt.ProgPowerHP(np.zeros(2), num_samples=2, power=POWER, sigma=SIGMA, lr=LR)
    for _ in range(3):
        opt.tell(np.zeros(2), np.ones((2, 2)))
    assert (opt.power, opt.sigma, opt.lr) == (POWER.values(4)[3], SIGMA.values(4)[3], LR.values(4)[3])


def test_samples_are_the_documented_stream():
    mu0 = np.array([1.0, -2.0, 0.5])
    opt = homotopt.ProgPowerHP(mu0, num_samples=3, power=1.0, sigma=0.25, lr=0.1, seed=9)
    eps = homotopt.random.normal((3, 3), 9, 0, stream=Stream.SAMPLES)
    np.testing.assert_array_equal(opt.ask(), mu0 + 0.25 * eps)
    assert opt.power == 1.0 and opt.sigma == 0.25 and opt.lr == 0.1


def test_best_tracking():
    opt = homotopt.ProgPowerHP(np.zeros(2), num_samples=2, power=1.0, sigma=0.1, lr=0.1)
    assert opt.report(-3.0)
    W = opt.ask()
    opt.tell(np.zeros(2), np.ones((2, 2)))
    assert not opt.report(-5.0) and not opt.report(math.nan)
    np.testing.assert_array_equal(opt.best_mu, np.zeros(2))
    assert opt.report(-1.0) and opt.best_step == 1 and opt.best_value == -1.0
    np.testing.assert_array_equal(opt.best_mu, opt.mu)
    assert W.shape == (2, 2) and "ProgPowerHP" in repr(opt)


def test_torch_one_backward_pass():
    torch = pytest.importorskip("torch")
    problem = PhaseRetrieval.random(6, 15, seed=7)
    A, y = torch.from_numpy(problem.A), torch.from_numpy(problem.y)
    opt = homotopt.ProgPowerHP(problem.random_start(1, seed=0)[0], num_samples=4, power=1.0, sigma=0.1, lr=0.05)
    for _ in range(3):
        W = torch.from_numpy(opt.ask()).requires_grad_(True)
        f = -(((W @ A.T) ** 2 - y) ** 2)                      # (K, J) fitness values
        p = opt.weights(f.detach().numpy())
        (torch.from_numpy(p) * f).sum().backward()
        ref = opt.mu
        values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W.detach().numpy())
        expected = reference.power_gradient(values, grads, 1.0)["direction"]
        est = opt.tell(W.grad.numpy())
        np.testing.assert_allclose(est.direction, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(opt.mu, ref + 0.05 * 1.0 * expected, rtol=1e-12)


@pytest.mark.parametrize("call,exc,match", [
    (lambda o: o.tell(np.zeros((3, 2))), ValueError, "call weights"),
    (lambda o: (o.weights(np.zeros(3)), o.tell(np.zeros((2, 2))))[1], ValueError, r"grads: expected shape \(K, d\)"),
    (lambda o: o.weights(np.zeros(4)), ValueError, "K = 3"),
    (lambda o: o.tell(np.zeros(2), np.zeros((3, 2))), ValueError, "values: expected K = 3"),
    (lambda o: o.report("good"), TypeError, "value"),
    (lambda o: o.tell(), TypeError, "tell: expected grads"),
])
def test_bad_input(call, exc, match):
    opt = homotopt.ProgPowerHP(np.zeros(2), num_samples=3, power=1.0, sigma=0.1, lr=0.1)
    with pytest.raises(exc, match=match):
        call(opt)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(mu0=np.zeros((2, 2))), ValueError, "mu0"),
    (dict(mu0=np.array([np.inf])), ValueError, "mu0"),
    (dict(num_samples=0), ValueError, "num_samples"),
    (dict(step_rule="fast"), ValueError, "step_rule"),
    (dict(sigma=-1.0), ValueError, "sigma"),
])
def test_bad_construction(kwargs, exc, match):
    args = dict(mu0=np.zeros(2), num_samples=2, power=1.0, sigma=0.1, lr=0.1) | kwargs
    mu0 = args.pop("mu0")
    with pytest.raises(exc, match=match):
        homotopt.ProgPowerHP(mu0, **args)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_tell_at_large_power_returns_the_literal_gradient_without_overflow_errors(lib):
    """log_scale = log N + log mean exp(N f) beyond 709.8 (exp overflows): tell returns, the direction is
    finite and the literal gradient is +-inf where the direction is nonzero (0 where it is 0), as
    power_gradient gives it; very negative N f underflows it to 0 instead."""
    if lib == "torch":
        torch = pytest.importorskip("torch")
        arr = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    else:
        arr = lambda x: np.asarray(x, dtype=np.float64)  # noqa: E731
    opt = homotopt.ProgPowerHP(arr(np.zeros(3)), num_samples=4, power=1000.0, sigma=0.1, lr=1e-6)
    g = arr([[1.0, -2.0, 0.0]] * 4)
    opt.ask()
    est = opt.tell(arr(np.ones(4)), g)
    want = homotopt.power_gradient(np.ones(4), np.array([[1.0, -2.0, 0.0]] * 4), 1000.0)
    assert est.log_scale == pytest.approx(want.log_scale) and est.log_scale > 1000
    assert np.asarray(est.gradient).tolist() == [np.inf, -np.inf, 0.0] == want.gradient.tolist()
    opt.ask()
    est = opt.tell(arr(-3 * np.ones(4)), g)
    assert est.log_scale < -2900 and not np.any(np.asarray(est.gradient))
