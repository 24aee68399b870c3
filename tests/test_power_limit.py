"""Issue 13, item 3: when N f overflows float64 (either sign) every surface returns the N -> infinity
limit (lse.hpp): weight 1/T on the T ties of the largest counted value top, 0 elsewhere, and
log_scale = log_mean_exp = +-inf. Exact, not an approximation; nothing raises for overflow."""

import math
import pickle
import random

import numpy as np
import pytest

import homotopt as ht
from homotopt import _core, reference
from homotopt.problems import PhaseRetrieval, Toy1D, TwoLayerReLU

from _native_runner import native_iterates

BIG = 1e300


# ---- power_weights / power_gradient, hand-picked ----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("values, want, lse", [
    ([-1e10, -2e10], [1.0, 0.0], -math.inf),                       # the example
    ([-1e10, -1e10, -2e10], [0.5, 0.5, 0.0], -math.inf),           # ties share equally
    ([1e10, 2e10, 2e10], [0.0, 0.5, 0.5], math.inf),               # positive overflow
    ([1e10, -1.0, 1e-300, -np.inf], [1.0, 0.0, 0.0, 0.0], math.inf),  # mixed finite / overflowed / -inf
    ([-1e10, -np.inf, -np.inf], [1.0, 0.0, 0.0], -math.inf),      # f = -inf: weight 0, not an overflow
    ([-3e10], [1.0], -math.inf),                                    # K = 1
])
def test_power_weights_give_the_limit(values, want, lse, dtype):
    v = np.array(values, dtype=dtype)
    if dtype == np.float32 and np.any((v != 0) & (np.abs(v) < 1e-30)):
        pytest.skip("1e-300 is 0 in float32")
    w, got = ht.power_weights(v, BIG)
    np.testing.assert_array_equal(w, np.array(want, dtype=dtype))
    assert got == lse
    w_ref, lse_ref = reference.power_weights(v, BIG)
    np.testing.assert_array_equal(w, w_ref.astype(dtype))
    assert lse_ref == lse


def test_finite_max_over_negative_overflow_is_unchanged():
    v = np.array([-1.0, -2e10, -np.inf])  # N f = -1e300 (finite), -inf (overflow), -inf (f = -inf)
    w, lse = ht.power_weights(v, BIG)
    np.testing.assert_array_equal(w, [1.0, 0.0, 0.0])
    assert lse == -1e300


@pytest.mark.parametrize("values, ties, sign", [
    ([-1e10, -2e10, -1e10, -5e10], [0, 2], -1), ([1e10, 2e10, 2e10, -1.0], [1, 2], 1), ([7e10], [0], 1)])
@pytest.mark.parametrize("d", [1, 5])
def test_power_gradient_is_the_ties_mean(values, ties, sign, d, rng):
    v = np.array(values)
    g = rng.standard_normal((len(values), d))
    res = ht.power_gradient(v, g, BIG)
    np.testing.assert_allclose(res.direction, g[ties].mean(axis=0), rtol=1e-15, atol=1e-15)
    assert res.log_scale == sign * math.inf and res.log_mean_exp == sign * math.inf
    assert res.count == len(values) and res.omitted == 0
    # the literal gradient: e^(+-inf) times the direction, i.e. +-inf (by sign) or 0
    want = np.where(res.direction == 0, 0.0, np.copysign(np.inf, res.direction)) if sign > 0 else np.zeros(d)
    np.testing.assert_array_equal(res.gradient, want)
    ref = reference.power_gradient(v, g, BIG)
    np.testing.assert_allclose(res.direction, ref["direction"], rtol=1e-15, atol=1e-15)
    assert ref["log_scale"] == res.log_scale


def test_two_d_values_name_the_limit(rng):
    v = np.array([[-1e10, -3e10], [-1e10, -2e10]])  # (K, J) = (2, 2): ties at (0, 0) and (1, 0)
    g = rng.standard_normal((2, 2, 3))
    res = ht.power_gradient(v, g, BIG)
    np.testing.assert_allclose(res.direction, (g[0, 0] + g[1, 0]) / 2, rtol=1e-15)
    assert res.log_scale == -math.inf


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_policies_in_the_limit(bad, rng):
    v = np.array([-1e10, bad, -1e10, -2e10])
    g = rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match="non-finite value"):
        ht.power_gradient(v, g, BIG)
    with pytest.raises(ValueError, match="non-finite value"):
        ht.power_weights(v, BIG)
    res = ht.power_gradient(v, g, BIG, nan_policy="omit")
    np.testing.assert_allclose(res.direction, (g[0] + g[2]) / 2, rtol=1e-15)
    assert res.omitted == 1 and res.count == 3 and res.log_scale == -math.inf
    w, lse = ht.power_weights(v, BIG, nan_policy="omit")
    np.testing.assert_array_equal(w, [0.5, 0.0, 0.5, 0.0])


def test_non_finite_gradient_of_a_tie_follows_the_policy(rng):
    v = np.array([2e10, 2e10, 1.0])
    g = rng.standard_normal((3, 2))
    g[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite gradient"):
        ht.power_gradient(v, g, BIG)
    res = ht.power_gradient(v, g, BIG, nan_policy="omit")
    np.testing.assert_allclose(res.direction, g[0], rtol=1e-15)  # the other tie alone
    assert res.log_scale == math.inf


# ---- PowerState: chunks and merges in any order, pickling ---------------------------------------------
CHUNKED = [
    [-1e10, -2e10, -1e10, -3e10, -1e10, -5e10],          # -inf limit throughout
    [1e10, -1.0, 2e10, 1e-301, 2e10, 0.5],               # +inf limit with normal chunks
    [-1e10, 1e-301, -2e10, -np.inf, -1e-301, -3e10],     # finite max beats -inf-limit chunks
    [-1e10, -2e10, 2e10, -np.inf, -1e10, 2e10, 1e-301],  # all kinds
    [-np.inf, -1e10, -np.inf, -np.inf],                  # one -inf-limit pair among f = -inf
]


@pytest.mark.parametrize("values", CHUNKED)
@pytest.mark.parametrize("seed", range(6))
def test_power_state_chunks_merge_to_the_one_shot_limit(values, seed):
    rnd = random.Random(seed)
    v = np.array(values)
    g = np.random.default_rng(seed).standard_normal((len(v), 3))
    one = ht.power_gradient(v, g, BIG)
    cuts = sorted(rnd.sample(range(1, len(v)), rnd.randint(1, len(v) - 1)))
    bounds = [0] + cuts + [len(v)]
    states = [ht.PowerState(3).update(v[a:b], g[a:b], BIG) for a, b in zip(bounds, bounds[1:])]
    states = [pickle.loads(pickle.dumps(s)) if rnd.random() < 0.5 else s for s in states]
    rnd.shuffle(states)
    while len(states) > 1:
        i, j = rnd.sample(range(len(states)), 2)
        states[i].merge(states[j])
        states.pop(j)
    res = pickle.loads(pickle.dumps(states[0])).result()
    np.testing.assert_allclose(res.direction, one.direction, rtol=1e-14, atol=1e-15)
    assert res.log_scale == one.log_scale and res.count == one.count
    ref = reference.power_gradient(v, g, BIG)
    np.testing.assert_allclose(res.direction, ref["direction"], rtol=1e-14, atol=1e-15)
    assert ref["log_scale"] == res.log_scale


def test_power_state_pickle_holds_top_and_is_validated():
    s = ht.PowerState(2).update(np.array([-1e10, -1e10]), np.ones((2, 2)), BIG)
    st = s.__getstate__()
    assert st["m"] == -math.inf and st["top"] == -1e10 and st["s"] == 2.0
    for key, bad, match in [("top", -2e10 * 1e-300, "top"), ("s", 2.5, "ties"), ("s", 3.0, "ties"),
                            ("top", math.nan, "top"), ("top", math.inf, "top")]:
        broken = dict(st, **{key: bad})
        with pytest.raises(ValueError, match=match):
            ht.PowerState(2).__setstate__(broken)
    old = {k: v for k, v in st.items() if k != "top"}  # a pickle from before: no top
    with pytest.raises(ValueError, match="s = 0 with m = -inf"):
        ht.PowerState(2).__setstate__(old)
    finite = ht.PowerState(2).update(np.array([1.0]), np.ones((1, 2)), 1.0).__getstate__()
    del finite["top"]
    restored = ht.PowerState(2)
    restored.__setstate__(finite)
    assert restored.result().log_scale == pytest.approx(1.0)


# ---- the fused phase-retrieval estimator and the runner ----------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale, power", [(100.0, 1e308), (100.0, 1e300)])
def test_fused_phase_retrieval_gives_the_limit(dtype, scale, power):
    """mu far out (f ~ -1e5): N = 1e308 overflows every N f to -inf (the limit); N = 1e300 does not."""
    problem = PhaseRetrieval.random(6, 30, seed=3, dtype=dtype)
    mu = (scale * problem.random_start(1, seed=4)[0]).astype(dtype)
    rows = np.array([0, 5, 5, 7, 29, 13, 2, 2, 9, 11, 3, 4, 8, 20, 21])  # 15 rows: blocks of 12 and 3
    fused = problem.power_gradient(mu, sigma=0.3, power=power, num_samples=9, seed=5, step=1, rows=rows)
    W = reference.phase_retrieval_samples(mu, 0.3, 9, 5, 1).astype(dtype)
    values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
    generic = ht.power_gradient(values.astype(dtype), grads.astype(dtype), power)
    assert math.isinf(generic.log_scale) == (power > 1e305)
    assert fused.log_scale == pytest.approx(generic.log_scale, rel=1e-6)
    # the fused and generic routes round the samples and z differently; at |mu| ~ 100 that shows ~1e-8
    # relative in the (finite, N = 1e300) estimator as much as in the limit
    tol = 1e-7 if dtype == np.float64 else 1e-3
    scale = np.abs(generic.direction).max()
    np.testing.assert_allclose(fused.direction, generic.direction, rtol=0, atol=tol * scale)
    assert np.any(fused.direction != 0)


def limit_iterates(problem, mu0, steps, power, rule="unit", **kw):
    schedules = ht._run.schedule_config(ht.PowerSchedule(power), ht.SigmaSchedule(0.3), ht.LearningRate(0.05))
    return native_iterates(problem, mu0, "powerhp", steps, step_rule=ht._run.STEP_RULES[rule], **schedules, **kw)


@pytest.mark.parametrize("name", ["phase_retrieval", "relu", "toy1d"])
@pytest.mark.parametrize("power", [1e300, 1e308])
def test_runner_follows_the_limit(name, power):
    problem = {"phase_retrieval": lambda: PhaseRetrieval.random(5, 20, seed=3),
               "relu": lambda: TwoLayerReLU(3, 4, seed=4, test_size=20, validation_size=10),
               "toy1d": lambda: Toy1D(noise=0.05, validation_size=10, seed=1)}[name]()
    mu0 = np.array([0.6]) if name == "toy1d" else problem.random_start(1, seed=5)[0]
    T, K, J = 4, 5, 6
    native = limit_iterates(problem, mu0, T, power, num_samples=K, batch_size=J, seed=11)
    ref = reference.run_trial("powerhp", problem, mu0, steps=T, num_samples=K, batch_size=J,
                              power=ht.PowerSchedule(power), sigma=ht.SigmaSchedule(0.3),
                              lr=ht.LearningRate(0.05), step_rule="unit", seed=11)
    assert np.all(np.isfinite(native))
    assert np.any(native[-1] != native[0])  # the limit's direction moved the iterate
    np.testing.assert_allclose(native, ref, rtol=0, atol=1e-11 * max(1.0, np.abs(ref).max()))


# ---- ask/tell ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("maximize", [True, False])
def test_ask_tell_gives_the_limit(maximize, rng):
    opt = ht.ProgPowerHP(np.zeros(3), num_samples=4, power=BIG, sigma=0.1, lr=0.5, step_rule="mean",
                         seed=1, maximize=maximize)
    opt.ask()
    values = np.array([1e10, 3e10, 3e10, 2e10]) * (1 if maximize else -1)  # best: k = 1, 2 either way
    grads = rng.standard_normal((4, 3))
    opt.tell(values, grads)
    # the fitness gradient is grads (maximize) or -grads (losses): mu moves along the best pairs' mean
    sign = 1.0 if maximize else -1.0
    np.testing.assert_allclose(opt.mu, sign * 0.5 * grads[1:3].mean(axis=0), rtol=1e-14, atol=1e-15)

    # the weights route: softmax(N f) is the limit, then tell(g) with g the gradient of sum p f
    w = ht.ProgPowerHP(np.zeros(3), num_samples=4, power=BIG, sigma=0.1, lr=0.5, step_rule="mean",
                       seed=1, maximize=maximize)
    w.ask()
    p = w.weights(values)
    np.testing.assert_array_equal(np.ravel(p), [0.0, 0.5, 0.5, 0.0])
    w.tell(p[:, None] * grads)
    np.testing.assert_allclose(w.mu, opt.mu, rtol=1e-14, atol=1e-15)


# ---- torch ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("vectorize", [False, True])
def test_torch_progpowerhp_gives_the_limit(maximize, vectorize):
    torch = pytest.importorskip("torch")
    import _torch_powerhp_ref as R
    from homotopt.torch import ProgPowerHP

    seed = 7
    model = R.mlp(seed)
    x, y = R.data("mlp", 5, seed)
    mul = 1e10  # |f| ~ 1e10 and N = 1e300: every N f overflows (to -inf when maximize=False)

    def fn(call, xx, yy):
        return mul * (call(xx).squeeze(-1) - yy) ** 2

    mu = R.flat(model)
    eps = ht.random.normal((3, mu.size), seed, 0, stream=ht.random.Stream.SAMPLES)
    values, grads = R.pairs(model, mu, eps, np.full(mu.size, 0.05), x, y, maximize, fn)
    est = reference.power_gradient(values, grads, BIG)
    assert math.isinf(est["log_scale"])
    d = est["direction"]
    want = mu + 1e-3 * d / np.linalg.norm(d)
    opt = ProgPowerHP(model.parameters(), num_samples=3, power=BIG, sigma=0.05, lr=1e-3, seed=seed,
                      maximize=maximize, step_rule="unit", vectorize=vectorize,
                      module=model if vectorize else None)
    opt.step(lambda: mul * R.losses(model, x, y))
    got = R.flat(model)
    np.testing.assert_allclose(got - mu, want - mu, rtol=1e-9, atol=1e-15)


def test_torch_rank_merge_follows_the_limit():
    torch = pytest.importorskip("torch")
    from homotopt.torch import _powerhp_merge as merge

    inf = math.inf
    # rows (m, s, count, top) of four "ranks" for three groups
    states = [torch.tensor([[-inf, 1.0, 2.0, -2e10], [5.0, 1.5, 2.0, -inf], [inf, 1.0, 2.0, 1e10]]),
              torch.tensor([[-inf, 2.0, 2.0, -1e10], [-inf, 1.0, 2.0, -3e10], [inf, 2.0, 2.0, 2e10]]),
              torch.tensor([[-inf, 1.0, 2.0, -1e10], [3.0, 1.0, 2.0, -inf], [7.0, 1.0, 2.0, -inf]]),
              torch.tensor([[-inf, 0.0, 2.0, -inf], [-inf, 0.0, 2.0, -inf], [inf, 1.0, 2.0, 2e10]])]
    table = torch.stack(states).to(torch.float64).contiguous()  # (W, G, 4)
    scale = torch.empty(4, 3, dtype=torch.float64)
    merged = torch.empty(3, 4, dtype=torch.float64)
    for r in range(4):  # the native rank merge (power_merge.hpp) as each rank runs it
        _core.power_merge_ranks_pointers(table.data_ptr(), 4, 3, r, merged.data_ptr(), scale[r].data_ptr(),
                                         _core.DeviceType.cpu, 0, 0)
    # group 0: four -inf states, the two with top -1e10 win; group 1: finite max 5; group 2: +inf, top 2e10
    want = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, math.exp(-2.0), 0.0], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)
    torch.testing.assert_close(scale, want, rtol=0, atol=1e-15)
    assert merged[:, 3].tolist() == [-1e10, -inf, 2e10]
    assert merged[:, 1].tolist() == [3.0, 1.5 + math.exp(-2.0), 3.0] and merged[:, 2].tolist() == [8.0] * 3
    # the per-sample merge (native, power_merge.hpp): a sample in the +inf limit into a finite row, then a
    # tie, then a lower limit (J = 1, 2, 1 pairs counted)
    state = torch.tensor([[2.0, 1.0, 3.0, -inf]], dtype=torch.float64)
    c = torch.zeros(1, 2, dtype=torch.float64)
    for f, want_c, want_state in [([5e10], [0.0, 1.0], [inf, 1.0, 4.0, 5e10]),
                                  ([5e10, 5e10], [1.0, 1.0], [inf, 3.0, 6.0, 5e10]),
                                  ([4e10], [1.0, 0.0], [inf, 3.0, 7.0, 5e10])]:
        merge.merge_sample(state, c, torch.tensor(f, dtype=torch.float64), torch.ones(len(f), dtype=torch.bool),
                           1e300, [0])
        assert c.tolist() == [want_c] and state.tolist() == [want_state]
