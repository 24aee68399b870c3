"""power_merge_sample (power_merge.hpp, one sample's scalar merge for homotopt.torch.ProgPowerHP) against
the float64 reference homotopt.reference.power_merge_sample: random and adversarial inputs."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from homotopt import _core, reference  # noqa: E402
from homotopt.torch import _powerhp_merge as merge  # noqa: E402

inf = math.inf
# Rounding only: exp_nonpositive is within ~1 ulp of np.exp, and s_k is summed in another order.
RTOL = 1e-14

STATES = {
    "empty": [-inf, 0.0, 0.0, -inf],
    "finite": [2.5, 3.25, 4.0, -inf],
    "low": [-1e4, 1.5, 2.0, -inf],
    "limit+": [inf, 2.0, 3.0, 1e10],
    "limit-": [-inf, 1.0, 3.0, -1e10],
}


def run(f, counted, power, state, rows, dtype=torch.float64):
    st = torch.tensor(state, dtype=torch.float64)
    coef = torch.full((st.shape[0], 2), 7.0, dtype=torch.float64)
    w = merge.merge_sample(st, coef, torch.tensor(f, dtype=dtype), torch.tensor(counted, dtype=torch.bool), power, rows)
    return w, coef, st


def check(f, counted, power, state, rows, dtype=torch.float64):
    w, coef, st = run(f, counted, power, state, rows, dtype)
    f_in = np.asarray(torch.tensor(f, dtype=dtype).double())
    want_w, (a, b), want_state = reference.power_merge_sample(f_in, counted, power, state, rows)
    np.testing.assert_allclose(w.double().numpy(), want_w, rtol=RTOL if dtype == torch.float64 else 1e-7, atol=0)
    for r in rows:
        np.testing.assert_allclose(coef[r].numpy(), [a, b], rtol=RTOL, atol=0)
    np.testing.assert_allclose(st.numpy(), want_state, rtol=RTOL, atol=0)
    others = [r for r in range(len(state)) if r not in rows]
    assert (coef[others] == 7.0).all() and np.array_equal(st.numpy()[others], np.array(state)[others])
    return w, coef, st


@pytest.mark.parametrize("name", list(STATES))
@pytest.mark.parametrize("power", [0.0, 0.5, 3.0, 1e3])
@pytest.mark.parametrize("J", [1, 7, 300])
def test_random_against_reference(name, power, J):
    rng = np.random.default_rng(J * 7 + int(power))
    f = rng.normal(size=J) * 3
    counted = rng.random(J) > 0.2
    counted[0] = True
    state = [STATES[name], STATES["finite"]]
    check(f.tolist(), counted.tolist(), power, state, [0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tied_rows_and_dtype(dtype):
    rng = np.random.default_rng(3)
    f = rng.normal(size=20).tolist()
    state = [STATES["finite"], STATES["empty"], STATES["finite"]]
    w, coef, st = check(f, [True] * 20, 2.0, state, [0, 2], dtype)
    assert w.dtype == dtype and torch.equal(st[0], st[2]) and torch.equal(coef[0], coef[2])


def test_minus_inf_and_omitted_values():
    # f = -inf: weight 0 but counted; NaN and +inf not counted (nan_policy="omit"): weight 0, not counted
    f = [-inf, 1.0, math.nan, inf, 0.5]
    w, coef, st = check(f, [True, True, False, False, True], 2.0, [STATES["empty"]], [0])
    assert w[0] == 0 and w[2] == 0 and w[3] == 0 and w[1] == 1 and st[0, 2] == 3


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_losses_and_the_omit_rule_without_a_mask(sign, dtype):
    """sign = -1: the values are losses (fitness -v) and the weights are those of v, -b w_j; counted = None:
    NaN and +inf fitness do not count (the omit rule), -inf counts with weight 0. Equals the reference
    run on f = sign v with that mask."""
    rng = np.random.default_rng(11)
    v = rng.normal(size=40) * 3
    v[[3, 7, 11, 20]] = [math.nan, inf, -inf, math.nan]
    st = torch.tensor([STATES["finite"], STATES["empty"]], dtype=torch.float64)
    coef = torch.zeros(2, 2, dtype=torch.float64)
    w = merge.merge_sample(st, coef, torch.tensor(v, dtype=dtype), None, 2.0, [0], sign)
    f = sign * torch.tensor(v, dtype=dtype).double().numpy()
    counted = ~(np.isnan(f) | (f == inf))
    want_w, (a, b), want_state = reference.power_merge_sample(f, counted, 2.0, [STATES["finite"], STATES["empty"]], [0])
    np.testing.assert_allclose(w.double().numpy(), sign * want_w, rtol=RTOL if dtype == torch.float64 else 1e-7,
                               atol=0)
    np.testing.assert_allclose(coef[0].numpy(), [a, b], rtol=RTOL, atol=0)
    np.testing.assert_allclose(st[0].numpy(), want_state[0], rtol=RTOL, atol=0)
    assert st[0, 2] == STATES["finite"][2] + counted.sum()


@pytest.mark.parametrize("name", list(STATES))
def test_empty_sample_has_b_zero(name):
    # every pair -inf or omitted: nothing moves, b = 0 (a NaN gradient of such a sample never reaches u)
    w, coef, st = check([-inf, math.nan], [True, False], 3.0, [STATES[name]], [0])
    assert coef[0, 1] == 0 and (w == 0).all()
    assert st[0, 0] == STATES[name][0] and st[0, 1] == STATES[name][1] and st[0, 2] == STATES[name][2] + 1


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("name", list(STATES))
def test_limit_mode_both_signs(sign, name):
    # N top overflows: 1 on the ties of top, 0 elsewhere; the state ranks by m, then top
    f = [sign * 2e10, sign * 2e10 - 1e4, 3.0, sign * 2e10] if sign > 0 else [sign * 1e10, sign * 3e10, sign * 1e10]
    w, coef, st = check(f, [True] * len(f), 1e300, [STATES[name]], [0])
    if sign > 0:
        assert w.tolist() == [1.0, 0.0, 0.0, 1.0] and st[0, 0] == inf and st[0, 3] == 2e10
        assert coef[0].tolist() == [0.0, 1.0]


def test_limit_sequence():
    # +inf limit into a finite row, then a tie, then a lower limit (the counts grow by J each time)
    state = torch.tensor([[2.0, 1.0, 3.0, -inf]], dtype=torch.float64)
    coef = torch.zeros(1, 2, dtype=torch.float64)
    for f, want_c, want_s in [([5e10], [0.0, 1.0], [inf, 1.0, 4.0, 5e10]),
                              ([5e10, 5e10], [1.0, 1.0], [inf, 3.0, 6.0, 5e10]),
                              ([4e10], [1.0, 0.0], [inf, 3.0, 7.0, 5e10])]:
        merge.merge_sample(state, coef, torch.tensor(f, dtype=torch.float64), torch.ones(len(f), dtype=torch.bool),
                           1e300, [0])
        assert coef.tolist() == [want_c] and state.tolist() == [want_s]


def test_sequence_of_samples_matches_one_merge():
    # merging samples one by one gives the state of all pairs at once (rounding only)
    rng = np.random.default_rng(5)
    f = rng.normal(size=(4, 9))
    st = torch.tensor([STATES["empty"]], dtype=torch.float64)
    coef = torch.zeros(1, 2, dtype=torch.float64)
    for row in f:
        merge.merge_sample(st, coef, torch.tensor(row), torch.ones(9, dtype=torch.bool), 1.5, [0])
    _, _, want = reference.power_merge_sample(f.reshape(-1), np.ones(36, bool), 1.5, [STATES["empty"]], [0])
    np.testing.assert_allclose(st.numpy(), want, rtol=1e-13)


@pytest.mark.parametrize("kwargs, message", [
    (dict(J=0), "f: expected at least one value"),
    (dict(power=-1.0), "power: expected a finite N >= 0"),
    (dict(power=math.nan), "power: expected a finite N >= 0"),
    (dict(rows=[2]), r"rows\[0\]: expected a row in \[0, 2\)"),
    (dict(rows=[]), "rows: expected at least one row"),
    (dict(rows=[1, 1]), r"rows\[1\]: row 1 appears twice"),
    (dict(dtype=_core.DType.int64), "f: expected dtype float32 or float64"),
    (dict(sign=0.5), r"sign: expected \+1 \(values are fitness\) or -1"),
    (dict(sign=math.nan), r"sign: expected \+1"),
])
def test_bad_inputs(kwargs, message):
    f = torch.ones(3, dtype=torch.float64)
    c = torch.ones(3, dtype=torch.bool)
    st = torch.zeros(2, 4, dtype=torch.float64)
    coef = torch.zeros(2, 2, dtype=torch.float64)
    w = torch.zeros(3, dtype=torch.float64)
    args = dict(f=f.data_ptr(), counted=c.data_ptr(), J=3, dtype=_core.DType.float64, power=1.0,
                state=st.data_ptr(), groups=2, rows=[0], coefficients=coef.data_ptr(), weights=w.data_ptr(),
                device_type=_core.DeviceType.cpu, device_index=0, stream=0)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        _core.power_merge_sample_pointers(**args)


def test_values_on_another_device_raise():
    # raw pointers of two memory spaces must never meet: a clear error, not a crash
    st = torch.zeros(1, 4, dtype=torch.float64)
    coef = torch.zeros(1, 2, dtype=torch.float64)
    f = torch.ones(3, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="closure: expected values on the parameters' device cpu, got meta"):
        merge.merge_sample(st, coef, f, torch.ones(3, dtype=torch.bool, device="meta"), 1.0, [0])


# ---- power_step: the step factors from the merged state ----------------------------------------------
STEP_STATES = [STATES["finite"], STATES["empty"], STATES["low"], STATES["limit+"], STATES["limit-"],
               [-3.0, 0.0, 5.0, -inf]]  # last: every counted f = -inf (s = 0, count > 0)


def step(rule, powers, alphas, norms=None, found=None, state=STEP_STATES):
    st = torch.tensor(state, dtype=torch.float64)
    n = None if norms is None else torch.tensor(norms, dtype=torch.float64)
    f = None if found is None else torch.tensor(found)
    sched = [(p, 0.0, a) for p, a in zip(powers, alphas)]
    return merge.step_coefficients(st, getattr(_core.StepRule, rule), sched, n, f).numpy()


@pytest.mark.parametrize("rule", ["raw", "log", "unit"])
def test_step_factors_against_reference(rule):
    G = len(STEP_STATES)
    powers, alphas = [0.0, 0.5, 2.0, 1e3, 3.0, 1.0], [0.1, 0.2, 0.3, 0.05, 1.0, 2.0]
    norms = [2.0, 0.0, 1e-3, 4.0, 0.0, 1.0]
    got = step(rule, powers, alphas, norms)
    want = reference.power_step(STEP_STATES, rule, powers, alphas, norms)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    assert (got[:, 0] == 1).all() and got[1, 1] == 0 and got[5, 1] == 0  # empty, and s = 0 with count > 0
    if rule == "log":  # e = alpha N / s
        np.testing.assert_allclose(got[0, 1], 0.0)  # N = 0: no step
        np.testing.assert_allclose(got[2, 1], 0.3 * 2.0 / 1.5, rtol=RTOL)
    assert got.shape == (G, 2)


def test_step_found_stops_every_group():
    got = step("log", [1.0] * 6, [0.1] * 6, found=True)
    assert (got[:, 1] == 0).all() and (got[:, 0] == 1).all()
    assert step("log", [1.0] * 6, [0.1] * 6, found=False)[0, 1] == 0.1 / 3.25


@pytest.mark.parametrize("kwargs, message", [
    (dict(groups=0), r"state: expected \(G, 4\) with G >= 1"),
    (dict(powers=[1.0]), r"powers, alphas: expected G = 2 numbers each"),
    (dict(powers=[1.0, -1.0]), r"powers\[1\]: expected a finite N >= 0"),
    (dict(alphas=[0.1, -1e-3]), r"alphas\[1\]: expected a finite rate >= 0"),
    (dict(alphas=[math.nan, 0.1]), r"alphas\[0\]: expected a finite rate >= 0"),
    (dict(rule=_core.StepRule.unit), r"norms: expected the \(G,\) norms of u with step_rule unit"),
    (dict(state=0), "state: expected a"),
])
def test_step_bad_inputs(kwargs, message):
    st = torch.zeros(2, 4, dtype=torch.float64)
    coef = torch.zeros(2, 2, dtype=torch.float64)
    args = dict(state=st.data_ptr(), groups=2, rule=_core.StepRule.log, powers=[1.0, 2.0], alphas=[0.1, 0.1],
                norms=0, found=0, coefficients=coef.data_ptr(), device_type=_core.DeviceType.cpu, device_index=0,
                stream=0)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        _core.power_step_pointers(**args)


# ---- power_merge_ranks: the ranks' tables merged -------------------------------------------------------
RANK_ROWS = [STATES["finite"], STATES["empty"], STATES["low"], STATES["limit+"], STATES["limit-"],
             [2.5, 1.0, 2.0, -inf], [inf, 1.0, 1.0, 3e9], [-inf, 4.0, 4.0, -1e10]]


def merge_ranks(table, rank):
    t = torch.tensor(table, dtype=torch.float64)
    W, G, _ = t.shape
    merged, factors = torch.empty(G, 4, dtype=torch.float64), torch.empty(G, dtype=torch.float64)
    _core.power_merge_ranks_pointers(t.data_ptr(), W, G, rank, merged.data_ptr(), factors.data_ptr(),
                                     _core.DeviceType.cpu, 0, 0)
    return merged.numpy(), factors.numpy()


@pytest.mark.parametrize("W", [1, 2, 3, 5])
def test_merge_ranks_against_reference(W):
    rng = np.random.default_rng(W)
    G = 12
    table = [[RANK_ROWS[i] for i in rng.integers(len(RANK_ROWS), size=G)] for _ in range(W)]
    for rank in range(W):
        got, f = merge_ranks(table, rank)
        want, wf = reference.power_merge_ranks(table, rank)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
        np.testing.assert_allclose(f, wf, rtol=RTOL, atol=0)


def test_merge_ranks_cases():
    # finite states: factors e^(m_r - M); a limit state wins over every finite one; ties of a limit add
    got, f = merge_ranks([[STATES["finite"], STATES["limit+"], STATES["empty"]],
                          [STATES["low"], [inf, 5.0, 2.0, 1e10], STATES["empty"]]], 0)
    assert got[0, 0] == 2.5 and got[0, 1] == 3.25 + 1.5 * math.exp(-1e4 - 2.5) and got[0, 2] == 6
    assert got[1].tolist() == [inf, 7.0, 5.0, 1e10] and f[1] == 1.0
    assert got[2].tolist() == [-inf, 0.0, 0.0, -inf] and f[2] == 0.0
    got, f = merge_ranks([[[inf, 2.0, 3.0, 5.0]], [[inf, 1.0, 1.0, 7.0]]], 0)  # higher top wins the limit
    assert got[0].tolist() == [inf, 1.0, 4.0, 7.0] and f[0] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(ranks=0), "ranks: expected W >= 1"),
    (dict(groups=0), r"state: expected \(G, 4\) with G >= 1"),
    (dict(rank=2), r"rank: expected a rank in \[0, 2\), got 2"),
    (dict(rank=-1), r"rank: expected a rank in \[0, 2\), got -1"),
    (dict(merged=0), "gathered, merged, factors: expected"),
])
def test_merge_ranks_bad_inputs(kwargs, message):
    t = torch.zeros(2, 1, 4, dtype=torch.float64)
    merged, factors = torch.zeros(1, 4, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    args = dict(gathered=t.data_ptr(), ranks=2, groups=1, rank=0, merged=merged.data_ptr(),
                factors=factors.data_ptr(), device_type=_core.DeviceType.cpu, device_index=0, stream=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        _core.power_merge_ranks_pointers(**args)
