"""homotopt.torch.ExpO2NC with torch.amp.GradScaler: the fused-optimizer protocol
(_step_supports_amp_scaling: the step unscales inside the update and skips on found_inf) against
torch's own path for other optimizers (scaler.unscale_ then opt.step, skipped on inf)."""

import copy

import pytest

torch = pytest.importorskip("torch")
import homotopt.torch as ht  # noqa: E402


class Unfused(ht.ExpO2NC):
    """The reference: GradScaler unscales the grads itself (unscale_) and skips step() on inf."""

    _step_supports_amp_scaling = False


def make_model(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(dtype)


def data(dtype=torch.float32, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 6, generator=gen)
    return x.to(dtype), (x.sum(1, keepdim=True) * 0.3).to(dtype)


def scaled_step(model, opt, scaler, x, y, poison=False):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x).float(), y.float())
    scaler.scale(loss).backward()
    if poison:  # one non-finite gradient entry: the whole step must be skipped
        next(model.parameters()).grad.view(-1)[3] = float("inf")
    scaler.step(opt)
    scaler.update()
    return float(loss.detach())


def flat(model):
    return torch.cat([p.detach().float().reshape(-1) for p in model.parameters()])


def test_the_protocol_is_advertised():
    assert ht.ExpO2NC._step_supports_amp_scaling is True


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_unscale_equals_unscale_then_step_including_an_inf_step(dtype):
    # GradScaler's scales are powers of two, so the fused unscale (1/scale folded into the gradient's
    # coefficient) is exact: bit for bit the reference, in float32 and (same exponent range) bfloat16.
    fused_model, x_y = make_model(dtype), data(dtype)
    ref_model = copy.deepcopy(fused_model)
    fused = ht.ExpO2NC(fused_model.parameters(), lr=0.05, momentum=0.9, seed=7)
    ref = Unfused(ref_model.parameters(), lr=0.05, momentum=0.9, seed=7)
    s_fused, s_ref = torch.amp.GradScaler("cpu", init_scale=2.0**10), torch.amp.GradScaler("cpu", init_scale=2.0**10)
    for k in range(6):
        poison = k == 3
        before = flat(fused_model).clone()
        scaled_step(fused_model, fused, s_fused, *x_y, poison=poison)
        scaled_step(ref_model, ref, s_ref, *x_y, poison=poison)
        assert torch.equal(flat(fused_model), flat(ref_model)), k
        assert s_fused.get_scale() == s_ref.get_scale()
        if poison:
            assert torch.equal(flat(fused_model), before)  # nothing written
            assert fused.found_inf and fused.skipped_steps == 1 and fused.step_count == 3
            assert s_fused.get_scale() == 2.0**9  # GradScaler backed off
        else:
            assert not fused.found_inf and not torch.equal(flat(fused_model), before)
    assert fused.step_count == ref.step_count == 5
    assert not hasattr(fused, "grad_scale") and fused.__dict__.get("_amp_found_inf") is None  # deleted again


def test_float16_params_and_grads_within_one_unit_in_the_last_place():
    # torch's unscale_ refuses float16 grads; the fused step takes them (the product g / scale is formed
    # in float32, where unscaling the grads in place would round it to float16 first).
    model, (x, y) = make_model(torch.float16), data(torch.float16)
    ref_model = copy.deepcopy(model)
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, momentum=0.9, seed=3)
    ref = ht.ExpO2NC(ref_model.parameters(), lr=0.05, momentum=0.9, seed=3)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    for _ in range(4):
        scale = scaler.get_scale()
        scaled_step(model, opt, scaler, x, y)
        ref.zero_grad()
        torch.nn.functional.mse_loss(ref_model(x).float(), y.float()).mul(scale).backward()
        for p in ref_model.parameters():
            p.grad = (p.grad.float() / scale).half()
        ref.step()
        for p, q in zip(model.parameters(), ref_model.parameters()):
            torch.testing.assert_close(p, q, rtol=2.0**-10, atol=2.0**-24)
    assert opt.step_count == 4


def test_user_unscale_then_step_is_not_unscaled_twice():
    model, (x, y) = make_model(), data()
    ref_model = copy.deepcopy(model)
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, seed=2)
    ref = Unfused(ref_model.parameters(), lr=0.05, seed=2)
    for m, o in ((model, opt), (ref_model, ref)):
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**6)
        for _ in range(3):
            o.zero_grad()
            scaler.scale(torch.nn.functional.mse_loss(m(x), y)).backward()
            scaler.unscale_(o)  # e.g. for gradient clipping: GradScaler then passes grad_scale=None
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            scaler.step(o)
            scaler.update()
    assert torch.equal(flat(model), flat(ref_model))


def test_a_real_loop_with_cpu_autocast_and_grad_scaler():
    model, (x, y) = make_model(), data()
    ref_model = copy.deepcopy(model)
    opt = ht.ExpO2NC(model.parameters(), lr=0.03, momentum=0.9, seed=11)
    ref = Unfused(ref_model.parameters(), lr=0.03, momentum=0.9, seed=11)
    losses = []
    for m, o in ((model, opt), (ref_model, ref)):
        scaler = torch.amp.GradScaler("cpu")
        for _ in range(30):
            o.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.mse_loss(m(x).float(), y)
            scaler.scale(loss).backward()
            scaler.step(o)
            scaler.update()
            if o is opt:
                losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    assert torch.equal(flat(model), flat(ref_model))


def test_a_non_power_of_two_scale_is_within_rounding():
    model, (x, y) = make_model(), data()
    ref_model = copy.deepcopy(model)
    opt = ht.ExpO2NC(model.parameters(), lr=0.05, seed=5)
    ref = Unfused(ref_model.parameters(), lr=0.05, seed=5)
    for m, o in ((model, opt), (ref_model, ref)):
        scaler = torch.amp.GradScaler("cpu", init_scale=1000.0)
        for _ in range(3):
            scaled_step(m, o, scaler, x, y)
    torch.testing.assert_close(flat(model), flat(ref_model), rtol=1e-6, atol=1e-7)
