"""homotopt.torch.ExpO2NC on float16 and bfloat16 parameters (float32 arithmetic, 16-bit or float32 D),
non-dense parameters, tensor lr, and the float16/bfloat16 conversions of homotopt/float16.hpp."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import homotopt.torch as ht  # noqa: E402

SIXTEEN = [torch.float16, torch.bfloat16]


def reference_step(x, g, D, *, lr, beta, s, weight_decay=0.0, buffer_dtype):
    """The float32 rule the kernel runs for 16-bit storage: coefficients rounded to float32, each fused
    multiply-add evaluated exactly in float64 (16-bit times float32 operands fit in 53 bits) and rounded
    once to float32, the product b' t rounded to float32, D stored in its dtype and that stored D added
    to x. Returns (x, D): x as a float32 value before its rounding to x's dtype.

    A float64 rule with lr = 0.05 itself is not the reference: where D cancels eta g exactly in float64
    (D = -0.044921875, g = -0.8984375) float32's eta leaves a residual of ~6e-10, which is right for the
    float32 rule but infinitely many ulps away from 0."""
    def f32(t):
        return t.to(torch.float32).double()

    neg_lr, neg_lr_decay, discount, scale = (float(np.float32(v)) for v in (-lr, -lr * weight_decay, beta, s))
    x64, g64, D64 = x.double(), g.double(), D.double()
    t = f32(neg_lr * g64 + D64)
    if weight_decay:
        t = f32(neg_lr_decay * x64 + t)
    D_new = f32(discount * t).to(buffer_dtype)
    return f32(scale * D_new.double() + x64), D_new


def ulps_apart(a, b):
    """|a - b| in units of the last place of a's dtype at b's magnitude (both of one 16-bit dtype)."""
    info = torch.finfo(a.dtype)
    b64 = b.double()
    exponent = torch.floor(torch.log2(b64.abs().clamp_min(info.smallest_normal)))
    ulp = torch.pow(2.0, exponent) * info.eps
    return ((a.double() - b64).abs() / ulp).max().item()


@pytest.mark.parametrize("dtype", SIXTEEN)
@pytest.mark.parametrize("buffer_dtype", [None, torch.float32])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_sixteen_bit_params_follow_the_float32_rule_within_one_ulp(rng, dtype, buffer_dtype, weight_decay):
    shapes = [(37,), (8, 9), (3, 4, 5)]
    params = [torch.nn.Parameter(torch.tensor(rng.standard_normal(s), dtype=dtype)) for s in shapes]
    opt = ht.ExpO2NC(params, lr=0.05, momentum=0.9, weight_decay=weight_decay, seed=3, buffer_dtype=buffer_dtype)
    want_D = buffer_dtype or dtype
    for _ in range(5):
        grads = [torch.tensor(rng.standard_normal(s), dtype=dtype) for s in shapes]
        before = [(p.detach().clone(), opt.state[p]["D"].clone() if "D" in opt.state[p] else torch.zeros_like(
            p, dtype=want_D)) for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        s = opt.last_s
        for p, g, (x0, D0) in zip(params, grads, before):
            x_ref, D_ref = reference_step(x0, g, D0, lr=0.05, beta=0.9, s=s, weight_decay=weight_decay,
                                          buffer_dtype=want_D)
            D = opt.state[p]["D"]
            assert p.dtype == dtype and D.dtype == want_D
            # The reference follows the kernel's float32 steps, so the results agree but for a rare double
            # rounding in the exact-in-float64 emulation of a fused multiply-add: within one 16-bit ulp.
            assert ulps_apart(p.detach(), x_ref) <= 1.0
            if want_D != torch.float32:
                assert ulps_apart(D, D_ref.double()) <= 1.0
            else:
                np.testing.assert_array_equal(D.numpy(), D_ref.numpy())  # the same float32 steps


@pytest.mark.parametrize("dtype", SIXTEEN)
def test_sixteen_bit_nonfinite_grads_skip(dtype):
    p = torch.nn.Parameter(torch.ones(100, dtype=dtype))
    opt = ht.ExpO2NC([p], lr=0.1, momentum=0.9)
    g = torch.ones(100, dtype=dtype)
    g[77] = float("inf")
    p.grad = g
    opt.step()
    assert opt.found_inf and torch.equal(p.detach(), torch.ones(100, dtype=dtype)) and opt.step_count == 0
    strict = ht.ExpO2NC([p], lr=0.1, momentum=0.9, nan_policy="raise")
    g[77] = float("nan")
    with pytest.raises(ValueError, match=r"grads\[0\]: non-finite gradient nan at element 77"):
        strict.step()


def test_conversions_round_to_nearest_even_at_the_edges():
    # Values whose float32 -> 16-bit rounding is delicate: ties, subnormals, overflow, NaN, signed zero.
    cases = [1 + 2**-11, 1 + 3 * 2**-11, 65504.0, 65519.99, 65520.0, 2**-24, 2**-25, 3 * 2**-26, 2**-14 - 2**-25,
             -0.0, float("inf"), -float("inf"), float("nan"), 1 + 2**-8, 1 + 3 * 2**-8, 3.0e38, 1e-40]
    x = torch.tensor(cases, dtype=torch.float32)
    for dtype in SIXTEEN:
        # Widening and back: with lr = beta = s = 1 and x = D = 0, D = -g and x = D exactly (16-bit values
        # are exact in float32), so every stored bit pattern must come back unchanged.
        p = torch.nn.Parameter(torch.zeros(len(cases), dtype=dtype))
        opt = ht.ExpO2NC([p], lr=1.0, momentum=1.0, scaling="none", check_finite=False)
        p.grad = x.to(dtype)
        opt.step()
        D = opt.state[p]["D"]
        expect = (-x).to(dtype)
        assert torch.equal(D.isnan(), expect.isnan())
        assert torch.equal(D[~expect.isnan()], expect[~expect.isnan()])
        # x = 0 + 1 * D, stored: the same bits (including -0.0 + 0.0 = 0.0)
        assert torch.equal(p.detach()[~expect.isnan()], (expect + 0.0)[~expect.isnan()])
    # float32 -> 16-bit rounding itself (torch's .to() is the reference): with a float32 D = x and g = 0,
    # x_new = 0 + 1 * D is D's float32 value rounded once to the 16-bit dtype.
    for dtype in SIXTEEN:
        p = torch.nn.Parameter(torch.zeros(len(cases), dtype=dtype))
        opt = ht.ExpO2NC([p], lr=1.0, momentum=1.0, scaling="none", check_finite=False, buffer_dtype=torch.float32)
        opt.state[p]["D"] = x.clone()  # D = x, g = 0: x_new = round(0 + 1 * x)
        p.grad = torch.zeros(len(cases), dtype=dtype)
        opt.step()
        got, expect = p.detach(), x.to(dtype)
        assert torch.equal(got.isnan(), expect.isnan())
        keep = ~expect.isnan()
        assert torch.equal(got[keep].view(torch.int16), (expect[keep] + 0.0).view(torch.int16)), dtype


def test_non_dense_params_are_updated_correctly(rng):
    base = torch.tensor(rng.standard_normal((6, 8)), dtype=torch.float32)
    strided = torch.nn.Parameter(base.clone()[:, ::2])  # a view with strides (8, 2)
    transposed = torch.nn.Parameter(base.clone().t())    # strides (1, 8): dense, not row-major
    dense = [torch.nn.Parameter(t.detach().clone().contiguous()) for t in (strided, transposed)]
    opt = ht.ExpO2NC([strided, transposed], lr=0.1, momentum=0.9, seed=5)
    ref = ht.ExpO2NC(dense, lr=0.1, momentum=0.9, seed=5)
    for _ in range(3):
        for p, q in zip([strided, transposed], dense):
            g = torch.tensor(rng.standard_normal(tuple(p.shape)), dtype=torch.float32)
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        ref.step()
    assert not strided.is_contiguous() and strided.stride() == (8, 2)
    for p, q in zip([strided, transposed], dense):
        assert torch.equal(p.detach(), q.detach())  # the same update, bit for bit


def test_tensor_lr_and_a_scheduler_on_it(rng):
    p = torch.nn.Parameter(torch.ones(10))
    q = torch.nn.Parameter(torch.ones(10))
    lr = torch.tensor(0.1)
    opt = ht.ExpO2NC([p], lr=lr, momentum=0.9, seed=2)
    ref = ht.ExpO2NC([q], lr=0.1, momentum=0.9, seed=2)
    for k in range(3):
        p.grad = q.grad = torch.full((10,), float(k + 1))
        opt.step()
        ref.step()
        assert torch.equal(p.detach(), q.detach())
    lr.fill_(0.0)  # read each step
    p.grad = torch.ones(10)
    before = p.detach().clone()
    D = opt.state[p]["D"].clone()
    opt.step()
    torch.testing.assert_close(p.detach(), before + opt.last_s * (0.9 * D), rtol=1e-6, atol=0)


@pytest.mark.parametrize("buffer_dtype", [None, torch.float32])
def test_resumes_bit_for_bit_with_sixteen_bit_params(rng, buffer_dtype):
    def fresh():
        torch.manual_seed(0)
        model = torch.nn.Linear(6, 3).to(torch.bfloat16)
        return model, ht.ExpO2NC(model.parameters(), lr=0.05, momentum=0.9, seed=2, buffer_dtype=buffer_dtype)

    def train(model, opt, steps, seed):
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            opt.zero_grad()
            model(torch.randn(4, 6, generator=gen).to(torch.bfloat16)).float().pow(2).mean().backward()
            opt.step()

    model, opt = fresh()
    train(model, opt, 3, 0)
    saved_model = {k: v.clone() for k, v in model.state_dict().items()}
    saved_opt = copy.deepcopy(opt.state_dict())
    train(model, opt, 3, 1)
    model2, opt2 = fresh()
    model2.load_state_dict(saved_model)
    opt2.load_state_dict(saved_opt)  # torch would cast a float32 D to bfloat16 here
    assert all(opt2.state[p]["D"].dtype == (buffer_dtype or torch.bfloat16) for p in model2.parameters())
    train(model2, opt2, 3, 1)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
