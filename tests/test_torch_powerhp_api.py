"""homotopt.torch.ProgPowerHP as a torch optimizer: resume, copies, schedulers, hooks, the best iterate,
buffers, the NaN policy, and bad arguments as a table."""

import copy
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import homotopt  # noqa: E402
from homotopt.torch import ProgPowerHP  # noqa: E402

from _torch_powerhp_ref import data, flat, losses, mlp, reference_step  # noqa: E402

KW = dict(num_samples=3, power=homotopt.PowerSchedule(0.5, 0.1), sigma=homotopt.SigmaSchedule(0.1, 0.9),
          lr=homotopt.LearningRate(0.02, gamma=0.1), seed=7)


def steps(opt, model, x, y, n):
    for _ in range(n):
        opt.step(lambda: losses(model, x, y))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_resume_is_bit_for_bit(dtype):
    x, y = data("mlp", 8, 1, dtype)
    a = mlp(3, dtype)
    oa = ProgPowerHP(a.parameters(), **KW)
    steps(oa, a, x, y, 3)
    oa.report(losses(a, x, y).mean())
    buf = io.BytesIO()
    torch.save({"model": a.state_dict(), "opt": oa.state_dict()}, buf)
    steps(oa, a, x, y, 2)
    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    b = mlp(4, dtype)
    b.load_state_dict(saved["model"])
    ob = ProgPowerHP(b.parameters(), num_samples=3, power=1.0, sigma=1.0, lr=1.0, seed=0)
    ob.load_state_dict(saved["opt"])
    assert ob.step_count == 3 and ob.seed == 7 and ob.best_step == 3
    steps(ob, b, x, y, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    ob.load_best()
    oa.load_best()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_deepcopy_steps_the_same():
    x, y = data("mlp", 8, 2)
    a = mlp(5)
    oa = ProgPowerHP(a.parameters(), **KW)
    steps(oa, a, x, y, 1)
    b = copy.deepcopy(a)
    ob = copy.deepcopy(oa)
    ob.param_groups[0]["params"] = list(b.parameters())  # torch's deepcopy copies the tensors separately
    steps(oa, a, x, y, 2)
    steps(ob, b, x, y, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_lr_scheduler_scales_the_base():
    model = mlp(0)
    opt = ProgPowerHP(model.parameters(), **KW)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = data("mlp", 4, 0)
    base = opt.schedules()[0][2]
    steps(opt, model, x, y, 1)
    sched.step()
    want = 0.01 * (1 + 1.0) ** -(0.5 + 0.1)  # base 0.02 halved, at t = 1
    assert opt.schedules()[0][2] == pytest.approx(want, rel=1e-15) and base == pytest.approx(0.02)


def test_a_scheduler_that_reaches_zero_stops_the_parameters():
    """CosineAnnealingLR(eta_min=0) ends at lr = 0: the step then moves nothing (no error), and the
    parameters hold mu, not a sample."""
    model = mlp(0)
    opt = ProgPowerHP(model.parameters(), **KW)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2, eta_min=0.0)
    x, y = data("mlp", 4, 0)
    for _ in range(2):
        steps(opt, model, x, y, 1)
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.0
    mu = flat(model)
    steps(opt, model, x, y, 1)
    np.testing.assert_array_equal(flat(model), mu)
    assert all(p.grad is None for p in model.parameters())


def test_an_error_after_the_samples_leaves_mu(monkeypatch):
    model = mlp(1)
    opt = ProgPowerHP(model.parameters(), **KW)
    x, y = data("mlp", 4, 1)
    mu = flat(model)

    def broken(*args, **kwargs):
        raise RuntimeError("a collective failed")

    monkeypatch.setattr(opt, "_apply", broken)
    with pytest.raises(RuntimeError, match="a collective failed"):
        steps(opt, model, x, y, 1)
    np.testing.assert_array_equal(flat(model), mu)
    assert all(p.grad is None for p in model.parameters()) and opt.step_count == 0


def test_step_hooks_run():
    model = mlp(0)
    opt = ProgPowerHP(model.parameters(), **KW)
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: seen.append("post"))
    x, y = data("mlp", 4, 0)
    steps(opt, model, x, y, 1)
    assert seen == ["pre", "post"]


def test_parameters_hold_mu_and_report_keeps_the_best():
    model = mlp(1)
    x, y = data("mlp", 8, 1)
    opt = ProgPowerHP(model.parameters(), **KW)
    assert opt.report(5.0) and not opt.report(6.0) and not opt.report(float("nan"))  # losses: lower is better
    best = flat(model)
    steps(opt, model, x, y, 2)
    assert not np.array_equal(flat(model), best)
    opt.load_best()
    np.testing.assert_array_equal(flat(model), best)
    assert opt.best_value == -5.0 and opt.best_step == 0


def test_frozen_buffers_are_not_moved_by_the_samples():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 1)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    before = [b.clone() for b in model.buffers()]
    opt = ProgPowerHP(model.parameters(), num_samples=4, power=1.0, sigma=0.1, lr=0.01, seed=1,
                      freeze_buffers=model.buffers())
    steps(opt, model, x, y, 2)
    for b, c in zip(model.buffers(), before):
        assert torch.equal(b, c)
    free = ProgPowerHP(model.parameters(), num_samples=4, power=1.0, sigma=0.1, lr=0.01, seed=1)
    steps(free, model, x, y, 1)
    assert int(model[1].num_batches_tracked) == 4  # one update per sample


def test_nan_raise_leaves_mu():
    model = mlp(2)
    x, y = data("mlp", 8, 2)
    mu = flat(model)
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=1.0, sigma=0.1, lr=0.01, seed=1)
    calls = []

    def closure():
        calls.append(1)
        out = losses(model, x, y)
        return out if len(calls) < 2 else out * torch.nan

    with pytest.raises(ValueError, match=r"sample 1 returned a NaN or -inf loss"):
        opt.step(closure)
    np.testing.assert_array_equal(flat(model), mu)
    assert opt.step_count == 0


def test_nan_omit_drops_the_pairs():
    """Pairs whose loss is NaN get weight 0: the step equals the reference without them (here: the
    closure's NaN rows are rows the reference never sees, so we compare with a loss that is the same
    on the kept rows and NaN on the rest)."""
    model, twin = mlp(3), mlp(3)
    x, y = data("mlp", 8, 3)
    mask = torch.tensor([True, False, True, True, False, True, True, True])
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=2.0, sigma=0.1, lr=0.01, seed=4, nan_policy="omit")
    opt.step(lambda: torch.where(mask, losses(model, x, y), torch.nan))
    ref = ProgPowerHP(twin.parameters(), num_samples=3, power=2.0, sigma=0.1, lr=0.01, seed=4)
    ref.step(lambda: losses(twin, x[mask], y[mask]))
    np.testing.assert_allclose(flat(model), flat(twin), rtol=1e-13, atol=1e-15)
    assert not opt.found_inf


def test_nan_gradient_under_omit_moves_nothing():
    model = mlp(4)
    x, y = data("mlp", 8, 4)
    mu = flat(model)
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=1, nan_policy="omit")

    def closure():  # a finite loss whose gradient is NaN: sqrt at 0 of a product with 0
        out = losses(model, x, y)
        return out + 0.0 * torch.sqrt(model[0].weight - model[0].weight.detach()).sum()

    opt.step(closure)
    assert opt.found_inf
    np.testing.assert_array_equal(flat(model), mu)
    raising = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=1)
    with pytest.raises(ValueError, match="gradient holds NaN or inf"):
        raising.step(closure)
    np.testing.assert_array_equal(flat(model), mu)


def test_infinite_loss_is_a_counted_pair_of_weight_zero():
    """loss = +inf is fitness -inf: weight 0 but counted (log_scale sees it), as in power_gradient."""
    model, twin = mlp(5), mlp(5)
    x, y = data("mlp", 4, 5)
    inf_row = torch.tensor([False, True, False, False])
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=2)
    opt.step(lambda: torch.where(inf_row, torch.inf, losses(model, x, y)))
    ref = ProgPowerHP(twin.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=2)
    ref.step(lambda: losses(twin, x[~inf_row], y[~inf_row]))
    np.testing.assert_allclose(flat(model), flat(twin), rtol=1e-13, atol=1e-15)


def test_scalar_closure_and_maximize_flip():
    """A scalar closure is one pair (J = 1); maximize=True on -loss equals maximize=False on loss."""
    a, b = mlp(6), mlp(6)
    x, y = data("mlp", 8, 6)
    ProgPowerHP(a.parameters(), num_samples=4, power=3.0, sigma=0.1, lr=0.01, seed=3).step(
        lambda: losses(a, x, y).mean())
    ProgPowerHP(b.parameters(), num_samples=4, power=3.0, sigma=0.1, lr=0.01, seed=3, maximize=True).step(
        lambda: -losses(b, x, y).mean())
    np.testing.assert_array_equal(flat(a), flat(b))


@pytest.mark.parametrize("vectorize", [False, True])
def test_frozen_parameter_gets_no_noise_and_no_step(vectorize):
    model = mlp(7)
    model[2].bias.requires_grad_(False)
    before = model[2].bias.detach().clone()
    x, y = data("mlp", 8, 7)
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=3,
                      vectorize=vectorize, module=model)
    seen = []

    def closure():
        if not vectorize:
            seen.append(model[2].bias.detach().clone())
        return losses(model, x, y)

    opt.step(closure)
    assert torch.equal(model[2].bias, before)
    assert all(torch.equal(b, before) for b in seen)


def _model_params():
    return list(mlp(0).parameters())


BAD = [
    (dict(num_samples=0), ValueError, r"num_samples: expected an integer >= 1, got 0"),
    (dict(num_samples=2.5), TypeError, r"num_samples: expected an integer"),
    (dict(step_rule="exp"), ValueError, r"step_rule: expected 'raw', 'log' or 'unit', got 'exp'"),
    (dict(nan_policy="skip"), ValueError, r"nan_policy: expected 'raise' or 'omit', got 'skip'"),
    (dict(power=-1.0), ValueError, r"power.start: expected a finite N_0 >= 0, got -1"),
    (dict(sigma=0.0), ValueError, r"sigma.start: expected a finite sigma_0 > 0, got 0"),
    (dict(lr=0.0), ValueError, r"lr.base: expected a finite rate > 0, got 0"),
    (dict(seed=-1), ValueError, r"seed: expected an integer >= 0"),
    (dict(maximize=1), TypeError, r"maximize: expected a bool, got int"),
    (dict(vectorize=True), ValueError, r"vectorize: expected module="),
    (dict(params=[torch.zeros(3, dtype=torch.int64)]), TypeError,
     r"param_groups\[0\]\['params'\]\[0\]: expected dtype torch.float32 or torch.float64, got torch.int64"),
    (dict(params=[torch.zeros(3, 4).t()]), ValueError, r"param_groups\[0\]\['params'\]\[0\]: expected a contiguous"),
    (dict(freeze_buffers=[1.0]), TypeError, r"freeze_buffers\[0\]: expected a tensor, got float"),
]


@pytest.mark.parametrize("change, exc, pattern", BAD)
def test_bad_arguments(change, exc, pattern):
    kw = dict(params=_model_params(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=1)
    kw.update(change)
    params = kw.pop("params")
    with pytest.raises(exc, match=pattern):
        ProgPowerHP(params, **kw)


CLOSURES = [
    (None, ValueError, r"closure: expected a callable"),
    (lambda: 1.0, TypeError, r"closure: expected a tensor of per-example losses"),
    (lambda: torch.zeros(2, dtype=torch.int64), TypeError, r"closure: expected a float32 or float64 tensor"),
    (lambda: torch.zeros(2, 3), ValueError, r"closure: expected a scalar or a \(J,\) tensor"),
    (lambda: torch.zeros(0), ValueError, r"closure: expected at least one value"),
]


@pytest.mark.parametrize("closure, exc, pattern", CLOSURES)
def test_bad_closures(closure, exc, pattern):
    model = mlp(0)
    mu = flat(model)
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=1)
    with pytest.raises(exc, match=pattern):
        opt.step(closure)
    np.testing.assert_array_equal(flat(model), mu)


def test_load_state_dict_of_another_optimizer():
    model = mlp(0)
    opt = ProgPowerHP(model.parameters(), num_samples=2, power=1.0, sigma=0.1, lr=0.01, seed=1)
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="expected a ProgPowerHP state_dict"):
        opt.load_state_dict(other.state_dict())


def test_u_lives_in_grad_one_buffer_per_parameter():
    """The merge keeps u in p.grad: the optimizer's own memory is one tensor (mu) per parameter, p.grad is
    None after the step, and leaves outside the optimizer (here the input) get no gradient."""
    model = mlp(8)
    x, y = data("mlp", 8, 8)
    x.requires_grad_(True)
    for p in model.parameters():
        p.grad = torch.ones_like(p)  # discarded on entry: a stale gradient does not enter u
    opt = ProgPowerHP(model.parameters(), num_samples=4, power=1.0, sigma=0.1, lr=0.01, seed=2)
    opt.step(lambda: losses(model, x, y))
    params = list(model.parameters())
    assert all(p.grad is None for p in params) and x.grad is None
    assert len(opt._scratch) == len(params)
    assert all(isinstance(b, torch.Tensor) and b.shape == p.shape for b, p in zip(opt._scratch.values(), params))
    twin = mlp(8)
    ProgPowerHP(twin.parameters(), num_samples=4, power=1.0, sigma=0.1, lr=0.01, seed=2).step(
        lambda: losses(twin, x.detach(), y))
    np.testing.assert_array_equal(flat(model), flat(twin))


def test_omit_drops_a_sample_whose_every_pair_is_nan_even_with_nan_gradients():
    """A sample with no counted pair has b = 0: its (NaN) gradient must not reach u = p.grad."""
    model, twin = mlp(9), mlp(9)
    x, y = data("mlp", 8, 9)
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=1.0, sigma=0.1, lr=0.01, seed=5, nan_policy="omit")
    calls = []

    def closure():  # sample 1: the forward itself goes NaN, so its backward gives NaN even with weight 0
        calls.append(1)
        xx = x * torch.nan if len(calls) == 2 else x
        return losses(model, xx, y)

    opt.step(closure)
    assert not opt.found_inf
    ref_calls = []

    def twin_closure():  # the same samples; sample 1 contributes nothing (its losses are dropped by 'omit')
        ref_calls.append(1)
        out = losses(twin, x, y)
        return out * torch.nan if len(ref_calls) == 2 else out

    ProgPowerHP(twin.parameters(), num_samples=3, power=1.0, sigma=0.1, lr=0.01, seed=5,
                nan_policy="omit").step(twin_closure)
    got, want = flat(model), flat(twin)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(got, want)
