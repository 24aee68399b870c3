"""The CUDA backend against the CPU backend on the same inputs and seeds (skipped without a GPU).

Tolerances: float64 reductions differ from the CPU's only in the order of sums (rounding, ~1e-14
relative); float32 inputs keep float64 accumulators on both backends, so the CUDA results carry only
the float32 rounding of the output (and, for the fused estimator, of z = a . w).
"""

import numpy as np
import pytest

import homotopt
from homotopt import reference
from homotopt.problems import PhaseRetrieval

pytestmark = pytest.mark.cuda
torch = pytest.importorskip("torch")


def cuda(x):
    return torch.from_numpy(np.ascontiguousarray(x)).cuda()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, None, 1), (5, 7, 3), (31, 33, 65), (8, 16, 100), (3, 1, 2**20 + 3)])
def test_power_gradient_cuda_equals_cpu(rng, dtype, shape):
    K, J, d = shape
    vshape = (K,) if J is None else (K, J)
    values = (rng.standard_normal(vshape) * 30).astype(dtype)
    grads = rng.standard_normal(vshape + (d,)).astype(dtype)
    cpu = homotopt.power_gradient(values, grads, 2.0)
    gpu = homotopt.power_gradient(cuda(values), cuda(grads), 2.0)
    tol = 1e-12 if dtype == np.float64 else 2e-7
    np.testing.assert_allclose(gpu.direction.cpu().numpy(), cpu.direction, rtol=0, atol=tol * np.abs(cpu.direction).max())
    assert gpu.log_scale == pytest.approx(cpu.log_scale, rel=1e-12, abs=1e-12)
    assert (gpu.count, gpu.omitted) == (cpu.count, cpu.omitted)


def test_power_gradient_cuda_adversarial(rng):
    values = rng.standard_normal((6, 9)) * 1e6
    values[1, 2] = -np.inf
    grads = rng.standard_normal((6, 9, 4))
    grads[1, 2] = np.nan  # never read: weight exactly 0
    cpu = homotopt.power_gradient(values, grads, 1.0)
    gpu = homotopt.power_gradient(cuda(values), cuda(grads), 1.0)
    np.testing.assert_allclose(gpu.direction.cpu().numpy(), cpu.direction, rtol=1e-12)
    values[3, 3] = np.nan
    with pytest.raises(ValueError, match=r"\(k, j\) = \(3, 3\)"):
        homotopt.power_gradient(cuda(values), cuda(grads), 1.0)
    omit = homotopt.power_gradient(cuda(values), cuda(grads), 1.0, nan_policy="omit")
    np.testing.assert_allclose(omit.direction.cpu().numpy(),
                               homotopt.power_gradient(values, grads, 1.0, nan_policy="omit").direction, rtol=1e-12)
    grads[0, 0, 1] = np.inf
    with pytest.raises(ValueError, match="grads: non-finite gradient"):
        homotopt.power_gradient(cuda(np.nan_to_num(values, nan=0.0)), cuda(grads), 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1,), (5, 7), (64, 64), (3, 300_001)])
def test_power_weights_cuda_equals_cpu(rng, dtype, shape):
    values = (rng.standard_normal(shape) * 30).astype(dtype)
    w_cpu, lse_cpu = homotopt.power_weights(values, 2.0)
    w_gpu, lse_gpu = homotopt.power_weights(cuda(values), 2.0)
    assert isinstance(w_gpu, torch.Tensor) and w_gpu.is_cuda and w_gpu.dtype == cuda(values).dtype
    assert w_gpu.shape == values.shape
    tol = 1e-13 if dtype == np.float64 else 2e-7  # the scan's s summed in another order
    np.testing.assert_allclose(w_gpu.cpu().numpy(), w_cpu, rtol=tol, atol=0)
    assert lse_gpu == pytest.approx(lse_cpu, rel=1e-13, abs=1e-13)


def test_power_weights_cuda_adversarial(rng):
    values = rng.standard_normal((6, 9)) * 1e6
    values[1, 2] = -np.inf
    w, _ = homotopt.power_weights(cuda(values), 1.0)
    np.testing.assert_allclose(w.cpu().numpy(), homotopt.power_weights(values, 1.0)[0], rtol=1e-12, atol=0)
    assert w[1, 2] == 0
    values[3, 3] = np.nan
    with pytest.raises(ValueError, match=r"\(k, j\) = \(3, 3\)"):
        homotopt.power_weights(cuda(values), 1.0)
    omit, _ = homotopt.power_weights(cuda(values), 1.0, nan_policy="omit")
    np.testing.assert_allclose(omit.cpu().numpy(), homotopt.power_weights(values, 1.0, nan_policy="omit")[0],
                               rtol=1e-12, atol=0)
    # the limit (N f overflows): 1/T on the ties of the largest value
    top = np.array([3.0, 7.0, 7.0, -1.0])
    w, lse = homotopt.power_weights(cuda(top), 1e308)
    assert w.cpu().tolist() == [0.0, 0.5, 0.5, 0.0] and lse == np.inf
    # rejected calls write nothing and raise the CPU's message
    with pytest.raises(ValueError, match="all 2 pairs are non-finite"):
        homotopt.power_weights(cuda(np.array([np.nan, np.nan])), 1.0, nan_policy="omit")


def test_power_state_chunks_on_the_gpu(rng):
    values, grads = rng.standard_normal((20, 4)), rng.standard_normal((20, 4, 5))
    state = homotopt.PowerState(5)
    for i in range(0, 20, 6):
        state.update(cuda(values[i:i + 6]), cuda(grads[i:i + 6]), 3.0)
    np.testing.assert_allclose(state.result().direction, homotopt.power_gradient(values, grads, 3.0).direction,
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d,n,K,J", [(1, 1, 1, None), (100, 400, 10, None), (37, 50, 5, 77), (1024, 4096, 32, None)])
def test_fused_estimator_cuda_equals_cpu(dtype, d, n, K, J):
    host = PhaseRetrieval.random(d, n, seed=1, dtype=dtype)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    mu = np.random.default_rng(0).standard_normal(d).astype(dtype)
    rows = None if J is None else np.random.default_rng(1).integers(0, n, J)
    kw = dict(sigma=0.3, power=1.0, num_samples=K, seed=5, step=3)
    cpu = host.power_gradient(mu, rows=rows, **kw)
    res = gpu.power_gradient(cuda(mu), rows=None if rows is None else cuda(rows), **kw)
    tol = 1e-11 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(res.direction.cpu().numpy(), cpu.direction, rtol=0, atol=tol * np.abs(cpu.direction).max())


def test_fused_estimator_is_bitwise_reproducible():
    host = PhaseRetrieval.random(64, 3000, seed=2, dtype=np.float32)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    mu = cuda(np.ones(64, np.float32))
    a = gpu.power_gradient(mu, sigma=0.2, power=1.0, num_samples=16, seed=1).direction
    b = gpu.power_gradient(mu, sigma=0.2, power=1.0, num_samples=16, seed=1).direction
    assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_runner_cuda_follows_the_cpu_trajectory(dtype):
    host = PhaseRetrieval.random(20, 60, seed=0, dtype=dtype, trials=8)
    mu0 = host.random_start(8, seed=1)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y), host.x_true)
    kw = dict(steps=500, num_samples=8, batch_size=8, power=homotopt.PowerSchedule(0.01, 1e-3, 1.0),
              sigma=homotopt.SigmaSchedule(0.5, 0.99), lr=homotopt.LearningRate(1.0), eval_every=50, progress=False)
    cpu_res, gpu_res = homotopt.prog_powerhp(host, mu0, **kw), homotopt.prog_powerhp(gpu, mu0, **kw)
    # The same noise and rows; sums in another order. Over 500 steps the trajectories stay within
    # 1e-8 (float64) / 1e-3 (float32) relative: the runner's iterates are rounded to the dtype each step.
    tol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(gpu_res.final_mu, cpu_res.final_mu, rtol=0, atol=tol * np.abs(cpu_res.final_mu).max())
    np.testing.assert_array_equal(gpu_res.history.step, cpu_res.history.step)
    again = homotopt.prog_powerhp(gpu, mu0, **kw)
    np.testing.assert_array_equal(again.final_mu, gpu_res.final_mu)  # run-to-run bitwise


def test_mixed_devices_are_an_error():
    host = PhaseRetrieval.random(4, 10, seed=0)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    with pytest.raises(ValueError, match="GPU arrays"):
        gpu.power_gradient(np.zeros(4), sigma=0.1, power=1.0, num_samples=2, seed=0)
    with pytest.raises(ValueError, match="rows"):
        gpu.power_gradient(cuda(np.zeros(4)), sigma=0.1, power=1.0, num_samples=2, seed=0, rows=cuda(np.array([0, 99])))


def test_cupy_arrays_pass_without_copies(rng):
    cupy = pytest.importorskip("cupy")
    values, grads = rng.standard_normal((5, 7)) * 10, rng.standard_normal((5, 7, 3))
    res = homotopt.power_gradient(cupy.asarray(values), cupy.asarray(grads), 2.0)
    assert isinstance(res.direction, cupy.ndarray)  # the outputs come back in the caller's library
    np.testing.assert_allclose(cupy.asnumpy(res.direction), homotopt.power_gradient(values, grads, 2.0).direction,
                               rtol=1e-12)


def test_jax_arrays_are_read_through_dlpack(monkeypatch):
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave the GPU's memory to the others
    jnp = pytest.importorskip("jax.numpy")
    host = PhaseRetrieval.random(8, 24, seed=3, dtype=np.float32, trials=2)  # JAX is float32 unless told
    mu0 = host.random_start(2, seed=4)
    on_gpu = PhaseRetrieval(jnp.asarray(host.A), jnp.asarray(host.y), host.x_true)
    kw = dict(steps=50, num_samples=4, batch_size=6, power=1.0, sigma=0.1, lr=0.1, progress=False)
    cpu = homotopt.prog_powerhp(host, mu0, **kw).final_mu
    np.testing.assert_allclose(homotopt.prog_powerhp(on_gpu, mu0, **kw).final_mu, cpu, rtol=0,
                               atol=1e-3 * np.abs(cpu).max())
    one = PhaseRetrieval(jnp.asarray(host.A[0]), jnp.asarray(host.y[0]))
    with pytest.raises(TypeError, match="torch.from_dlpack or cupy.asarray"):  # JAX arrays cannot be outputs
        one.power_gradient(jnp.zeros(8, dtype=jnp.float32), sigma=0.1, power=1.0, num_samples=2, seed=0)


# Issue 13 item 3: N f overflowing float64 gives the N -> infinity limit on the GPU as on the CPU.
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_power_gradient_cuda_limit(rng, sign):
    values = sign * (1e10 + rng.integers(0, 50, (700, 3)).astype(np.float64))  # many ties across blocks
    values[5, 1] = -np.inf
    grads = rng.standard_normal((700, 3, 300))
    cpu = homotopt.power_gradient(values, grads, 1e300)
    gpu = homotopt.power_gradient(cuda(values), cuda(grads), 1e300)
    assert gpu.log_scale == cpu.log_scale == sign * np.inf
    np.testing.assert_allclose(gpu.direction.cpu().numpy(), cpu.direction, rtol=0, atol=1e-12)
    state = homotopt.PowerState(300)
    for i in range(0, 700, 250):
        state.update(cuda(values[i:i + 250]), cuda(grads[i:i + 250]), 1e300)
    np.testing.assert_allclose(state.result().direction, cpu.direction, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_estimator_and_runner_cuda_limit(dtype):
    host = PhaseRetrieval.random(6, 300, seed=3, dtype=dtype)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    mu = (100 * host.random_start(1, seed=4)[0]).astype(dtype)  # f ~ -1e5: N f = -inf for every pair
    kw = dict(sigma=0.3, power=1e308, num_samples=9, seed=5, step=1)
    cpu = host.power_gradient(mu, **kw)
    res = gpu.power_gradient(cuda(mu), **kw)
    assert res.log_scale == cpu.log_scale == -np.inf
    tol = 1e-11 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(res.direction.cpu().numpy(), cpu.direction, rtol=0, atol=tol * np.abs(cpu.direction).max())
    host_r = PhaseRetrieval.random(6, 40, seed=0, dtype=dtype, trials=2)
    gpu_r = PhaseRetrieval(cuda(host_r.A), cuda(host_r.y), host_r.x_true)
    mu0 = 100 * host_r.random_start(2, seed=1)
    run = dict(steps=5, num_samples=4, batch_size=5, power=homotopt.PowerSchedule(1e308), step_rule="unit",
               sigma=homotopt.SigmaSchedule(0.3), lr=homotopt.LearningRate(0.5), eval_every=5, progress=False)
    a, b = homotopt.prog_powerhp(host_r, mu0, **run), homotopt.prog_powerhp(gpu_r, mu0, **run)
    assert np.all(np.isfinite(a.final_mu)) and np.any(a.final_mu != mu0)
    np.testing.assert_allclose(b.final_mu, a.final_mu, rtol=0, atol=tol * np.abs(a.final_mu).max())


@pytest.mark.parametrize("kwargs", [dict(), dict(runs=3, maximize=False, scale_free=True, step_rule="sigma"),
                                    dict(runs=2, bounds=(-0.4, 0.7), bound_mode="reflect", step_rule="unit")])
def test_asktell_on_cuda_tensors_equals_numpy(kwargs):
    """The caller-held form on CUDA tensors (tests/test_asktell_held.py on the CPU): samples, means and
    estimates stay on the GPU and follow the NumPy route to float64 rounding."""
    R = kwargs.get("runs")
    mu0 = np.linspace(-0.3, 0.4, 5) if R is None else np.stack([np.linspace(-0.3, 0.4, 5) + 0.1 * r for r in range(R)])
    common = dict(num_samples=6, power=homotopt.PowerSchedule(0.5, 0.05, 3.0), sigma=0.2, lr=0.05, seed=7, **kwargs)
    a, b = homotopt.ProgPowerHP(mu0, **common), homotopt.ProgPowerHP(cuda(mu0), **common)
    shift = np.array([[0.1], [-0.2]])
    for t in range(8):
        Wa, Wb = a.ask(), b.ask()
        assert Wb.is_cuda
        if t == 0:
            np.testing.assert_array_equal(Wb.cpu().numpy(), Wa)  # the device Philox, product then sum
        Xa, Xb = Wa[..., :, None, :] - shift, Wb[..., :, None, :] - cuda(shift)
        ea = a.tell((Xa ** 2).sum(-1), 2 * Xa)
        eb = b.tell((Xb ** 2).sum(-1), 2 * Xb)
        assert eb.direction.is_cuda and b.mu.is_cuda and b.best_mu.is_cuda
        np.testing.assert_allclose(eb.direction.cpu().numpy(), ea.direction, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(b.mu.cpu().numpy(), a.mu, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(b.best_mu.cpu().numpy(), a.best_mu, rtol=1e-11, atol=1e-13)
