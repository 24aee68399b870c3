"""homotopt.torch.ExpO2NC in the ways a training script uses a torch optimizer: copies, torch's
momentum name and its schedulers, keyword-only settings, skipped steps, parameters whose layout changes,
a GradScaler-style found_inf."""

import copy
import io
import pickle

import pytest

torch = pytest.importorskip("torch")

import homotopt.torch as ht  # noqa: E402


def mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def train(model, opt, steps, seed=0):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 6, generator=gen)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "torch.save"])
def test_copies_step_exactly_like_the_original(how):
    model = mlp(1)
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, momentum=0.9, seed=4)
    train(model, opt, 3)
    if how == "deepcopy":
        model2, opt2 = copy.deepcopy((model, opt))
    elif how == "pickle":
        model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    else:
        buf = io.BytesIO()
        torch.save((model, opt), buf)
        buf.seek(0)
        model2, opt2 = torch.load(buf, weights_only=False)
    assert opt2.seed == 4 and opt2.step_count == 3 and opt2.param_groups[0]["beta"] == 0.9
    train(model, opt, 4, seed=1)
    train(model2, opt2, 4, seed=1)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    assert opt2.step_count == opt.step_count == 7 and opt2.last_s == opt.last_s


def test_momentum_is_beta_and_schedulers_cycle_it():
    model = mlp(2)
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, momentum=0.8)
    group = opt.param_groups[0]
    assert group["momentum"] == group["beta"] == 0.8 and "beta" in group and "momentum" in opt.defaults
    group["beta"] = 0.7  # one stored value, two names
    assert group["momentum"] == 0.7 and "beta" not in dict(group)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)  # cycle_momentum=True
    seen = set()
    for _ in range(9):
        train(model, opt, 1)
        sched.step()
        seen.add(round(group["beta"], 6))
    assert len(seen) > 3 and max(seen) <= 0.95 and min(seen) >= 0.85  # OneCycleLR's default momentum range
    model2 = mlp(2)
    opt2 = ht.ExpO2NC(model2.parameters(), lr=0.05, beta=0.9)
    cyc = torch.optim.lr_scheduler.CyclicLR(opt2, base_lr=0.01, max_lr=0.1, step_size_up=2)
    for _ in range(3):
        train(model2, opt2, 1)
        cyc.step()
    assert opt2.param_groups[0]["momentum"] != 0.9
    sd = opt.state_dict()
    assert "momentum" in sd["param_groups"][0] and "beta" not in sd["param_groups"][0]


@pytest.mark.parametrize("kw,match", [
    (dict(nesterov=True), r"nesterov: ExpO2NC has no Nesterov variant"),
    (dict(dampening=0.1), r"dampening: ExpO2NC's D accumulates -lr g undamped"),
    (dict(momentum=0.9, beta=0.8), r"momentum, beta: two names of one value"),
    (dict(buffer_dtype=torch.float64), r"buffer_dtype: expected None"),
])
def test_torch_keywords_without_a_meaning_here(kw, match):
    with pytest.raises(ValueError, match=match):
        ht.ExpO2NC([torch.nn.Parameter(torch.ones(2))], lr=0.1, **kw)


def test_everything_after_lr_is_keyword_only():
    p = torch.nn.Parameter(torch.ones(2))
    ht.ExpO2NC([p], 0.1)  # lr may be positional
    with pytest.raises(TypeError, match="positional"):
        ht.ExpO2NC([p], 0.1, 0.9)  # torch SGD's 3rd is momentum, but here it is not accepted positionally
    with pytest.raises(TypeError, match="positional"):
        ht.ExpO2NC([p], 0.1, 0.9, 0.0, 1e-4)  # the 4th would have been mu, not weight decay as in torch


def test_skipped_steps_are_counted_and_a_run_of_them_warns():
    p = torch.nn.Parameter(torch.ones(3))
    opt = ht.ExpO2NC([p], lr=0.1, momentum=0.9)
    bad = torch.tensor([1.0, float("nan"), 1.0])
    for _ in range(ht.o2nc.SKIP_WARNING_RUN - 1):
        p.grad = bad
        opt.step()
    assert opt.skipped_steps == ht.o2nc.SKIP_WARNING_RUN - 1 and opt.step_count == 0
    p.grad = bad
    with pytest.warns(RuntimeWarning, match=r"the last 10 steps were all skipped"):
        opt.step()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per run of skips
        p.grad = bad
        opt.step()
        p.grad = torch.ones(3)
        opt.step()
    assert opt.skipped_steps == ht.o2nc.SKIP_WARNING_RUN + 1 and opt.step_count == 1
    assert opt.state_dict()["o2nc"]["skipped_steps"] == opt.skipped_steps


def test_found_inf_from_the_caller_replaces_the_check():
    p = torch.nn.Parameter(torch.ones(3))
    opt = ht.ExpO2NC([p], lr=0.1, momentum=0.9)
    p.grad = torch.tensor([1.0, float("nan"), 1.0])
    opt.step(found_inf=torch.tensor(0.0))  # the caller says finite: no check, the NaN goes in (as told)
    assert opt.step_count == 1 and torch.isnan(p).any()
    q = torch.nn.Parameter(torch.ones(3))
    opt = ht.ExpO2NC([q], lr=0.1, momentum=0.9)
    q.grad = torch.ones(3)
    opt.step(found_inf=torch.tensor(1.0))  # the caller says non-finite: skipped, counted
    assert opt.step_count == 0 and opt.skipped_steps == 1 and torch.equal(q, torch.ones(3))


def test_a_changed_layout_rebuilds_the_table(rng):
    w = torch.nn.Parameter(torch.tensor(rng.standard_normal((3, 5)), dtype=torch.float32))
    opt = ht.ExpO2NC([w], lr=0.1, momentum=0.9, seed=1)
    w.grad = torch.ones(3, 5)
    opt.step()
    w.data = w.data.t()  # same memory and pointer, shape (5, 3), strides (1, 5)
    g = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32)
    w.grad = g.clone()  # a row-major (5, 3) grad: a layout other than w's
    D = opt.state[w]["D"].clone()
    before, s_next = w.detach().clone(), None
    opt.step()
    s_next = opt.last_s
    assert opt.state[w]["D"].shape == (5, 3)  # the buffer follows the parameter's new layout
    expect_D = 0.9 * (D.t() - 0.1 * g)
    torch.testing.assert_close(opt.state[w]["D"], expect_D, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(w.detach(), before + s_next * expect_D, rtol=1e-6, atol=1e-6)


def test_the_per_step_table_check_sees_what_the_pointer_does_not(rng):
    # The cached table is checked in one native call per step; each change below keeps the parameter's
    # pointer and must still be seen: strides alone (a square transpose: same shape), a grad of another
    # layout (updated through a copy), the buffer D replaced, the dtype alone (a same-size view).
    w = torch.nn.Parameter(torch.tensor(rng.standard_normal((4, 4)), dtype=torch.float32))
    opt = ht.ExpO2NC([w], lr=0.1, momentum=0.9, seed=2)
    w.grad = torch.arange(16.0).reshape(4, 4)  # D not symmetric
    opt.step()
    w.data = w.data.t()  # strides (1, 4), shape unchanged
    g = torch.tensor(rng.standard_normal((4, 4)), dtype=torch.float32)
    w.grad = g.t().contiguous().t()  # in w's new layout
    D, before = opt.state[w]["D"].clone(), w.detach().clone()
    opt.step()
    expect_D = 0.9 * (D.t() - 0.1 * g)  # D stays paired with w's memory: transposed with it
    torch.testing.assert_close(opt.state[w]["D"], expect_D, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(w.detach(), before + opt.last_s * expect_D, rtol=1e-6, atol=1e-6)
    w.grad = g.clone()  # row-major: not w's (transposed) layout, so a copy in w's layout goes in
    D = opt.state[w]["D"].clone()
    opt.step()
    torch.testing.assert_close(opt.state[w]["D"], 0.9 * (D - 0.1 * g), rtol=1e-6, atol=1e-7)
    opt.state[w]["D"] = torch.zeros(4, 4).t()  # replaced by the user (in w's layout): used, not the old one
    opt.step()
    torch.testing.assert_close(opt.state[w]["D"], 0.9 * (-0.1 * g), rtol=1e-6, atol=1e-7)
    h = torch.nn.Parameter(torch.ones(8, dtype=torch.float16))
    opt = ht.ExpO2NC([h], lr=0.5, momentum=0.5, seed=2)
    h.grad = torch.ones(8, dtype=torch.float16)
    opt.step()
    h.data = h.data.view(torch.bfloat16)  # same pointer, shape and strides; another dtype
    h.grad = torch.ones(8, dtype=torch.bfloat16)
    opt.step()
    assert opt.state[h]["D"].dtype == torch.bfloat16


def test_a_grad_of_another_shape_is_rejected_not_read_past_its_end():
    # `p.grad.data = t` bypasses torch's shape check on assignment: a smaller contiguous grad of the same
    # dtype would otherwise pass the layout check and be read past its end (or broadcast by a copy).
    w = torch.nn.Parameter(torch.zeros(64))
    opt = ht.ExpO2NC([w], lr=0.1, momentum=0.9, seed=2)
    w.grad = torch.ones(64)
    opt.step()
    before = w.detach().clone()
    w.grad.data = torch.ones(1)
    with pytest.raises(ValueError, match=r"grad: expected shape \(64,\), got \(1,\)"):
        opt.step()
    assert torch.equal(w.detach(), before)


def test_a_failed_rebuild_fails_again_rather_than_stepping_the_old_table():
    # After a good step, y.data is made to alias x's memory: the rebuild refuses (overlap). The next
    # step must refuse again, not step the table of the old memory (before the table's module was split
    # out, the keys were updated before the table was made, and that step wrote through the old pointers).
    x, y = torch.nn.Parameter(torch.ones(6)), torch.nn.Parameter(torch.ones(6))
    opt = ht.ExpO2NC([x, y], lr=0.1, momentum=0.9, seed=3)
    x.grad, y.grad = torch.ones(6), torch.ones(6)
    opt.step()
    y.data = x.data[:]
    before = x.detach().clone()
    for _ in range(2):
        with pytest.raises(ValueError, match=r"params\[0\] and params\[1\]: expected memory of their own"):
            opt.step()
    assert torch.equal(x.detach(), before) and opt.step_count == 1
