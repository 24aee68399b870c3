"""homotopt.torch.ExpO2NC: the same bits as the NumPy optimizer, zero-copy, resumable, a drop-in
torch.optim.Optimizer (param groups, closures, schedulers), and bad input."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import homotopt  # noqa: E402
import homotopt.torch as ht  # noqa: E402

GROUP_A = dict(lr=0.1, beta=0.9, mu=0.1)
GROUP_B = dict(lr=0.05, beta=0.99, weight_decay=0.01, maximize=True)


def tensors(rng, shapes, dtype=torch.float64):
    return [torch.tensor(rng.standard_normal(s), dtype=dtype) for s in shapes]


def mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def test_equals_numpy_optimizer_with_param_groups(rng):
    shapes_a, shapes_b = [(5,), (3, 4)], [(7,), (2, 2, 3)]
    pa = [torch.nn.Parameter(t) for t in tensors(rng, shapes_a, torch.float32)]
    pb = [torch.nn.Parameter(t) for t in tensors(rng, shapes_b)]
    opt = ht.ExpO2NC([dict(params=pa, **GROUP_A), dict(params=pb, **GROUP_B)], seed=17)
    na = [p.detach().numpy().copy() for p in pa]
    nb = [p.detach().numpy().copy() for p in pb]
    ref_a = homotopt.ExpO2NC(na, seed=17, **GROUP_A)
    ref_b = homotopt.ExpO2NC(nb, seed=17, **GROUP_B)
    for _ in range(4):
        ga = tensors(rng, shapes_a, torch.float32)
        gb = tensors(rng, shapes_b)
        for p, g in zip(pa + pb, ga + gb):
            p.grad = g
        opt.step()
        sa = ref_a.step([g.numpy() for g in ga])
        sb = ref_b.step([g.numpy() for g in gb])
        assert opt.last_s == sa.s == sb.s  # one s per step for every group
    for p, x, D in zip(pa + pb, na + nb, ref_a.buffers + ref_b.buffers):
        np.testing.assert_array_equal(p.detach().numpy(), x)  # the same kernel: the same bits
        np.testing.assert_array_equal(opt.state[p]["D"].numpy(), D)
    assert opt.step_count == 4


def test_updates_the_tensors_own_memory():
    p = torch.nn.Parameter(torch.ones(1000))
    view = p.detach().numpy()  # shares p's memory
    opt = ht.ExpO2NC([p], lr=0.1, beta=0.9, seed=0)
    ptr = p.data_ptr()
    p.grad = torch.ones(1000)
    opt.step()
    D = opt.state[p]["D"]
    d_ptr = D.data_ptr()
    p.grad = torch.ones(1000)
    opt.step()
    assert p.data_ptr() == ptr and opt.state[p]["D"].data_ptr() == d_ptr  # no copies, no new tensors
    assert not np.all(view == 1.0) and np.array_equal(view, p.detach().numpy())


def test_matches_torch_sgd_with_lr_scaled_by_s(rng):
    """papers/o2nc.md: with mu = 0, D = -lr beta buf, so each step is SGD(momentum=beta, dampening=0,
    weight_decay=wd) with its lr set to s * lr * beta."""
    lr, beta, wd = 0.05, 0.9, 0.01
    model, twin = mlp(0).double(), mlp(0).double()
    opt = ht.ExpO2NC(model.parameters(), lr=lr, beta=beta, weight_decay=wd, seed=5)
    sgd = torch.optim.SGD(twin.parameters(), lr=lr, momentum=beta, weight_decay=wd)
    x = torch.tensor(rng.standard_normal((32, 6)))
    y = torch.tensor(rng.integers(0, 3, 32))
    for step in range(10):
        for m, o in ((model, opt), (twin, sgd)):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
        sgd.param_groups[0]["lr"] = homotopt.o2nc_scale(5, step) * lr * beta
        opt.step()
        sgd.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        # The same float64 recursion, rounded differently: worst seen 4e-16 relative to max |p|.
        torch.testing.assert_close(p, q, rtol=0, atol=1e-13 * float(q.detach().abs().max()))


def train(model, opt, x, y, steps, scheduler=None):
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        loss = opt.step(closure)
        assert torch.isfinite(loss)
        if scheduler is not None:
            scheduler.step()


def test_resumes_bit_for_bit_from_state_dict(rng):
    x = torch.tensor(rng.standard_normal((64, 6)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 64))
    model = mlp(1)
    opt = ht.ExpO2NC([dict(params=model[0].parameters()), dict(params=model[2].parameters(), lr=0.02, mu=0.5)],
                     lr=0.05, beta=0.95, seed=3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    train(model, opt, x, y, 5, sched)
    buffer = io.BytesIO()  # through torch.save, as a checkpoint would go
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    train(model, opt, x, y, 6, sched)

    buffer.seek(0)
    saved = torch.load(buffer)
    model2 = mlp(99)
    model2.load_state_dict(saved["model"])
    opt2 = ht.ExpO2NC([dict(params=model2[0].parameters()), dict(params=model2[2].parameters())], lr=1.0, beta=0.5)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert opt2.seed == 3 and opt2.step_count == 5 and opt2.param_groups[1]["mu"] == 0.5
    train(model2, opt2, x, y, 6, sched2)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
        assert torch.equal(opt.state[p]["D"], opt2.state[q]["D"])
    assert opt2.step_count == 11


def test_schedulers_set_the_lr(rng):
    p = torch.nn.Parameter(torch.tensor(rng.standard_normal(10)))
    opt = ht.ExpO2NC([p], lr=0.1, beta=0.9, seed=8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch)
    x = p.detach().numpy().copy()
    ref = homotopt.ExpO2NC([x], lr=0.1, beta=0.9, seed=8)
    for step in range(4):
        g = torch.tensor(rng.standard_normal(10))
        p.grad = g
        opt.step()
        ref.lr = 0.1 * 0.5**step
        ref.step([g.numpy()])
        sched.step()
    np.testing.assert_array_equal(p.detach().numpy(), x)


def test_params_without_grad_are_skipped(rng):
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(4))
    opt = ht.ExpO2NC([a, b], lr=0.1, beta=0.9)
    a.grad = torch.ones(3)
    opt.step()
    assert torch.equal(b, torch.ones(4)) and "D" not in opt.state[b]
    assert not torch.equal(a, torch.ones(3))
    opt.zero_grad()
    assert opt.step() is None and opt.step_count == 1  # no grads at all: nothing to do


def test_mixed_dtypes_and_channels_last(rng):
    conv = torch.nn.Parameter(torch.randn(4, 3, 3, 3).to(memory_format=torch.channels_last))
    flat = torch.nn.Parameter(conv.detach().contiguous().clone())
    half = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = ht.ExpO2NC([conv, half, flat], lr=0.1, beta=0.9, seed=2)
    for _ in range(3):
        g = torch.randn(4, 3, 3, 3)
        conv.grad = g.to(memory_format=torch.channels_last)
        flat.grad = g.clone()
        half.grad = torch.randn(5, dtype=torch.float64)
        opt.step()
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(conv, flat)  # the update is elementwise, whatever the layout
    conv.grad = torch.randn(4, 3, 3, 3)  # row-major grad of a channels-last param: copied, then used
    flat.grad = conv.grad.clone()
    opt.step()
    assert torch.equal(conv, flat)


def test_nonfinite_gradient_skips_every_group(rng):
    pa = [torch.nn.Parameter(t) for t in tensors(rng, [(3,), (4,)])]
    pb = [torch.nn.Parameter(t) for t in tensors(rng, [(200001,)])]
    opt = ht.ExpO2NC([dict(params=pa), dict(params=pb, lr=0.01)], lr=0.1, beta=0.9, seed=1)
    for p in pa + pb:
        p.grad = torch.ones_like(p)
    opt.step()
    before = [p.detach().clone() for p in pa + pb] + [opt.state[p]["D"].clone() for p in pa + pb]
    pb[0].grad[-1] = float("inf")
    opt.step()
    assert opt.found_inf and opt.step_count == 1
    after = [p.detach() for p in pa + pb] + [opt.state[p]["D"] for p in pa + pb]
    assert all(torch.equal(u, v) for u, v in zip(before, after))
    strict = ht.ExpO2NC([dict(params=pa), dict(params=pb, lr=0.01)], lr=0.1, beta=0.9, nan_policy="raise")
    with pytest.raises(ValueError, match=r"grads\[2\]: non-finite gradient inf at element 200000"):
        strict.step()
    assert all(torch.equal(u, v) for u, v in zip(before, after))


def test_state_dict_round_trip_and_default_seed():
    torch.manual_seed(123)
    p = torch.nn.Parameter(torch.ones(2))
    opt = ht.ExpO2NC([p], lr=0.1, beta=0.9)
    assert opt.seed == 123  # torch.manual_seed makes runs repeatable
    p.grad = torch.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert sd["o2nc"] == {"seed": 123, "step": 1, "scaling": "exponential", "nan_policy": "skip",
                          "check_finite": True, "skipped_steps": 0}
    with pytest.raises(ValueError, match="'o2nc' entry"):
        opt.load_state_dict({k: v for k, v in sd.items() if k != "o2nc"})


def test_lazy_attribute():
    assert homotopt.torch.ExpO2NC is ht.ExpO2NC


BAD_SETTINGS = [
    (dict(lr=float("nan")), ValueError, r"lr: expected a finite value >= 0, got nan"),
    (dict(lr=-1.0), ValueError, r"lr: expected a finite value >= 0"),
    (dict(beta=0.0), ValueError, r"beta: expected a value in \(0, 1\], got 0"),
    (dict(beta=1.01), ValueError, r"beta: expected a value in \(0, 1\]"),
    (dict(mu=-0.1), ValueError, r"mu: expected a finite value >= 0"),
    (dict(weight_decay=-0.1), ValueError, r"weight_decay: expected a finite value >= 0"),
    (dict(scaling="normal"), ValueError, r"scaling: expected"),
    (dict(nan_policy="omit"), ValueError, r"nan_policy: expected 'skip' or 'raise'"),
    (dict(seed=-3), ValueError, r"seed: expected an integer >= 0"),
]


@pytest.mark.parametrize("kw,exc,match", BAD_SETTINGS)
def test_bad_settings(kw, exc, match):
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(exc, match=match):
        ht.ExpO2NC([p], **(dict(lr=0.1, beta=0.9) | kw))
    opt = ht.ExpO2NC([p], lr=0.1, beta=0.9)
    if set(kw) <= {"lr", "beta", "mu", "weight_decay"}:
        with pytest.raises(exc, match=match):
            opt.add_param_group(dict(params=[torch.nn.Parameter(torch.ones(1))], **kw))


def snapshot(params, opt):
    return [p.detach().clone() for p in params] + [opt.state[p]["D"].clone() for p in params if "D" in opt.state[p]]


def with_grads(opt):
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is None:
                p.grad = torch.ones_like(p)


@pytest.mark.parametrize("change,exc,match", [
    (lambda opt: opt.param_groups[1].update(lr=float("inf")), ValueError,
     r"lr: expected a finite value >= 0, got inf \(param group 1\)"),
    (lambda opt: opt.param_groups[0].update(beta=2.0), ValueError,
     r"beta: expected a value in \(0, 1\], got 2 \(param group 0\)"),
    (lambda opt: opt.add_param_group(dict(params=[torch.nn.Parameter(torch.ones(2, dtype=torch.complex64))])),
     TypeError, r"param_groups\[2\]\['params'\]\[0\]: expected dtype float32, float64, float16 or bfloat16, got "
     r"torch.complex64"),
])
def test_bad_input_at_step_touches_nothing(rng, change, exc, match):
    ps = [torch.nn.Parameter(t) for t in tensors(rng, [(3,), (4,), (5,)])]
    opt = ht.ExpO2NC([dict(params=ps[:2]), dict(params=ps[2:])], lr=0.1, beta=0.9)
    with_grads(opt)
    opt.step()
    change(opt)
    with_grads(opt)
    before = snapshot(ps, opt)
    with pytest.raises(exc, match=match):
        opt.step()
    assert all(torch.equal(u, v) for u, v in zip(before, snapshot(ps, opt)))
    assert opt.step_count == 1


def test_sparse_gradient_and_overlapping_params():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = ht.ExpO2NC(emb.parameters(), lr=0.1, beta=0.9)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(TypeError, match="expected a dense gradient, got a sparse one"):
        opt.step()
    base = torch.zeros(5)
    p1, p2 = torch.nn.Parameter(base[0:3]), torch.nn.Parameter(base[2:5])  # share base[2]
    p1.grad, p2.grad = torch.ones(3), torch.ones(3)
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\]: expected memory of their own \(each is "
                                         r"written by the update\), got arrays that overlap"):
        ht.ExpO2NC([p1, p2], lr=0.1, beta=0.9).step()
    assert torch.equal(base, torch.zeros(5))


def test_state_reset_and_parameter_data_changes_are_seen(rng):
    model = mlp(4)
    opt = ht.ExpO2NC(model.parameters(), lr=0.1, beta=0.9, seed=6)
    x = torch.tensor(rng.standard_normal((8, 6)), dtype=torch.float32)
    model(x).sum().backward()
    opt.step()
    w = model[0].weight
    opt.state[w]["D"] = torch.zeros_like(w)  # a reset of one buffer: the next step must use the new one
    opt.step()
    assert opt.state[w]["D"].abs().sum() > 0
    model.double()  # replaces every p.data (new memory, new dtype) after the optimizer was made
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = [p.detach().clone() for p in model.parameters()]
    opt.step()
    for p, b in zip(model.parameters(), before):
        assert p.dtype == torch.float64 and opt.state[p]["D"].dtype == torch.float64
        assert not torch.equal(p, b)
