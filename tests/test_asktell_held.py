"""homotopt.ProgPowerHP on torch tensors: the caller-held form (means, samples and gradients on the
tensors' device; asktell.hpp) against the NumPy route on the same settings: the same samples bit for
bit, the same weights, and trajectories equal to float64 rounding (the direction's sums run in
another order). CPU tensors here; tests/test_cuda.py's twin runs the same on a GPU."""

import math

import numpy as np
import pytest

import homotopt

torch = pytest.importorskip("torch")


def objective(W, shift):
    """Rastrigin-like per pair: values (..., K, J) and gradients (..., K, J, d) on J shifted copies."""
    X = W[..., :, None, :] - shift  # (..., K, J, d)
    v = (X ** 2 - np.cos(3 * X) if isinstance(X, np.ndarray) else X ** 2 - torch.cos(3 * X)).sum(-1)
    g = 2 * X + (3 * np.sin(3 * X) if isinstance(X, np.ndarray) else 3 * torch.sin(3 * X))
    return v, g


SETTINGS = [
    dict(),
    dict(runs=3, maximize=False, scale_free=True, step_rule="sigma"),
    dict(runs=2, bounds=(-0.4, 0.7), bound_mode="reflect", step_rule="unit"),
    dict(bounds=(-0.5, 0.5), bound_mode="clip", step_rule="raw", maximize=False),
    dict(step_rule="mean", maximize=False),
]


def pair(kwargs, dtype=torch.float64, d=5):
    R = kwargs.get("runs")
    mu0 = np.linspace(-0.3, 0.4, d) if R is None else np.stack([np.linspace(-0.3, 0.4, d) + 0.1 * r for r in range(R)])
    common = dict(num_samples=6, power=homotopt.PowerSchedule(0.5, 0.05, 3.0), sigma=0.2, lr=0.05, seed=7)
    common.update(kwargs)
    return homotopt.ProgPowerHP(mu0, **common), homotopt.ProgPowerHP(torch.tensor(mu0, dtype=dtype), **common)


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_held_equals_numpy_route(kwargs):
    a, b = pair(kwargs)
    shift = np.array([[0.1], [-0.2], [0.05]])  # J = 3
    for t in range(12):
        Wa, Wb = a.ask(), b.ask()
        assert isinstance(Wb, torch.Tensor) and Wb.dtype == torch.float64
        if t == 0:  # the same noise, product then sum, same bounds: bit for bit from the same mu
            np.testing.assert_array_equal(Wb.numpy(), Wa)
        np.testing.assert_allclose(Wb.numpy(), Wa, rtol=1e-11, atol=1e-13)
        va, ga = objective(Wa, shift)
        vb, gb = objective(Wb, torch.from_numpy(shift))
        ea, eb = a.tell(va, ga), b.tell(vb, gb)
        np.testing.assert_allclose(eb.direction.numpy(), ea.direction, rtol=1e-12, atol=1e-14)
        assert eb.log_scale == pytest.approx(ea.log_scale, rel=1e-12) and (eb.count, eb.omitted) == (ea.count, ea.omitted)
        np.testing.assert_allclose(b.mu.numpy(), a.mu, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(b.best_mu.numpy(), a.best_mu, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(b.best_value, a.best_value, rtol=1e-12)
    assert b.step == a.step == 12 and b.evaluations == a.evaluations
    np.testing.assert_allclose(b.last()["step_norm"], a.last()["step_norm"], rtol=1e-10)


def test_weights_route_and_report():
    a, b = pair(dict(runs=2, maximize=False))
    shift = np.array([[0.0], [0.3]])
    for t in range(6):
        Wa, Wb = a.ask(), b.ask()
        va, _ = objective(Wa, shift)
        vb, _ = objective(Wb, torch.from_numpy(shift))
        pa, pb = a.weights(va), b.weights(vb)
        assert isinstance(pb, torch.Tensor) and pb.shape == vb.shape
        np.testing.assert_allclose(pb.numpy(), pa, rtol=1e-10)  # the native weights, moved to the device
        # the gradient of sum p f per sample (J summed), as one backward pass gives it
        ga = np.einsum("rkj,rkjd->rkd", pa, objective(Wa, shift)[1])
        gb = torch.einsum("rkj,rkjd->rkd", pb, objective(Wb, torch.from_numpy(shift))[1])
        a.tell(ga), b.tell(gb)
        np.testing.assert_allclose(b.mu.numpy(), a.mu, rtol=1e-11, atol=1e-13)
        if t == 3:
            va_, vb_ = np.array([1.0, 2.0]), torch.tensor([1.0, 2.0])
            np.testing.assert_array_equal(b.report(vb_), a.report(va_))
            np.testing.assert_allclose(b.best_mu.numpy(), a.best_mu, rtol=1e-11, atol=1e-13)  # reports copy mu
    with pytest.raises(ValueError, match="call weights"):
        b.tell(gb)  # this step has no weights yet


def test_float32_in_float32_out_and_state_round_trip():
    a, b = pair(dict(runs=2), dtype=torch.float32)
    shift = np.zeros((1, 1))
    for _ in range(3):
        W = b.ask()
        assert W.dtype == torch.float32
        v, g = objective(W.double(), torch.from_numpy(shift))
        b.tell(v.float(), g.float())
    assert b.mu.dtype == torch.float32 and b.best_mu.dtype == torch.float32
    _, f64 = pair(dict())
    f64.mu.add_(1.0)  # results are copies: the optimizer's means do not move with them
    assert torch.equal(f64.mu, torch.tensor(np.linspace(-0.3, 0.4, 5)))
    state = b.state_dict()
    assert isinstance(state["mu"], np.ndarray) and state["mu"].shape == (2, 5)
    _, c = pair(dict(runs=2), dtype=torch.float32)
    c.load_state_dict(state)
    for opt in (b, c):  # resumes bit for bit
        W = opt.ask()
        v, g = objective(W.double(), torch.from_numpy(shift))
        opt.tell(v, g)
    assert torch.equal(b.mu, c.mu) and torch.equal(b.best_mu, c.best_mu) and b.step == c.step


def test_nan_policy_and_non_finite_gradients():
    a, b = pair(dict())
    shift = np.zeros((2, 1))
    Wa, Wb = a.ask(), b.ask()
    va, ga = objective(Wa, shift)
    vb, gb = objective(Wb, torch.from_numpy(shift))
    gb = gb.clone()
    gb[2, 1, 3] = math.nan
    with pytest.raises(ValueError, match=r"grads: non-finite gradient at run 0, \(k, j\) = \(2, 1\)"):
        b.tell(vb, gb)
    assert b.step == 0 and b.evaluations == 0  # a rejected call changes nothing
    vb2 = vb.clone()
    vb2[4, 0] = math.nan
    with pytest.raises(ValueError, match="non-finite value"):
        b.tell(vb2, objective(Wb, torch.from_numpy(shift))[1])
    assert b.step == 0
    est = b.tell(vb, gb, nan_policy="omit")  # the pair is omitted, as the NumPy route omits it
    ga[2, 1, 3] = math.nan
    want = a.tell(va, ga, nan_policy="omit")
    assert (est.count, est.omitted) == (want.count, want.omitted) == (11, 1)
    np.testing.assert_allclose(est.direction.numpy(), want.direction, rtol=1e-12)
    np.testing.assert_allclose(b.mu.numpy(), a.mu, rtol=1e-12)
    # a NaN gradient of a pair of value -inf (fitness -inf: weight 0) is never read, as natively
    W = b.ask()
    v, g = objective(W, torch.from_numpy(shift))
    v, g = v.clone(), g.clone()
    v[0, 0], g[0, 0, 0] = -math.inf, math.nan
    assert torch.isfinite(b.tell(v, g).direction).all()


def test_wrong_shapes_name_the_argument():
    _, b = pair(dict(runs=2))
    W = b.ask()
    v, g = objective(W, torch.zeros(1, 1))
    with pytest.raises(ValueError, match=r"grads: expected shape \(K, d\) or \(K, J, d\)"):
        b.tell(v, g[..., :3])
    with pytest.raises(ValueError, match="values: expected"):
        b.tell(v[:, :4], g)
    with pytest.raises(ValueError, match=r"grads: expected shape \(K, d\)"):
        b.weights(v)
        b.tell(g[:, :, 0, :2])
