"""Bad inputs across the whole public API (NumPy and torch): each call must raise ValueError or TypeError
(MemoryError for sizes that cannot be allocated) with a message naming the argument, and must leave
every input as it was (arrays, states, optimizers).

Each row: (id, make, call, exception, pattern). ``make()`` builds fresh inputs as a dict; ``call(x)``
makes the bad call with them; after it raised, every input is compared with its copy from before.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import homotopt as ht
from homotopt.asktell import ProgPowerHP
from homotopt.problems import PhaseRetrieval, Toy1D, TwoLayerReLU

nan, inf = float("nan"), float("inf")


def arrays(**kw):
    return kw


def opt_o2nc():
    return ht.ExpO2NC([np.zeros(3)], lr=0.1, beta=0.9, seed=0)


def asktell():
    return ProgPowerHP(np.zeros(2), num_samples=3, power=1.0, sigma=0.1, lr=0.1)


def state():
    return ht.PowerState(4).update(np.zeros(2), np.ones((2, 4)), 1.0)


def pr():
    return PhaseRetrieval.random(4, 20, seed=0)


def o2nc(x, **kw):
    args = dict(lr=0.1, beta=0.9, seed=0, step=0)
    args.update(kw)
    return ht.o2nc_update(x["p"], x["g"], x["b"], **args)


def o2nc_in():
    return arrays(p=[np.zeros(3)], g=[np.ones(3)], b=[np.zeros(3)])


def pg_in():
    return arrays(v=np.zeros(3), g=np.ones((3, 4)))


def run(x, **kw):
    args = dict(steps=2, num_samples=2, batch_size=2, power=1.0, sigma=0.1, lr=0.1, progress=False)
    args.update(kw)
    mu0 = args.pop("mu0", x["mu0"])
    return ht.prog_powerhp(x["prob"], mu0, **args)


def run_in():
    return arrays(prob=Toy1D(), mu0=np.zeros((1, 1)))


V = "values"
CASES = [
    # power_gradient / power_weights
    ("pg values 0-d", pg_in, lambda x: ht.power_gradient(np.array(1.0), x["g"], 1.0), ValueError, V),
    ("pg values ragged", pg_in, lambda x: ht.power_gradient([[1.0], [1.0, 2.0]], x["g"], 1.0), ValueError, V),
    ("pg values str", pg_in, lambda x: ht.power_gradient("abc", x["g"], 1.0), TypeError, V),
    ("pg values object", pg_in, lambda x: ht.power_gradient([object()], x["g"], 1.0), TypeError, V),
    ("pg values int", pg_in, lambda x: ht.power_gradient(x["v"].astype(int), x["g"], 1.0), TypeError, V),
    ("pg values 3-d", pg_in, lambda x: ht.power_gradient(np.zeros((3, 1, 1)), x["g"], 1.0), ValueError, V),
    ("pg values nan", pg_in, lambda x: ht.power_gradient(np.array([nan, 0, 0]), x["g"], 1.0), ValueError, V),
    ("pg values +inf", pg_in, lambda x: ht.power_gradient(np.array([inf, 0, 0]), x["g"], 1.0), ValueError, V),
    ("pg all omitted", pg_in, lambda x: ht.power_gradient(np.array([nan] * 3), x["g"], 1.0, nan_policy="omit"), ValueError, V),
    ("pg grads K", pg_in, lambda x: ht.power_gradient(x["v"], np.ones((2, 4)), 1.0), ValueError, "grads"),
    ("pg grads ragged", pg_in, lambda x: ht.power_gradient(x["v"], [[1.0], [1.0, 2.0], [1.0]], 1.0), ValueError, "grads"),
    ("pg grads dtype", pg_in, lambda x: ht.power_gradient(x["v"], x["g"].astype(np.float32), 1.0), TypeError, "grads"),
    ("pg grads nan", pg_in, lambda x: ht.power_gradient(x["v"], np.full((3, 4), nan), 1.0), ValueError, "grads"),
    ("pg grads 0-d", pg_in, lambda x: ht.power_gradient(x["v"], np.array(1.0), 1.0), ValueError, "grads"),
    ("pg power neg", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], -1.0), ValueError, "power"),
    ("pg power nan", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], nan), ValueError, "power"),
    ("pg power str", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], "1"), TypeError, "power"),
    ("pg power bool", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], True), TypeError, "power"),
    ("pg power array", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], np.ones(2)), TypeError, "power"),
    ("pg nan_policy", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], 1.0, nan_policy="skip"), ValueError, "nan_policy"),
    ("pg nan_policy None", pg_in, lambda x: ht.power_gradient(x["v"], x["g"], 1.0, nan_policy=None), ValueError, "nan_policy"),
    ("pw values 0-d", pg_in, lambda x: ht.power_weights(np.array(2.0), 1.0), ValueError, V),
    ("pw values empty", pg_in, lambda x: ht.power_weights(np.zeros(0), 1.0), ValueError, V),
    ("pw values ragged", pg_in, lambda x: ht.power_weights([[1.0, 2.0], [3.0]], 1.0), ValueError, V),
    ("pw power inf", pg_in, lambda x: ht.power_weights(x["v"], inf), ValueError, "power"),
    # PowerState
    ("ps dim 0", dict, lambda x: ht.PowerState(0), ValueError, "dim"),
    ("ps dim huge", dict, lambda x: ht.PowerState(2**62), ValueError, "dim"),
    ("ps dim float", dict, lambda x: ht.PowerState(2.0), TypeError, "dim"),
    ("ps dtype", dict, lambda x: ht.PowerState(2, np.int32), TypeError, "dtype"),
    ("ps update d", lambda: arrays(s=state()), lambda x: x["s"].update(np.zeros(2), np.ones((2, 5)), 1.0), ValueError, "grads"),
    ("ps update N", lambda: arrays(s=state()), lambda x: x["s"].update(np.zeros(2), np.ones((2, 4)), 2.0), ValueError, "power"),
    ("ps update dtype", lambda: arrays(s=state()), lambda x: x["s"].update(np.zeros(2, np.float32), np.ones((2, 4), np.float32), 1.0), TypeError, V),
    ("ps update nan", lambda: arrays(s=state()), lambda x: x["s"].update(np.array([nan, 0.0]), np.ones((2, 4)), 1.0), ValueError, V),
    ("ps merge type", lambda: arrays(s=state()), lambda x: x["s"].merge("x"), TypeError, "other"),
    ("ps merge dim", lambda: arrays(s=state()), lambda x: x["s"].merge(ht.PowerState(5)), ValueError, "other"),
    ("ps merge N", lambda: arrays(s=state(), t=ht.PowerState(4).update(np.zeros(1), np.ones((1, 4)), 3.0)),
     lambda x: x["s"].merge(x["t"]), ValueError, "power"),
    ("ps result empty", lambda: arrays(s=ht.PowerState(3)), lambda x: x["s"].result(), ValueError, "empty"),
    ("ps setstate u 2-d", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), u=np.ones((1, 4)))), ValueError, "u"),
    ("ps setstate s 0", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), s=0.0)), ValueError, "s: "),
    ("ps setstate s nan", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), s=nan)), ValueError, "s: "),
    ("ps setstate m inf", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), m=inf)), ValueError, "m: "),
    ("ps setstate u nan", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), u=np.full(4, nan))), ValueError, "u: "),
    ("ps setstate count", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), count=-1)), ValueError, "count"),
    ("ps setstate count str", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), count="2")), TypeError, "count"),
    ("ps setstate dtype", lambda: arrays(s=state()), lambda x: x["s"].__setstate__(dict(x["s"].__getstate__(), dtype="int8")), TypeError, "dtype"),
    ("ps setstate key", lambda: arrays(s=state()), lambda x: x["s"].__setstate__({"dtype": "float64"}), ValueError, "state: missing key"),
    ("ps setstate not dict", lambda: arrays(s=state()), lambda x: x["s"].__setstate__([1, 2]), TypeError, "state"),
    # schedules
    ("power.start", dict, lambda x: ht.PowerSchedule(-1.0), ValueError, "power.start"),
    ("power.every", dict, lambda x: ht.PowerSchedule(1.0, every=0), ValueError, "power.every"),
    ("power.max nan", dict, lambda x: ht.PowerSchedule(1.0, max=nan), ValueError, "power.max"),
    ("sigma.start", dict, lambda x: ht.SigmaSchedule(0.0), ValueError, "sigma.start"),
    ("sigma.decay", dict, lambda x: ht.SigmaSchedule(1.0, decay=1.5), ValueError, "sigma.decay"),
    ("lr.base str", dict, lambda x: ht.LearningRate("1"), TypeError, "lr.base"),
    ("lr.offset", dict, lambda x: ht.LearningRate(1.0, offset=0.0), ValueError, "lr.offset"),
    ("schedule steps", dict, lambda x: ht.PowerSchedule(1.0).values(-1), ValueError, "steps"),
    # runner and baselines
    ("run problem", run_in, lambda x: ht.prog_powerhp("toy", x["mu0"], steps=1, num_samples=2, batch_size=1, power=1.0, sigma=0.1, lr=0.1), TypeError, "problem"),
    ("run steps 0", run_in, lambda x: run(x, steps=0), ValueError, "steps"),
    ("run K 0", run_in, lambda x: run(x, num_samples=0), ValueError, "num_samples"),
    ("run mu0 d", run_in, lambda x: run(x, mu0=np.zeros((1, 2))), ValueError, "mu0"),
    ("run mu0 nan", run_in, lambda x: run(x, mu0=np.full((1, 1), nan)), ValueError, "mu0"),
    ("run mu0 0-d", run_in, lambda x: run(x, mu0=np.array(0.0)), ValueError, "mu0"),
    ("run step_rule", run_in, lambda x: run(x, step_rule="big"), ValueError, "step_rule"),
    ("run seed", run_in, lambda x: run(x, seed=-1), ValueError, "seed"),
    ("run first_trial", run_in, lambda x: run(x, first_trial=2**32), ValueError, "first_trial"),
    ("run progress str", run_in, lambda x: run(x, progress="no"), TypeError, "progress"),
    ("run eval_every", run_in, lambda x: run(x, eval_every=0), ValueError, "eval_every"),
    ("run sigma", run_in, lambda x: run(x, sigma=-1.0), ValueError, "sigma"),
    ("sgd lr", run_in, lambda x: ht.baselines.sgd(x["prob"], x["mu0"], steps=1, batch_size=1, lr=-1.0, progress=False), ValueError, "lr"),
    ("adam beta1", run_in, lambda x: ht.baselines.adam(x["prob"], x["mu0"], steps=1, batch_size=1, lr=0.1, beta1=2.0, progress=False), ValueError, "beta1"),
    # ask/tell
    ("at mu0 0-d", dict, lambda x: ProgPowerHP(1.0, num_samples=2, power=1.0, sigma=0.1, lr=0.1), ValueError, "mu0"),
    ("at mu0 2-d", dict, lambda x: ProgPowerHP(np.zeros((2, 2)), num_samples=2, power=1.0, sigma=0.1, lr=0.1), ValueError, "mu0"),
    ("at K", dict, lambda x: ProgPowerHP(np.zeros(2), num_samples=0, power=1.0, sigma=0.1, lr=0.1), ValueError, "num_samples"),
    ("at seed", dict, lambda x: ProgPowerHP(np.zeros(2), num_samples=2, power=1.0, sigma=0.1, lr=0.1, seed=2**64), ValueError, "seed"),
    ("at tell K", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.ones(4), np.ones((4, 2))), ValueError, "grads"),
    ("at tell K values", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.ones(4), np.ones((3, 2))), ValueError, V),
    ("at tell d", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.ones(3), np.ones((3, 5))), ValueError, "grads"),
    ("at tell J", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.ones((3, 2)), np.ones((3, 4, 2))), ValueError, "grads"),
    ("at tell nan", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.array([nan, 0, 0]), np.ones((3, 2))), ValueError, V),
    ("at tell nopending", lambda: arrays(o=asktell()), lambda x: x["o"].tell(np.ones((3, 2))), ValueError, "tell"),
    ("at weights K", lambda: arrays(o=asktell()), lambda x: x["o"].weights(np.ones(5)), ValueError, V),
    ("at weights 0-d", lambda: arrays(o=asktell()), lambda x: x["o"].weights(np.array(1.0)), ValueError, V),
    ("at report str", lambda: arrays(o=asktell()), lambda x: x["o"].report("1"), TypeError, "value"),
    # O2NC (NumPy)
    ("o2 maximize str", o2nc_in, lambda x: o2nc(x, maximize="no"), TypeError, "maximize"),
    ("o2 maximize int", o2nc_in, lambda x: o2nc(x, maximize=1), TypeError, "maximize"),
    ("o2 check_finite str", o2nc_in, lambda x: o2nc(x, check_finite="no"), TypeError, "check_finite"),
    ("o2 lr", o2nc_in, lambda x: o2nc(x, lr=-1.0), ValueError, "lr"),
    ("o2 beta", o2nc_in, lambda x: o2nc(x, beta=1.5), ValueError, "beta"),
    ("o2 beta nan", o2nc_in, lambda x: o2nc(x, beta=nan), ValueError, "beta"),
    ("o2 mu", o2nc_in, lambda x: o2nc(x, mu=-1.0), ValueError, "mu"),
    ("o2 seed", o2nc_in, lambda x: o2nc(x, seed=-1), ValueError, "seed"),
    ("o2 step", o2nc_in, lambda x: o2nc(x, step=2**32), ValueError, "step"),
    ("o2 scaling", o2nc_in, lambda x: o2nc(x, scaling="exp"), ValueError, "scaling"),
    ("o2 nan_policy", o2nc_in, lambda x: o2nc(x, nan_policy="omit"), ValueError, "nan_policy"),
    ("o2 grads shape", o2nc_in, lambda x: ht.o2nc_update(x["p"], [np.ones(4)], x["b"], lr=0.1, beta=0.9, seed=0, step=0), ValueError, "grads"),
    ("o2 grads count", o2nc_in, lambda x: ht.o2nc_update(x["p"], [], x["b"], lr=0.1, beta=0.9, seed=0, step=0), ValueError, "grads"),
    ("o2 grads nan raise", o2nc_in, lambda x: o2nc(dict(x, g=[np.full(3, nan)]), nan_policy="raise"), ValueError, "grads"),
    ("o2 buffers dtype", o2nc_in, lambda x: ht.o2nc_update(x["p"], x["g"], [np.zeros(3, np.float32)], lr=0.1, beta=0.9, seed=0, step=0), TypeError, "buffers"),
    ("o2 params readonly", lambda: arrays(p=[np.zeros(3)], g=[np.ones(3)], b=[np.zeros(3)]),
     lambda x: o2nc(dict(x, p=[np.broadcast_to(np.zeros(1), (3,))])), ValueError, "params"),
    ("o2 scale seed", dict, lambda x: ht.o2nc_scale(-1, 0), ValueError, "seed"),
    ("o2 scale step", dict, lambda x: ht.o2nc_scale(0, -1), ValueError, "step"),
    ("O2 maximize str", dict, lambda x: ht.ExpO2NC([np.zeros(3)], lr=0.1, beta=0.9, maximize="no"), TypeError, "maximize"),
    ("O2 check_finite str", dict, lambda x: ht.ExpO2NC([np.zeros(3)], lr=0.1, beta=0.9, check_finite="yes"), TypeError, "check_finite"),
    ("O2 params", dict, lambda x: ht.ExpO2NC([[1.0, 2.0]], lr=0.1, beta=0.9), TypeError, "params"),
    ("O2 load nan", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].load_state_dict(dict(x["o"].state_dict(), buffers=[np.full(3, nan)])), ValueError, "buffers"),
    ("O2 load shape", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].load_state_dict(dict(x["o"].state_dict(), buffers=[np.zeros(4)])), ValueError, "buffers"),
    ("O2 load key", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].load_state_dict({"lr": 0.1}), ValueError, "state: missing key"),
    ("O2 load maximize", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].load_state_dict(dict(x["o"].state_dict(), maximize="no")), TypeError, "maximize"),
    ("O2 load step", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].load_state_dict(dict(x["o"].state_dict(), step=-1)), ValueError, "step"),
    ("O2 step grads", lambda: arrays(o=opt_o2nc()), lambda x: x["o"].step([np.ones(2)]), ValueError, "grads"),
    # random
    ("rnd shape None", dict, lambda x: ht.random.normal(None, 0), TypeError, "shape"),
    ("rnd shape neg", dict, lambda x: ht.random.normal((-1,), 0), ValueError, "shape"),
    ("rnd shape float", dict, lambda x: ht.random.normal((2.0,), 0), TypeError, "shape"),
    ("rnd shape 5-d", dict, lambda x: ht.random.normal((1,) * 5, 0), ValueError, "shape"),
    ("rnd shape huge", dict, lambda x: ht.random.uniform((2**45,), 0), MemoryError, "shape"),
    ("rnd seed", dict, lambda x: ht.random.normal(3, -1), ValueError, "seed"),
    ("rnd seed None", dict, lambda x: ht.random.normal(3, None), TypeError, "seed"),
    ("rnd step", dict, lambda x: ht.random.normal(3, 0, 2**32), ValueError, "step"),
    ("rnd trial", dict, lambda x: ht.random.normal(3, 0, trial=-1), ValueError, "trial"),
    ("rnd offset", dict, lambda x: ht.random.normal(3, 0, offset=-1), ValueError, "offset"),
    ("rnd dtype", dict, lambda x: ht.random.normal(3, 0, dtype=np.int32), TypeError, "dtype"),
    ("rnd integers n", dict, lambda x: ht.random.integers(0, 3, 0), ValueError, "n"),
    # problems
    ("pr A 1-d", dict, lambda x: PhaseRetrieval(np.zeros(3), np.zeros(3)), ValueError, "A"),
    ("pr y n", dict, lambda x: PhaseRetrieval(np.zeros((3, 2)), np.zeros(4)), ValueError, "y"),
    ("pr A nan", dict, lambda x: PhaseRetrieval(np.full((3, 2), nan), np.zeros(3)), ValueError, "A"),
    ("pr random d", dict, lambda x: PhaseRetrieval.random(0, 10), ValueError, "d"),
    ("pr pg K", lambda: arrays(p=pr()), lambda x: x["p"].power_gradient(np.zeros(4), sigma=0.1, power=1.0, num_samples=0, seed=0), ValueError, "num_samples"),
    ("pr pg mu d", lambda: arrays(p=pr()), lambda x: x["p"].power_gradient(np.zeros(5), sigma=0.1, power=1.0, num_samples=2, seed=0), ValueError, "mu"),
    ("pr pg sigma", lambda: arrays(p=pr()), lambda x: x["p"].power_gradient(np.zeros(4), sigma=-1.0, power=1.0, num_samples=2, seed=0), ValueError, "sigma"),
    ("pr pg rows", lambda: arrays(p=pr()), lambda x: x["p"].power_gradient(np.zeros(4), sigma=0.1, power=1.0, num_samples=2, seed=0, rows=np.array([99])), ValueError, "rows"),
    ("pr fitness mu", lambda: arrays(p=pr()), lambda x: x["p"].fitness(np.zeros(3)), ValueError, "mu"),
    ("relu k", dict, lambda x: TwoLayerReLU(0, 10), ValueError, "k"),
    ("toy noise", dict, lambda x: Toy1D(noise=-1.0), ValueError, "noise"),
    # process-wide settings
    ("threads 0", dict, lambda x: ht.set_num_threads(0), ValueError, "n"),
    ("threads str", dict, lambda x: ht.set_num_threads("2"), TypeError, "n"),
]


def _snapshot(x):
    if isinstance(x, np.ndarray):
        return ("nd", x.copy())
    if isinstance(x, ht.PowerState):
        return ("state", x.__getstate__())
    if isinstance(x, ProgPowerHP):
        return ("asktell", (x.mu, x.step, x.best_value))
    if isinstance(x, ht.ExpO2NC):
        return ("o2nc", copy.deepcopy(x.state_dict()), [p.copy() for p in x.params])
    if isinstance(x, (list, tuple)):
        return ("seq", [_snapshot(v) for v in x])
    if isinstance(x, PhaseRetrieval):
        return ("pr", x.A.copy(), x.y.copy())
    return ("obj", copy.deepcopy(x))


def _same(a, b):
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b)
    return a == b


@pytest.mark.parametrize("make, call, exc, match", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_is_rejected_cleanly(make, call, exc, match, threads):
    x = make()
    before = {k: _snapshot(v) for k, v in x.items()}
    with pytest.raises(exc) as info:
        call(x)
    assert match in str(info.value), f"{info.value!r} does not name {match!r}"
    after = {k: _snapshot(v) for k, v in x.items()}
    assert _same(before, after), "a rejected call modified its input"


# torch: ExpO2NC (construction, step, load_state_dict)
torch = pytest.importorskip("torch")


def _torch_opt():
    from homotopt.torch import ExpO2NC

    p = torch.nn.Parameter(torch.zeros(3))
    opt = ExpO2NC([p], lr=0.1, beta=0.9, seed=0)
    p.grad = torch.ones(3)
    opt.step()
    return p, opt


def _torch_bad_state(opt, how):
    state = copy.deepcopy(opt.state_dict())
    if how == "nan":
        for v in state["state"][0].values():
            if torch.is_tensor(v) and v.is_floating_point():
                v.fill_(float("nan"))
    elif how == "no o2nc":
        del state["o2nc"]
    elif how == "o2nc key":
        del state["o2nc"]["seed"]
    elif how == "check_finite":
        state["o2nc"]["check_finite"] = "no"
    elif how == "step":
        state["o2nc"]["step"] = -1
    elif how == "scaling":
        state["o2nc"]["scaling"] = "exp"
    return state


TORCH_CTOR = [
    ("lr", dict(lr=-1.0), ValueError), ("beta", dict(beta=1.5), ValueError), ("mu", dict(mu=-1.0), ValueError),
    ("maximize", dict(maximize="no"), TypeError), ("check_finite", dict(check_finite="no"), TypeError),
    ("scaling", dict(scaling="exp"), ValueError), ("nan_policy", dict(nan_policy="omit"), ValueError),
    ("seed", dict(seed=-1), ValueError),
]


@pytest.mark.parametrize("name, kw, exc", TORCH_CTOR, ids=[c[0] for c in TORCH_CTOR])
def test_torch_o2nc_constructor_rejects(name, kw, exc):
    from homotopt.torch import ExpO2NC

    p = torch.nn.Parameter(torch.zeros(3))
    args = dict(lr=0.1, beta=0.9)
    args.update(kw)
    with pytest.raises(exc, match=name):
        ExpO2NC([p], **args)
    assert torch.equal(p.detach(), torch.zeros(3))


@pytest.mark.parametrize("how, exc, match", [
    ("nan", ValueError, "expected finite"), ("no o2nc", ValueError, "o2nc"), ("o2nc key", ValueError, "seed"),
    ("check_finite", TypeError, "check_finite"), ("step", ValueError, "step"), ("scaling", ValueError, "scaling"),
])
def test_torch_o2nc_load_state_dict_rejects(how, exc, match):
    p, opt = _torch_opt()
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(exc, match=match):
        opt.load_state_dict(_torch_bad_state(opt, how))
    after = opt.state_dict()
    assert after["o2nc"] == before["o2nc"]
    for k, v in before["state"][0].items():
        assert torch.equal(after["state"][0][k], v) if torch.is_tensor(v) else after["state"][0][k] == v


def test_torch_o2nc_step_rejects_nan_grad_under_raise():
    from homotopt.torch import ExpO2NC

    p = torch.nn.Parameter(torch.zeros(3))
    opt = ExpO2NC([p], lr=0.1, beta=0.9, seed=0, nan_policy="raise")
    p.grad = torch.tensor([0.0, float("nan"), 0.0])
    with pytest.raises(ValueError, match="grad"):
        opt.step()
    assert torch.equal(p.detach(), torch.zeros(3))
