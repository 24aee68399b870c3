"""homotopt.torch.ProgPowerHP against a float64 reference built from explicit per-pair autograd
(tests/_torch_powerhp_ref.py) on a small MLP and a CNN, its limits, and the vectorized path."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import homotopt  # noqa: E402
from homotopt.torch import ProgPowerHP  # noqa: E402

from _torch_powerhp_ref import cnn, data, flat, losses, mlp, reference_step  # noqa: E402

MODELS = {"mlp": mlp, "cnn": cnn}


def run_step(model, x, y, **kw):
    opt = ProgPowerHP(model.parameters(), **kw)
    opt.step(lambda: losses(model, x, y))
    return opt


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("K", [1, 3, 8])
@pytest.mark.parametrize("J", [1, 16])
def test_matches_reference(kind, K, J, rng):
    seed = int(rng.integers(2**32))
    model = MODELS[kind](seed % 1000)
    x, y = data(kind, J, seed)
    maximize = bool(seed % 2)
    rule = ["log", "raw", "unit"][seed % 3]
    kw = dict(num_samples=K, power=0.7, sigma=0.05, lr=0.01, step_rule=rule, seed=seed, maximize=maximize)
    want = reference_step(model, x, y, K=K, seed=seed, t=0, power=0.7, sigma=0.05, alpha=0.01, rule=rule,
                          maximize=maximize)
    run_step(model, x, y, **kw)
    # float64 throughout; worst relative error seen ~1e-15 (sums of K J terms in another order)
    np.testing.assert_allclose(flat(model), want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("scale", [1e6, -1e6])
def test_extreme_power_times_fitness(maximize, scale, rng):
    """N f from about -1e6 to +1e6: exp(N f) is never formed, the direction stays exact."""
    seed = int(rng.integers(2**32))
    model = mlp(seed % 1000)
    x, y = data("mlp", 16, seed)
    mul = scale if maximize else -scale  # the closure returns mul * loss: f = +-1e6-scale values
    N = 1.0

    def fn(call, xx, yy):
        return mul * (call(xx).squeeze(-1) - yy) ** 2

    import _torch_powerhp_ref as R
    mu = flat(model)
    eps = homotopt.random.normal((3, mu.size), seed, 0, stream=homotopt.random.Stream.SAMPLES)
    values, grads = R.pairs(model, mu, eps, np.full(mu.size, 0.05), x, y, maximize, fn)
    assert np.abs(values).max() > 1e4
    est = homotopt.reference.power_gradient(values, grads, N)
    want = mu + 1e-9 * N * est["direction"]
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=N, sigma=0.05, lr=1e-9, seed=seed, maximize=maximize)
    opt.step(lambda: mul * losses(model, x, y))
    got = flat(model)
    assert np.all(np.isfinite(got))
    # the step is one softmax-dominated gradient of size ~1e6 times 1e-9; float64 rounding of the large values
    np.testing.assert_allclose(got - mu, want - mu, rtol=1e-8, atol=1e-15)


def test_param_groups_own_schedules(rng):
    seed = int(rng.integers(2**32))
    model = mlp(seed % 1000)
    x, y = data("mlp", 16, seed)
    first, last = model[0], model[2]
    na = sum(p.numel() for p in first.parameters())
    nb = sum(p.numel() for p in last.parameters())
    opt = ProgPowerHP([dict(params=first.parameters(), power=2.0, sigma=0.1, lr=0.02),
                       dict(params=last.parameters())], num_samples=4, power=0.5, sigma=0.03, lr=0.01, seed=seed)
    want = reference_step(model, x, y, K=4, seed=seed, t=0, power=None, sigma=None, alpha=None,
                          groups=[(na, 2.0, 0.1, 0.02), (nb, 0.5, 0.03, 0.01)])
    opt.step(lambda: losses(model, x, y))
    np.testing.assert_allclose(flat(model), want, rtol=1e-11, atol=1e-13)


def test_two_steps_follow_schedules(rng):
    seed = int(rng.integers(2**32))
    model = mlp(seed % 1000)
    x, y = data("mlp", 8, seed)
    P = homotopt.PowerSchedule(0.5, 0.25)
    S = homotopt.SigmaSchedule(0.1, 0.5)
    L = homotopt.LearningRate(0.02, gamma=0.1)
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=P, sigma=S, lr=L, seed=seed)
    for t in range(2):
        N, sigma, alpha = opt.schedules()[0]
        assert (N, sigma, alpha) == (P.values(t + 1)[t], S.values(t + 1)[t], L.values(t + 1)[t])
        want = reference_step(model, x, y, K=2, seed=seed, t=t, power=N, sigma=sigma, alpha=alpha)
        opt.step(lambda: losses(model, x, y))
        np.testing.assert_allclose(flat(model), want, rtol=1e-11, atol=1e-13)


def test_small_power_is_sgd_on_the_mean_loss(rng):
    """N -> 0 with lr = lr_sgd / N and sigma -> 0: the step is SGD's on the mean loss."""
    model = mlp(int(rng.integers(1000)))
    x, y = data("mlp", 16, int(rng.integers(1000)))
    sgd_model = mlp(0)
    sgd_model.load_state_dict(model.state_dict())
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=0.1)
    losses(sgd_model, x, y).mean().backward()
    sgd.step()
    N = 1e-9
    run_step(model, x, y, num_samples=3, power=N, sigma=1e-12, lr=0.1 / N, seed=5)
    # errors O(N f) from the weights and O(sigma) from the samples: ~1e-9 relative
    np.testing.assert_allclose(flat(model), flat(sgd_model), rtol=1e-7, atol=1e-9)


def test_small_sigma_is_the_tilted_gradient_at_mu(rng):
    """sigma -> 0: every sample is mu; the direction is the softmax(N f)-weighted gradient at mu."""
    seed = int(rng.integers(2**32))
    model = mlp(seed % 1000)
    x, y = data("mlp", 16, seed)
    want = reference_step(model, x, y, K=1, seed=seed, t=0, power=3.0, sigma=0.0, alpha=0.01)
    run_step(model, x, y, num_samples=4, power=3.0, sigma=1e-13, lr=0.01, seed=seed)
    np.testing.assert_allclose(flat(model), want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_vectorized_equals_sample_by_sample(kind, dtype, rng):
    seed = int(rng.integers(2**32))
    a, b = MODELS[kind](seed % 1000, dtype), MODELS[kind](seed % 1000, dtype)
    x, y = data(kind, 16, seed, dtype)
    groups = lambda m: [dict(params=list(m.parameters())[:2], power=2.0), dict(params=list(m.parameters())[2:])]
    kw = dict(num_samples=5, power=0.5, sigma=0.05, lr=0.01, seed=seed)
    oa = ProgPowerHP(groups(a), **kw)
    ob = ProgPowerHP(groups(b), vectorize=True, module=b, **kw)
    for _ in range(3):
        oa.step(lambda: losses(a, x, y))
        ob.step(lambda: losses(b, x, y))
    # same noise and weights; sums in another order: float32 worst seen ~3e-7 relative
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(flat(b), flat(a), rtol=tol, atol=tol)


def test_noise_is_homotopt_philox_in_parameter_order(rng):
    """With N = 0 weights are uniform; sigma large and lr tiny: the samples are mu + sigma eps, eps =
    random.normal((K, D), seed, t, stream=SAMPLES): checked through what the closure sees."""
    model = mlp(1)
    mu = flat(model)
    seen = []
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=1.0, sigma=0.5, lr=1e-3, seed=99)

    def closure():
        seen.append(flat(model))
        return losses(model, *data("mlp", 2, 0))

    opt.step(closure)
    eps = homotopt.random.normal((3, mu.size), 99, 0, stream=homotopt.random.Stream.SAMPLES)
    np.testing.assert_allclose(np.array(seen), mu + 0.5 * eps, rtol=0, atol=1e-15)
