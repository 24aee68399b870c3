"""The CUDA O2NC kernel (cuda/o2nc.cu) against the CPU backend on the same inputs and seed, its device
state (the step counter advanced on the device, found_inf), the torch optimizer on CUDA parameters,
CUDA graph capture and replay of optimizer.step(), and bad input. Every test needs a GPU.

Tolerance: none. The kernel runs the CPU backend's element rule (explicit fmas, one rounded product),
its coefficients and its s, through the same header functions, compiled with --fmad=false as the CPU
is with -ffp-contract=off, so float32 and float64 results are compared bit for bit."""

import copy

import numpy as np
import pytest

import homotopt
from homotopt import _core

torch = pytest.importorskip("torch")
import homotopt.torch as ht  # noqa: E402

pytestmark = pytest.mark.cuda

SIZES = [1, 31, 33, 2**20 + 3, 0]
OPTIONS = [dict(), dict(scaling=1), dict(scaling=2), dict(mu=0.5), dict(weight_decay=0.01),
           dict(maximize=True), dict(s=2.5), dict(beta=1.0, mu=0.3, weight_decay=0.05, maximize=True)]
DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def group(count, lr=0.05, beta=0.9, mu=0.0, weight_decay=0.0, maximize=False):
    return (count, lr, beta, mu, weight_decay, maximize)


def table(ts):
    return [t.data_ptr() for t in ts], [t.numel() for t in ts], [_core.DType.float32 if t.dtype == torch.float32 else _core.DType.float64 for t in ts]


def sync_update(x, g, D, groups, *, scaling=_core.O2ncScaling.exponential, seed=7, step=0, s=None, check_finite=True,
                nan_policy=_core.O2ncNanPolicy.skip):
    """o2nc_update on CUDA arrays: the synchronizing path, which returns (s, found_inf)."""
    px, numels, dtypes = table(x)
    return _core.o2nc_update_pointers(px, table(g)[0], table(D)[0], numels, dtypes, _core.DeviceType.cuda,
                                      x[0].device.index if x else 0,
                                      groups, scaling, seed, step, s, check_finite, nan_policy,
                                      torch.cuda.current_stream().cuda_stream)


def device_update(x, g, D, groups, state, *, scaling=_core.O2ncScaling.exponential, s=None, check_finite=True,
                  nan_policy=_core.O2ncNanPolicy.skip):
    """o2nc_update_device: seed and step from `state`, enqueued on the current stream."""
    px, numels, dtypes = table(x)
    _core.o2nc_update_device_pointers(px, table(g)[0], table(D)[0], numels, dtypes, state.device.index, groups,
                                      scaling, s, check_finite, nan_policy, state.data_ptr(),
                                      torch.cuda.current_stream().cuda_stream)


def new_state(seed, step=0):
    return torch.tensor(_core.o2nc_device_state(seed, step), dtype=torch.int64, device="cuda")


def fields(state):
    return _core.o2nc_device_state_fields(state.tolist())


def make(rng, sizes, dtype):
    return [rng.standard_normal(n).astype(dtype) for n in sizes]


def on_cuda(arrays):
    return [torch.from_numpy(a.copy()).cuda() for a in arrays]


def assert_same(cuda_tensors, arrays):
    for t, a in zip(cuda_tensors, arrays):
        np.testing.assert_array_equal(t.cpu().numpy(), a)  # bit for bit (module docstring)


def cpu_kwargs(opts):
    kw = dict(lr=0.05, beta=0.9, mu=opts.get("mu", 0.0), weight_decay=opts.get("weight_decay", 0.0),
              maximize=opts.get("maximize", False), scaling=["exponential", "uniform", "none"][opts.get("scaling", 0)])
    if "beta" in opts:
        kw["beta"] = opts["beta"]
    if "s" in opts:
        kw["s"] = opts["s"]
    return kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_sync_path_equals_cpu(rng, dtype, opts):
    x, D = make(rng, SIZES, dtype), [np.zeros(n, dtype) for n in SIZES]
    cx, cD = on_cuda(x), on_cuda(D)
    kw = cpu_kwargs(opts)
    grp = [group(len(SIZES), kw["lr"], kw["beta"], kw["mu"], kw["weight_decay"], kw["maximize"])]
    for step in range(3):
        g = make(rng, SIZES, dtype)
        ref = homotopt.o2nc_update(x, g, D, seed=7, step=step, **kw)
        s, found = sync_update(cx, on_cuda(g), cD, grp, scaling=_core.O2ncScaling(opts.get("scaling", 0)), step=step,
                               s=opts.get("s"))
        assert (s, found) == (ref.s, False)  # the same s, drawn on the device
    assert_same(cx + cD, x + D)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("check_finite", [True, False])
def test_device_path_equals_cpu_and_counts_steps_on_the_device(rng, dtype, check_finite):
    x, D = make(rng, SIZES, dtype), [np.zeros(n, dtype) for n in SIZES]
    cx, cD = on_cuda(x), on_cuda(D)
    state = new_state(seed=2**64 - 5, step=2**32 - 3)  # wraps past 2^32 on the device
    grp = [group(2, lr=0.1), group(3, lr=0.02, beta=0.99, weight_decay=0.1)]
    for k in range(5):
        g = make(rng, SIZES, dtype)
        step = (2**32 - 3 + k) % 2**32
        homotopt.o2nc_update(x[:2], g[:2], D[:2], lr=0.1, beta=0.9, seed=2**64 - 5, step=step)
        ref = homotopt.o2nc_update(x[2:], g[2:], D[2:], lr=0.02, beta=0.99, weight_decay=0.1, seed=2**64 - 5,
                                   step=step)
        device_update(cx, on_cuda(g), cD, grp, state, check_finite=check_finite)
        f = fields(state)
        assert f["step"] == (step + 1) % 2**32 and f["scale"] == ref.s and not f["found_inf"]
        assert f["first_nonfinite"] is None
    assert_same(cx + cD, x + D)


@pytest.mark.parametrize("count", [200, 1200])  # one launch of the large table; several launches
def test_many_tiny_and_zero_size_tensors(rng, count):
    sizes = [int(n) for n in rng.integers(0, 9, count)]
    sizes[0] = sizes[-1] = 0
    dtypes = [np.float32 if k % 4 else np.float64 for k in range(count)]
    x = [rng.standard_normal(n).astype(dt) for n, dt in zip(sizes, dtypes)]
    D = [rng.standard_normal(n).astype(dt) for n, dt in zip(sizes, dtypes)]
    g = [rng.standard_normal(n).astype(dt) for n, dt in zip(sizes, dtypes)]
    cx, cD, cg = on_cuda(x), on_cuda(D), on_cuda(g)
    half = count // 2
    homotopt.o2nc_update(x[:half], g[:half], D[:half], lr=0.1, beta=0.9, seed=1, step=4)
    homotopt.o2nc_update(x[half:], g[half:], D[half:], lr=0.3, beta=0.5, mu=0.2, seed=1, step=4)
    sync_update(cx, cg, cD, [group(half, lr=0.1), group(count - half, lr=0.3, beta=0.5, mu=0.2)], seed=1, step=4)
    assert_same(cx + cD, x + D)


def test_only_empty_tensors_still_count_the_step():
    state = new_state(seed=3)
    e = [torch.zeros(0, device="cuda")]
    device_update(e, [torch.zeros(0, device="cuda")], [torch.zeros(0, device="cuda")], [group(1)], state)
    device_update([], [], [], [], state)
    f = fields(state)
    assert f["step"] == 2 and f["scale"] == homotopt.o2nc_scale(3, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_views_take_the_scalar_path(rng, dtype):
    n = 2**20 + 3
    base = [torch.from_numpy(rng.standard_normal(n + 1).astype(dtype)).cuda() for _ in range(3)]
    cx, cg, cD = (b[1:] for b in base)  # one element in: not 16-byte aligned
    aligned = [torch.from_numpy(rng.standard_normal(33).astype(dtype)).cuda() for _ in range(3)]
    assert cx.data_ptr() % 16 != 0
    x, g, D = (t.cpu().numpy().copy() for t in (cx, cg, cD))
    ax, ag, aD = (t.cpu().numpy().copy() for t in aligned)
    for step in range(2):
        homotopt.o2nc_update([x, ax], [g, ag], [D, aD], lr=0.05, beta=0.9, seed=9, step=step)
        sync_update([cx, aligned[0]], [cg, aligned[1]], [cD, aligned[2]], [group(2)], seed=9, step=step)
    assert_same([cx, cD, aligned[0], aligned[2]], [x, D, ax, aD])


def test_found_inf_skips_on_the_device_and_raise_names_the_gradient(rng):
    x = on_cuda(make(rng, [3, 2**20 + 3], np.float32))
    D = [torch.zeros_like(t) for t in x]
    g = [torch.ones_like(t) for t in x]
    g[1][2**20 + 1] = float("inf")
    g[1][2**20 + 2] = float("nan")
    before = [t.clone() for t in x + D]
    assert sync_update(x, g, D, [group(2)], step=5)[1] is True
    state = new_state(seed=7, step=5)
    device_update(x, g, D, [group(2)], state)
    f = fields(state)
    assert f["found_inf"] and f["step"] == 5 and f["first_nonfinite"] == 3 + 2**20 + 1
    assert all(torch.equal(u, v) for u, v in zip(before, x + D))
    with pytest.raises(ValueError, match=r"grads\[1\]: non-finite gradient inf at element 1048577; no tensor"):
        sync_update(x, g, D, [group(2)], nan_policy=_core.O2ncNanPolicy.raise_)
    with pytest.raises(ValueError, match=r"grads\[1\]: non-finite gradient inf at element 1048577"):
        device_update(x, g, D, [group(2)], state, nan_policy=_core.O2ncNanPolicy.raise_)
    assert all(torch.equal(u, v) for u, v in zip(before, x + D)) and fields(state)["step"] == 5
    g[1].fill_(1.0)
    device_update(x, g, D, [group(2)], state)  # the skipped step's s is used now
    f = fields(state)
    assert not f["found_inf"] and f["step"] == 6 and f["scale"] == homotopt.o2nc_scale(7, 5)


def test_bitwise_deterministic_run_to_run(rng):
    sizes = [2**20 + 3, 31, 4096, 1]
    x0, g = make(rng, sizes, np.float32), make(rng, sizes, np.float32)
    results = []
    for _ in range(2):
        cx, cD, cg = on_cuda(x0), on_cuda([np.zeros_like(a) for a in x0]), on_cuda(g)
        state = new_state(seed=4)
        for _ in range(3):
            device_update(cx, cg, cD, [group(4)], state)
        results.append([t.cpu() for t in cx + cD])
    assert all(torch.equal(a, b) for a, b in zip(*results))


def mlp(seed, device="cpu"):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 33), torch.nn.Tanh(), torch.nn.Linear(33, 3)).to(device)


def grads_for(model, rng, steps):
    """Gradients computed once on the CPU, so both optimizers see the same bits."""
    x = torch.tensor(rng.standard_normal((16, 6)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 16))
    out = []
    for k in range(steps):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x * (1 + 0.1 * k)), y).backward()
        out.append([p.grad.clone() for p in model.parameters()])
    return out


def set_grads(model, grads):
    for p, g in zip(model.parameters(), grads):
        if p.grad is None:
            p.grad = g.to(p.device).clone()
        else:
            p.grad.copy_(g)


@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype:UserWarning")
def test_torch_optimizer_on_cuda_equals_cpu_and_never_waits(rng):
    cpu, gpu = mlp(0), mlp(0, "cuda")
    groups = lambda m: [dict(params=m[0].parameters()), dict(params=m[2].parameters(), lr=0.02, mu=0.5)]  # noqa: E731
    opt_c = ht.ExpO2NC(groups(cpu), lr=0.05, beta=0.9, seed=5, weight_decay=0.01)
    opt_g = ht.ExpO2NC(groups(gpu), lr=0.05, beta=0.9, seed=5, weight_decay=0.01)
    grads = grads_for(mlp(1), rng, 4)
    grads[2][1][0] = float("nan")  # step 2 is skipped by both
    for gs in grads:
        set_grads(cpu, gs)
        set_grads(gpu, gs)
        opt_c.step()
        torch.cuda.set_sync_debug_mode("error")  # any synchronization in step() raises
        try:
            opt_g.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert opt_g.found_inf == opt_c.found_inf and opt_g.last_s == opt_c.last_s
    assert opt_g.step_count == opt_c.step_count == 3
    for p, q in zip(cpu.parameters(), gpu.parameters()):
        assert torch.equal(p, q.cpu()) and torch.equal(opt_c.state[p]["D"], opt_g.state[q]["D"].cpu())


def test_torch_state_dict_resumes_bit_for_bit_on_cuda(rng):
    model = mlp(2, "cuda")
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, beta=0.95, seed=3)
    grads = grads_for(mlp(3), rng, 6)
    for gs in grads[:3]:
        set_grads(model, gs)
        opt.step()
    saved = copy.deepcopy({"model": model.state_dict(), "opt": opt.state_dict()})  # torch's holds references
    assert saved["opt"]["o2nc"]["step"] == 3
    for gs in grads[3:]:
        set_grads(model, gs)
        opt.step()
    model2 = mlp(9, "cuda")
    model2.load_state_dict(saved["model"])
    opt2 = ht.ExpO2NC(model2.parameters(), lr=1.0, beta=0.5)
    opt2.load_state_dict(saved["opt"])
    for gs in grads[3:]:
        set_grads(model2, gs)
        opt2.step()
    assert opt2.step_count == 6 and opt2.seed == 3
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q) and torch.equal(opt.state[p]["D"], opt2.state[q]["D"])


@pytest.mark.parametrize("check_finite", [True, False])
def test_cuda_graph_replay_equals_eager(rng, check_finite):
    graphed, eager = mlp(4, "cuda"), mlp(4, "cuda")
    opt = ht.ExpO2NC(graphed.parameters(), lr=0.05, beta=0.9, seed=11, check_finite=check_finite)
    ref = ht.ExpO2NC(eager.parameters(), lr=0.05, beta=0.9, seed=11, check_finite=check_finite)
    grads = grads_for(mlp(5), rng, 8)
    if check_finite:
        grads[5][0][0, 0] = float("inf")  # replay 5 is skipped on the device; replay 6 reuses its s
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up, as torch.cuda.graph asks
        for gs in grads[:2]:
            set_grads(graphed, gs)
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        opt.step()
    for gs in grads[:2]:
        set_grads(eager, gs)
        ref.step()
    for gs in grads[2:]:
        set_grads(graphed, gs)
        graph.replay()
        set_grads(eager, gs)
        ref.step()
        torch.cuda.synchronize()
        assert opt.step_count == ref.step_count and opt.last_s == ref.last_s and opt.found_inf == ref.found_inf
    assert opt.step_count == (7 if check_finite else 8)
    for p, q in zip(graphed.parameters(), eager.parameters()):
        assert torch.equal(p, q) and torch.equal(opt.state[p]["D"], ref.state[q]["D"])


def test_capture_refuses_what_needs_the_host():
    p = torch.nn.Parameter(torch.ones(4, device="cuda"))
    p.grad = torch.ones(4, device="cuda")
    strict = ht.ExpO2NC([p], lr=0.1, beta=0.9, nan_policy="raise")
    strict.step()  # warm-up
    x = [torch.ones(4, device="cuda")]
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        p.grad.mul_(1.0)  # something to capture
        with pytest.raises(ValueError, match=r"nan_policy: \"raise\" reads the result on the host"):
            strict.step()
        with pytest.raises(ValueError, match=r"o2nc_update: CUDA arrays under graph capture need o2nc_update_device"):
            sync_update(x, [torch.ones(4, device="cuda")], [torch.zeros(4, device="cuda")], [group(1)])


def test_bad_input():
    a, b = torch.nn.Parameter(torch.ones(3, device="cuda")), torch.nn.Parameter(torch.ones(3))
    a.grad, b.grad = torch.ones(3, device="cuda"), torch.ones(3)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[1\]: expected a tensor on cuda:0"):
        ht.ExpO2NC([a, b], lr=0.1, beta=0.9).step()
    half = torch.nn.Parameter(torch.ones(3, device="cuda", dtype=torch.float16))
    half.grad = torch.ones_like(half)
    with pytest.raises(TypeError, match=r"expected dtype torch.float32 or torch.float64, got torch.float16"):
        ht.ExpO2NC([half], lr=0.1, beta=0.9).step()
    x, g, D = [torch.ones(8, device="cuda")], [torch.ones(8, device="cuda")], [torch.zeros(8, device="cuda")]
    state = new_state(0)
    alias = torch.zeros(16, dtype=torch.int64, device="cuda")
    cases = [  # (call, exception, message)
        (lambda: device_update(x, g, D, [group(1, lr=float("nan"))], state), ValueError, r"lr: expected a finite"),
        (lambda: device_update(x, g, D, [group(2)], state), ValueError, r"groups: expected sizes that add up to 1"),
        (lambda: device_update(x, g, x, [group(1)], state), ValueError, r"expected memory of its own"),
        (lambda: _core.o2nc_update_device_pointers([alias.data_ptr()], [g[0].data_ptr()], [D[0].data_ptr()], [8],
                                                   [_core.DType.float32], 0, [group(1)], _core.O2ncScaling.exponential,
                                                   None, True, _core.O2ncNanPolicy.skip, alias.data_ptr(), 0),
         ValueError, r"state: expected memory of its own, got an array that overlaps params\[0\]"),
        (lambda: device_update(x, g, D, [group(1)], state, s=-1.0), ValueError, r"s: expected a finite value >= 0"),
        (lambda: _core.o2nc_update_device_pointers(*table(x)[:1], table(g)[0], table(D)[0], [8], [_core.DType.float32],
                                                   99, [group(1)], _core.O2ncScaling.exponential, None, True,
                                                   _core.O2ncNanPolicy.skip, state.data_ptr(), 0),
         RuntimeError, r"failed"),  # no device 99: a CUDA error, raised, not an abort
    ]
    before = [t.clone() for t in x + D + [state]]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()
    assert all(torch.equal(u, v) for u, v in zip(before, x + D + [state]))
