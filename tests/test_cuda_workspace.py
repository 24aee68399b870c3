"""The CUDA entry points' per-call structure (issue 15): the workspace kept per (device, stream), the
one-shot power gradient written on the device, rejected calls writing nothing (skipped without a GPU).

Bitwise claims: the one-shot result and PowerState.update + result() divide the same u by the same s
(IEEE division on both sides), so their directions are equal bit for bit; results do not depend on
what earlier calls left in the workspace, nor on other threads using the same stream.
"""

import threading

import numpy as np
import pytest

import homotopt
from homotopt import _core, _device
from homotopt.problems import PhaseRetrieval

pytestmark = pytest.mark.cuda
torch = pytest.importorskip("torch")


def cuda(x):
    return torch.from_numpy(np.ascontiguousarray(x)).cuda()


def pair(rng, K, J, d, dtype=np.float64):
    return (rng.standard_normal((K, J)) * 3).astype(dtype), rng.standard_normal((K, J, d)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_shot_equals_the_host_state_bitwise(rng, dtype):
    values, grads = pair(rng, 9, 13, 700, dtype)
    one = homotopt.power_gradient(cuda(values), cuda(grads), 2.0)
    state = homotopt.PowerState(700, dtype=dtype).update(cuda(values), cuda(grads), 2.0).result()
    np.testing.assert_array_equal(one.direction.cpu().numpy(), state.direction.astype(dtype))
    assert one.log_scale == state.log_scale and one.count == state.count == 9 * 13
    # The literal gradient exp(log_scale + log|d|): the device's exp and log against the host's, each
    # within an ulp, so a few ulps of the sum (|sum| < 30 here) and one float32 rounding apart at most.
    np.testing.assert_allclose(one.gradient.cpu().numpy(), state.gradient.astype(dtype),
                               rtol=1e-13 if dtype == np.float64 else 2.5e-7, atol=0)


def test_literal_gradient_on_the_device_matches_the_cpu(rng):
    values, grads = pair(rng, 6, 5, 257)
    cpu = homotopt.power_gradient(values, grads, 0.5)
    gpu = homotopt.power_gradient(cuda(values), cuda(grads), 0.5)
    np.testing.assert_allclose(gpu.gradient.cpu().numpy(), cpu.gradient, rtol=1e-12)
    assert gpu.log_scale == pytest.approx(cpu.log_scale, rel=1e-14)


def test_results_do_not_depend_on_the_workspace_history(rng):
    small, large = pair(rng, 3, 4, 5), pair(rng, 40, 70, 3000)
    first = homotopt.power_gradient(cuda(small[0]), cuda(small[1]), 1.0).direction.clone()
    homotopt.power_gradient(cuda(large[0]), cuda(large[1]), 1.0)  # grows the workspace
    again = homotopt.power_gradient(cuda(small[0]), cuda(small[1]), 1.0).direction
    assert torch.equal(first, again)
    assert torch.equal(homotopt.power_gradient(cuda(large[0]), cuda(large[1]), 1.0).direction,
                       homotopt.power_gradient(cuda(large[0]), cuda(large[1]), 1.0).direction)


def test_threads_sharing_a_stream_get_their_own_results(rng):
    inputs = [pair(rng, 8, 16, 1000 + 37 * i) for i in range(6)]
    on_gpu = [(cuda(v), cuda(g)) for v, g in inputs]
    expected = [homotopt.power_gradient(v, g, 3.0).direction.cpu() for v, g in on_gpu]
    got: dict[int, list] = {}

    def worker(i):
        got[i] = [homotopt.power_gradient(*on_gpu[j % 6], 3.0).direction.cpu() for j in range(i, i + 12)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for k, j in enumerate(range(i, i + 12)):
            assert torch.equal(got[i][k], expected[j % 6])


def test_other_streams_have_their_own_workspace(rng):
    values, grads = pair(rng, 16, 16, 4096)
    ref = homotopt.power_gradient(cuda(values), cuda(grads), 1.0).direction.cpu()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        v, g = cuda(values), cuda(grads)
        got = homotopt.power_gradient(v, g, 1.0).direction
    stream.synchronize()
    assert torch.equal(got.cpu(), ref)


@pytest.mark.parametrize("bad", ["value", "all omitted", "gradient"])
def test_a_rejected_call_writes_nothing(rng, bad):
    values, grads = pair(rng, 4, 5, 33)
    policy = _core.NanPolicy.raise_
    if bad == "value":
        values[2, 3] = np.nan
    elif bad == "all omitted":
        values[:] = np.nan
        policy = _core.NanPolicy.omit
    else:
        grads[1, 1, 7] = np.inf
    tv, tg = cuda(values), cuda(grads)
    direction = torch.full((33,), 7.0, dtype=torch.float64, device="cuda")
    gradient = torch.full((33,), 9.0, dtype=torch.float64, device="cuda")
    with pytest.raises(ValueError):
        _core.power_gradient(_device.describe(tv, "values"), _device.describe(tg, "grads"), 1.0, policy,
                             _device.describe(direction, "direction"), _device.describe(gradient, "gradient"))
    assert bool((direction == 7.0).all()) and bool((gradient == 9.0).all())


def test_omitted_gradients_take_the_slow_path_and_match_the_cpu(rng):
    values, grads = pair(rng, 6, 7, 40)
    grads[2, 3, 5] = np.nan
    grads[4, 0, 1] = np.inf
    cpu = homotopt.power_gradient(values, grads, 1.0, nan_policy="omit")
    gpu = homotopt.power_gradient(cuda(values), cuda(grads), 1.0, nan_policy="omit")
    assert gpu.omitted == cpu.omitted == 2
    np.testing.assert_allclose(gpu.direction.cpu().numpy(), cpu.direction, rtol=1e-12)


def test_fused_estimator_repeats_on_the_workspace():
    # (o2nc_update's sync path, on the workspace too, repeats in tests/test_o2nc_cuda.py.)
    host = PhaseRetrieval.random(48, 500, seed=3, dtype=np.float32)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    mu = cuda(np.ones(48, np.float32))
    runs = [gpu.power_gradient(mu, sigma=0.2, power=1.0, num_samples=k, seed=1).direction.clone() for k in (16, 3, 16)]
    assert torch.equal(runs[0], runs[2])


def estimator_call(gpu, mu, rows, direction, gradient, K=12):
    desc = lambda x, name: x if isinstance(x, np.ndarray) else _device.describe(x, name)  # noqa: E731
    return _core.phase_retrieval_power_gradient(*gpu._views, _device.describe(mu, "mu"),
                                                None if rows is None else _device.describe(rows, "rows"), K, 0.3, 1.0,
                                                5, 0, 2, desc(direction, "direction"), desc(gradient, "gradient"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estimator_one_shot_equals_the_host_state_bitwise(dtype):
    host = PhaseRetrieval.random(70, 300, seed=4, dtype=dtype)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    mu = cuda(np.random.default_rng(2).standard_normal(70).astype(dtype))
    rows = cuda(np.random.default_rng(3).integers(0, 300, 90))
    on_device = [torch.empty(70, dtype=getattr(torch, np.dtype(dtype).name), device="cuda") for _ in range(2)]
    on_host = [np.empty(70, dtype) for _ in range(2)]  # outputs on the host: the host state's path
    a = estimator_call(gpu, mu, rows, *on_device)
    b = estimator_call(gpu, mu, rows, *on_host)
    np.testing.assert_array_equal(on_device[0].cpu().numpy(), on_host[0])
    np.testing.assert_allclose(on_device[1].cpu().numpy(), on_host[1], rtol=1e-13 if dtype == np.float64 else 2.5e-7)
    assert a[2:] == b[2:]  # log_scale, log_mean_exp, count, omitted


def test_estimator_rejected_call_writes_nothing():
    host = PhaseRetrieval.random(20, 50, seed=4)
    gpu = PhaseRetrieval(cuda(host.A), cuda(host.y))
    direction = torch.full((20,), 7.0, dtype=torch.float64, device="cuda")
    gradient = torch.full((20,), 9.0, dtype=torch.float64, device="cuda")
    with pytest.raises(ValueError, match="rows: expected row indices in"):
        estimator_call(gpu, cuda(np.zeros(20)), cuda(np.array([0, 3, 50])), direction, gradient)
    assert bool((direction == 7.0).all()) and bool((gradient == 9.0).all())
