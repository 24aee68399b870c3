"""homotopt.torch.ProgPowerHP and power_accumulate on a CUDA device: the same noise and the same step as
on the CPU (skipped without a GPU and a CUDA build)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import homotopt  # noqa: E402
from homotopt.torch import ProgPowerHP  # noqa: E402
from homotopt import _core  # noqa: E402
from homotopt.torch._powerhp_merge import PowerAccumulator, merge_sample, step_coefficients  # noqa: E402

from _torch_powerhp_ref import data, flat, losses, mlp  # noqa: E402

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_power_accumulate_bits_equal_cpu(dtype, rng):
    sizes = [1, 5000, 70_001]
    us = [torch.tensor(rng.standard_normal(n), dtype=dtype) for n in sizes]
    gs = [torch.tensor(rng.standard_normal(n), dtype=dtype) for n in sizes]
    coef = torch.tensor([[0.3, 1.7], [np.exp(-2.0), 0.0]], dtype=torch.float64)
    groups = [0, 1, 0]
    cu = [u.cuda() for u in us]
    PowerAccumulator(torch.device("cpu"))(us, gs, groups, coef)
    acc = PowerAccumulator(torch.device("cuda"))
    acc(cu, [g.cuda() for g in gs], groups, coef.cuda())
    for a, b in zip(us, cu):
        assert torch.equal(a, b.cpu())  # same float64 rule, no FMA on either side
    assert float(acc.flag) == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", ["finite", "limit+", "limit-", "empty", "omitted"])
def test_power_merge_sample_bits_equal_cpu(dtype, case, rng):
    inf = float("inf")
    J, power = 1000, 2.0
    f = rng.standard_normal(J) * 3
    counted = np.ones(J, bool)
    if case.startswith("limit"):
        power, f = 1e300, np.round(f) * (1e10 if case == "limit+" else -1e10)
    elif case == "empty":
        f[:] = -inf
    elif case == "omitted":
        counted = rng.random(J) > 0.5
        f[~counted] = np.nan
    G = 40  # rows 0..37 tied: two launches of the CUDA kernel's row batches
    state = torch.tensor([[1.5, 2.0, 3.0, -inf]] * G, dtype=torch.float64)
    rows = list(range(38))
    out = {}
    for dev in ["cpu", "cuda"]:
        st, coef = state.clone().to(dev), torch.zeros(G, 2, dtype=torch.float64, device=dev)
        w = merge_sample(st, coef, torch.tensor(f, dtype=dtype, device=dev), torch.tensor(counted, device=dev),
                         power, rows)
        out[dev] = (w.cpu(), coef.cpu(), st.cpu())
    for a, b in zip(out["cpu"], out["cuda"]):
        assert torch.equal(a, b)  # the same LseState code, s_k summed in the same order, no FMA


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_power_merge_sample_losses_without_mask_equal_cpu(sign, rng):
    v = rng.standard_normal(300) * 3
    v[[5, 9, 40]] = [np.nan, np.inf, -np.inf]
    out = {}
    for dev in ["cpu", "cuda"]:
        st = torch.tensor([[1.5, 2.0, 3.0, -np.inf]], dtype=torch.float64, device=dev)
        coef = torch.zeros(1, 2, dtype=torch.float64, device=dev)
        w = merge_sample(st, coef, torch.tensor(v, device=dev), None, 2.0, [0], sign)
        out[dev] = (w.cpu(), coef.cpu(), st.cpu())
    for a, b in zip(out["cpu"], out["cuda"]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("rule", ["raw", "log", "unit"])
@pytest.mark.parametrize("found", [None, False, True])
def test_power_step_equals_cpu(rule, found):
    G = 40  # two launches of the CUDA kernel's batches of 32 groups
    rows = [[1.5, 2.0, 3.0, -np.inf], [-np.inf, 0.0, 0.0, -np.inf], [np.inf, 2.0, 3.0, 1e10]]
    state = torch.tensor([rows[g % 3] for g in range(G)], dtype=torch.float64)
    sched = [(0.5 * g, 0.0, 0.01 * (g + 1)) for g in range(G)]
    norms = torch.arange(G, dtype=torch.float64)
    out = {}
    for dev in ["cpu", "cuda"]:
        f = None if found is None else torch.tensor(found, device=dev)
        out[dev] = step_coefficients(state.to(dev), getattr(_core.StepRule, rule), sched, norms.to(dev), f).cpu()
    if rule == "raw":  # exp and log of the device's libm: within an ulp or two of the host's
        torch.testing.assert_close(out["cuda"], out["cpu"], rtol=1e-14, atol=0)
    else:  # IEEE multiplies and divides only
        assert torch.equal(out["cpu"], out["cuda"])


@pytest.mark.parametrize("nan_policy", ["raise", "omit"])
def test_step_matches_cpu(nan_policy):
    x, y = data("mlp", 16, 0)
    a, b = mlp(1), mlp(1).cuda()
    xc, yc = x.cuda(), y.cuda()
    kw = dict(num_samples=4, power=2.0, sigma=0.05, lr=0.01, seed=3, nan_policy=nan_policy)
    oa, ob = ProgPowerHP(a.parameters(), **kw), ProgPowerHP(b.parameters(), **kw)
    for _ in range(3):
        oa.step(lambda: losses(a, x, y))
        ob.step(lambda: losses(b, xc, yc))
    got = np.concatenate([p.detach().cpu().reshape(-1).numpy() for p in b.parameters()])
    # the noise is the same Philox numbers (float32-accurate normals on both); float64 model, cuBLAS vs CPU
    # sums in another order: ~1e-15 relative expected
    np.testing.assert_allclose(got, flat(a), rtol=1e-10, atol=1e-12)
    assert not ob.found_inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_writer_bits_equal_cpu(dtype, rng):
    """perturb.hpp on CUDA: w = mu + sigma eps with the same Philox normals and float64 rule as the CPU."""
    from homotopt.torch._powerhp_parts import SampleWriter
    sizes = [1, 5000, 70_001]
    mus = [torch.tensor(rng.standard_normal(n), dtype=dtype) for n in sizes]
    ps = [torch.empty_like(m) for m in mus]
    entries = [(i % 2, p, sum(sizes[:i])) for i, p in enumerate(ps)]
    SampleWriter(entries, mus, [0.3, 2.0], 7, 2, sum(sizes))(3)
    cps, cmus = [p.cuda() for p in ps], [m.cuda() for m in mus]
    SampleWriter([(g, cp, place) for (g, _, place), cp in zip(entries, cps)], cmus, [0.3, 2.0], 7, 2, sum(sizes))(3)
    for a, b in zip(ps, cps):
        assert torch.equal(a, b.cpu())


def test_power_merge_ranks_equals_cpu(rng):
    inf = float("inf")
    rows = [[1.5, 2.0, 3.0, -inf], [-inf, 0.0, 0.0, -inf], [inf, 2.0, 3.0, 1e10], [-inf, 1.0, 2.0, -1e10],
            [4.0, 1.0, 1.0, -inf]]
    W, G = 3, 70  # three blocks of the kernel's 32 groups
    table = torch.tensor([[rows[i] for i in rng.integers(len(rows), size=G)] for _ in range(W)], dtype=torch.float64)
    out = {}
    for dev in ["cpu", "cuda"]:
        t = table.to(dev)
        merged = torch.empty(G, 4, dtype=torch.float64, device=dev)
        factors = torch.empty(G, dtype=torch.float64, device=dev)
        kind = _core.DeviceType.cuda if dev == "cuda" else _core.DeviceType.cpu
        stream = torch.cuda.current_stream().cuda_stream if dev == "cuda" else 0
        _core.power_merge_ranks_pointers(t.data_ptr(), W, G, 1, merged.data_ptr(), factors.data_ptr(), kind, 0, stream)
        out[dev] = (merged.cpu(), factors.cpu())
    for a, b in zip(out["cpu"], out["cuda"]):  # exp_nonpositive and IEEE adds: the same code on both
        torch.testing.assert_close(b, a, rtol=1e-15, atol=0)
