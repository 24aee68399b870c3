"""Prog-PowerHP for any objective, through ask/tell: you evaluate f and its gradient in any framework.

A thin binding of the C++ class homotopt::ProgPowerHP (csrc/include/homotopt/asktell.hpp): the
schedules, samples, reduction, step rule, bounds and best iterate live there; this file converts
arrays and shapes, and adds the Python-side callback and stopping rule. With torch tensors the means,
samples and gradients stay on the tensors' device (the native class's caller-held form, with the
d-sized arithmetic in _asktell_held.py).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from . import _core
from ._asktell_held import HeldMeans
from ._result import PowerGradient
from ._validation import boolean, input_array, integer, nan_policy_code, real, seed as check_seed
from .schedules import LearningRate, PowerSchedule, SigmaSchedule, as_lr, as_power, as_sigma

__all__ = ["ProgPowerHP", "sigma_to"]

STEP_RULES = {name: getattr(_core.AskTellStep, name) for name in ("raw", "log", "unit", "mean", "sigma")}
BOUND_MODES = {"clip": _core.Bounds.clip, "reflect": _core.Bounds.reflect}


def sigma_to(start: float, end: float, steps: int) -> SigmaSchedule:
    """sigma decaying geometrically from `start` to `end` over `steps` steps, floor 0 (a converging end)."""
    s, decay, floor = _core.sigma_to(real(start, "start"), real(end, "end"), integer(steps, "steps", 1))
    return SigmaSchedule(s, decay, floor)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _scalar(x: Any, name: str) -> float:
    """A float from a Python/NumPy real, a 0-d (or one-element) array, or a torch scalar tensor."""
    if _is_torch(x):
        if x.numel() != 1:
            raise ValueError(f"{name}: expected a scalar, got a tensor of shape {tuple(x.shape)}")
        if x.dtype.is_complex or x.dtype == __import__("torch").bool:
            raise TypeError(f"{name}: expected a real number, got a tensor of dtype {x.dtype}")
        return float(x.detach().reshape(()).item())
    if isinstance(x, np.ndarray):
        if x.size != 1:
            raise ValueError(f"{name}: expected a scalar, got an array of shape {x.shape}")
        if x.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected a real number, got an array of dtype {x.dtype}")
        return float(x.reshape(()))
    if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        return float(x)
    return real(x, name)  # raises TypeError naming the argument


def _literal_gradient(direction: Any, log_scale: float) -> Any:
    """The paper's g = exp(log_scale) d, formed as lse.hpp's power_literal_gradient does, sign(d)
    exp(log_scale + log|d|): it overflows to inf or underflows to 0 only where the product itself does
    (exp(log_scale) alone overflows from log_scale = 709.8, which any N f above that reaches)."""
    if _is_torch(direction):
        import torch

        mag = torch.exp(log_scale + torch.log(direction.abs()))
        return torch.where(direction == 0, torch.zeros_like(direction), torch.copysign(mag, direction))
    with np.errstate(over="ignore", divide="ignore"):
        mag = np.exp(log_scale + np.log(np.abs(direction)))
    return np.where(direction == 0, 0, np.copysign(mag, direction)).astype(direction.dtype)


class ProgPowerHP:
    """Ask/tell Prog-PowerHP (papers/prog_powerhp.md) for an objective you evaluate.

    Each step: ``ask()`` gives the K samples w_k = mu + sigma_t eps_k ((K, d); (R, K, d) with `runs`);
    run r draws the Philox noise ``random.normal((K, d), seed, t, trial=r, stream=Stream.SAMPLES)``, the
    runner's trial r. You evaluate the objective on J data points (and its gradients), then either

    - ``tell(values, grads)`` with values (K,) or (K, J) and gradients (K, d) or (K, J, d) (a leading R
      axis with `runs`; the order of :func:`homotopt.power_gradient`, keywords work either way), or
    - ``p = weights(values)`` then ``tell(g)`` (or ``tell(grads=g)``) where g (K, d) is the gradient of
      sum_kj p_kj f_kj with respect to the samples (one backward pass in an autograd framework, p held
      constant).

    Each step costs O(1) in t: the native class evaluates the schedules at t alone.

    Args:
        mu0: (d,) start (or (R, d) with `runs`), float32/float64 NumPy or torch; outputs follow it.
        num_samples: K. power, sigma, lr: schedules (numbers mean constant); see :func:`sigma_to`.
        step_rule: how far mu moves along the weighted mean gradient d:
            "log" (default; the runner's rule) mu += lr N d (the step grows with N);
            "raw" the paper's literal mu += lr exp(log_scale) d; "unit" mu += lr d / |d|;
            "mean" mu += lr d (size independent of N, in the units of grad f);
            "sigma" mu += lr sigma_t d / |d| (free of N and of f's scale; converges as sigma -> 0).
        maximize: True (the paper's ascent on a fitness) or False (values are losses to minimize).
        scale_free: apply N / s_t instead of N, s_t a running average (weight `spread_decay` on the
            past) of the standard deviation of the values over the K x J pairs: N then means the same
            on any objective. Pair with step_rule="sigma" and sigma=sigma_to(...) (docs/tuning.md).
        runs: R independent runs in one object (restarts, seeds), all stepped by one native call.
        bounds: optional (lower, upper), numbers or (d,) arrays; `bound_mode` "reflect" (samples are
            mirrored at the faces, iterates clipped) or "clip" (both clipped). Gradients are used as
            evaluated at the bounded samples.
        callback: called as callback(opt) after every tell; returning True stops the run.
        max_evaluations, target, min_step: the stopping rule (see :attr:`stopped`).
        seed: Philox seed of the samples.

    Best iterate: ``report(value)`` records a validation value of mu (in the objective's sense: a
    loss when maximize=False). Until the first report, ``best_mu`` is the best *evaluated sample*:
    the w_k whose values passed to tell (mean over J) were the best; after it, only reports count.
    """

    def __init__(self, mu0: Any, *, num_samples: int, power: PowerSchedule | float, sigma: SigmaSchedule | float,
                 lr: LearningRate | float, step_rule: str = "log", seed: int = 0, maximize: bool = True,
                 scale_free: bool = False, spread_decay: float = 0.9, runs: int | None = None,
                 bounds: tuple[Any, Any] | None = None, bound_mode: str = "reflect",
                 callback: Callable[[ProgPowerHP], Any] | None = None, max_evaluations: int | None = None,
                 target: float | None = None, min_step: float | None = None) -> None:
        self._torch = None
        if _is_torch(mu0):
            self._torch = (mu0.dtype, mu0.device)
            mu0 = mu0.detach().cpu().numpy()
        mu0 = input_array(mu0, "mu0")
        self._dtype = mu0.dtype
        self._batched = runs is not None
        R = integer(runs, "runs", 1) if runs is not None else 1
        if mu0.ndim == 2 and self._batched and mu0.shape[0] == R:
            d = mu0.shape[1]
        elif mu0.ndim == 1:
            d = mu0.shape[0]
        else:
            want = "(d,) or (R, d)" if self._batched else "(d,)"
            raise ValueError(f"mu0: expected shape {want}, got {mu0.shape}")
        if d < 1 or not np.all(np.isfinite(mu0)):
            raise ValueError(f"mu0: expected d >= 1 finite values, got shape {mu0.shape}")
        if step_rule not in STEP_RULES:
            raise ValueError(f"step_rule: expected one of {sorted(STEP_RULES)}, got {step_rule!r}")
        if bound_mode not in BOUND_MODES:
            raise ValueError(f"bound_mode: expected 'reflect' or 'clip', got {bound_mode!r}")
        maximize, scale_free = boolean(maximize, "maximize"), boolean(scale_free, "scale_free")
        self.power_schedule, self.sigma_schedule, self.lr_schedule = as_power(power), as_sigma(sigma), as_lr(lr)
        c = _core.AskTellConfig()
        c.dim, c.num_samples, c.runs = d, integer(num_samples, "num_samples", 1), R
        c.seed, c.step_rule, c.maximize, c.scale_free = check_seed(seed), STEP_RULES[step_rule], bool(maximize), bool(scale_free)
        c.spread_decay = real(spread_decay, "spread_decay")
        p, s, a = self.power_schedule, self.sigma_schedule, self.lr_schedule
        c.set_power(p.start, p.increment, p.max, p.every)
        c.set_sigma(s.start, s.decay, s.floor)
        c.set_lr(a.base, a.gamma, a.offset)
        if bounds is not None:
            lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), (d,)) for b in bounds)
            c.bounds, c.lower, c.upper = BOUND_MODES[bound_mode], lo.tolist(), hi.tolist()
        self._opt = _core.AskTell(c, mu0)
        self._held = None if self._torch is None else HeldMeans(
            self._opt, c, self._torch[1], None if bounds is None else (lo, hi), bound_mode == "reflect")
        self.num_samples, self.runs, self.dim = c.num_samples, R, d
        self.step_rule, self.seed, self.maximize, self.scale_free = step_rule, c.seed, bool(maximize), bool(scale_free)
        self.callback, self.max_evaluations, self.min_step = callback, max_evaluations, min_step
        self.target = None if target is None else real(target, "target")
        self.stopped: str | None = None
        self._pending_weights: tuple[int, float, int] | None = None

    # ---- conversion ------------------------------------------------------------------------------
    def _out(self, a: Any, squeeze: bool = True) -> Any:
        """A result in mu0's library and dtype: a NumPy array, or a tensor already on mu0's device."""
        a = a[0] if (squeeze and not self._batched) else a
        if self._torch is not None:
            return a.to(dtype=self._torch[0])
        return a.astype(self._dtype, copy=False)

    def _in(self, x: Any, name: str) -> np.ndarray:
        if _is_torch(x):
            x = x.detach().cpu().numpy()
        a = input_array(x, name).astype(np.float64, copy=False)
        return a if self._batched else a[None]

    # ---- state -----------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return self._opt.step

    @property
    def evaluations(self) -> int:
        """(sample, data point) pairs passed to tell or weights so far, over all runs."""
        return self._opt.evaluations

    @property
    def mu(self) -> Any:
        return self._out(self._held.mu.clone() if self._held else self._opt.mu)  # a copy, as NumPy's

    @property
    def best_mu(self) -> Any:
        return self._out(self._held.best_mu.clone() if self._held else self._opt.best_mu)

    @property
    def best_value(self) -> Any:
        v = self._opt.best_value
        return v if self._batched else float(v[0])

    @property
    def best_step(self) -> Any:
        s = self._opt.state()["best_step"]
        return s if self._batched else int(s[0])

    @property
    def power(self) -> float:
        """N_t of the current step (before scale_free's division by the spread)."""
        return self._opt.power

    @property
    def sigma(self) -> float:
        return self._opt.sigma

    @property
    def lr(self) -> float:
        return self._opt.lr

    def last(self) -> dict[str, np.ndarray]:
        """Per run, from the last tell: power applied, spread, log_scale, step_norm, count, omitted."""
        return self._opt.last()

    # ---- ask / tell ------------------------------------------------------------------------------
    def ask(self) -> Any:
        """The K samples of this step: (K, d), or (R, K, d) with runs, in mu0's dtype and library (and on
        its device)."""
        return self._out(self._held.ask(self.step, self.sigma) if self._held else self._opt.ask())

    def _pairs(self, values: Any, name: str = "values") -> np.ndarray:
        v = self._in(values, name)
        if v.ndim == 2:
            v = v[:, :, None]
        if v.ndim != 3 or v.shape[:2] != (self.runs, self.num_samples):
            lead = f"(R, K) = ({self.runs}, {self.num_samples})" if self._batched else f"K = {self.num_samples}"
            raise ValueError(f"values: expected {lead} leading axes (then optionally J; as grads and ask() "
                             f"have), got shape {tuple(np.shape(values))}")
        return np.ascontiguousarray(v)

    def weights(self, values: Any, *, nan_policy: str = "raise") -> Any:
        """softmax(N f) of values (K,) or (K, J) per run; remembered for a following tell(g)."""
        v = self._pairs(values)
        if self._held:
            w = self._held.weights(v, nan_policy_code(nan_policy))
        else:
            w = self._opt.weights(v, nan_policy_code(nan_policy))
        last = self._opt.last()  # (step, log_scale, count) of run 0: the native count of the pairs
        self._pending_weights = (self.step, float(last["log_scale"][0]), int(last["count"][0]))
        shape = np.shape(values) if not _is_torch(values) else tuple(values.shape)
        out = w.reshape((self.runs,) + tuple(shape[1:] if self._batched else shape))
        return self._out(out)

    def tell(self, values: Any = None, grads: Any = None, *, nan_policy: str = "raise") -> PowerGradient:
        """Reduces this step's samples and moves mu; returns the estimate of the (first) run.

        ``tell(values, grads)``: per-pair values (K,) / (K, J) and gradients (K, d) / (K, J, d).
        ``tell(g)`` or ``tell(grads=g)``: g (K, d) is the gradient of sum p f with the weights p from
        ``weights()`` of this step.
        """
        if grads is None:  # tell(g): the one positional argument is the gradient
            values, grads = None, values
        if grads is None:
            raise TypeError("tell: expected grads (tell(values, grads), or tell(g) after weights())")
        direction = self._tell_held(values, grads, nan_policy) if self._held else self._tell_native(
            values, grads, nan_policy)
        last = self._opt.last()
        lme = float(last["log_scale"][0] - math.log(last["power"][0])) if last["power"][0] > 0 else -math.inf
        log_scale = float(last["log_scale"][0])
        est = PowerGradient(direction, _literal_gradient(direction, log_scale), log_scale, lme,
                            int(last["count"][0]), int(last["omitted"][0]))
        self._check_stop()
        return est

    def _grads_error(self, grads: Any) -> ValueError:
        K, d = self.num_samples, self.dim
        return ValueError(f"grads: expected shape (K, d) or (K, J, d) with K = {K}, d = {d} (a leading R with runs), "
                          f"got {tuple(np.shape(grads))}")

    def _tell_native(self, values: Any, grads: Any, nan_policy: str) -> np.ndarray:
        K, d = self.num_samples, self.dim
        g = self._in(grads, "grads")
        if values is None:
            if g.shape != (self.runs, K, d):
                raise ValueError(f"grads: expected shape (K, d) = ({K}, {d}), got {tuple(np.shape(grads))}")
            self._opt.tell_weighted(np.ascontiguousarray(g))
        else:
            if g.ndim not in (3, 4) or g.shape[:2] != (self.runs, K) or g.shape[-1] != d:
                raise self._grads_error(grads)
            v = self._pairs(values)
            g = g[:, :, None, :] if g.ndim == 3 else g
            if g.shape != v.shape + (d,):
                raise ValueError(f"grads: expected shape {tuple(np.shape(values))} + (d = {d},), got "
                                 f"{tuple(np.shape(grads))}")
            self._opt.tell(v, np.ascontiguousarray(g), nan_policy_code(nan_policy))
        return self._opt.last_direction[0].astype(self._dtype)

    def _tell_held(self, values: Any, grads: Any, nan_policy: str) -> Any:
        """tell on the tensors' device: the same checks and the same step (the native caller-held form)."""
        K, d, R, held = self.num_samples, self.dim, self.runs, self._held
        lead = 1 if self._batched else 0
        if values is None:
            if self._pending_weights is None or self._pending_weights[0] != self.step:
                raise ValueError("tell: without values, call weights(values) for this step first")
            g = held.tensor(grads, (R, K, d), "grads", f"(K, d) = ({K}, {d})")
            direction = held.tell_weighted(g)
        else:
            v = self._pairs(values)
            gshape = tuple(np.shape(grads))
            if len(gshape) - lead not in (2, 3) or gshape[lead:lead + 1] != (K,) or gshape[-1:] != (d,):
                raise self._grads_error(grads)
            if len(gshape) - lead == 2:
                gshape = gshape[:lead + 1] + (1,) + gshape[lead + 1:]
            if gshape[lead:] != v.shape[1:] + (d,):
                raise ValueError(f"grads: expected shape {tuple(np.shape(values))} + (d = {d},), got "
                                 f"{tuple(np.shape(grads))}")
            g = held.tensor(self._torch_of(grads).reshape((R,) + v.shape[1:] + (d,)), (R,) + v.shape[1:] + (d,),
                            "grads", str(v.shape[1:] + (d,)))
            direction = held.tell(v, g, nan_policy_code(nan_policy), nan_policy)
        return direction[0].to(dtype=self._torch[0])

    def _torch_of(self, x: Any) -> Any:
        import torch

        return torch.as_tensor(x, device=self._torch[1])

    # ---- best iterate, stopping, state -------------------------------------------------------------
    def report(self, value: Any, run: int | None = None) -> Any:
        """Records the validation value of the current mu (objective's sense); True when it is the best.

        `value` is a number, a 0-d array or a torch scalar; with runs, an (R,) array or `run=r`.
        """
        if self._batched and run is None:
            vals = self._in(value, "value").reshape(-1)
            if vals.shape != (self.runs,):
                raise ValueError(f"value: expected shape (R,) = ({self.runs},), got {vals.shape}")
            return np.array([self._report(r, float(vals[r])) for r in range(self.runs)])
        r = 0 if run is None else integer(run, "run", 0, self.runs - 1)
        return self._report(r, _scalar(value, "value"))

    def _report(self, run: int, value: float) -> bool:
        best = self._opt.report(run, value)
        if best and self._held:
            self._held.reported_best(run)
        return best

    def _check_stop(self) -> None:
        if self.max_evaluations is not None and self.evaluations >= self.max_evaluations:
            self.stopped = "max_evaluations"
        elif self.target is not None and np.all(
                (self._opt.best_value >= self.target) if self.maximize else (self._opt.best_value <= self.target)):
            self.stopped = "target"
        elif self.min_step is not None and np.all(self._opt.last()["step_norm"] < self.min_step):
            self.stopped = "min_step"
        if self.callback is not None and self.callback(self):
            self.stopped = "callback"

    def state_dict(self) -> dict[str, Any]:
        """The mutable state (NumPy arrays and ints) plus the settings it belongs to."""
        s = self._opt.state()
        if self._held:  # the means live on the tensors' device
            self._held.state(s)
        s["settings"] = {"dim": self.dim, "num_samples": self.num_samples, "runs": self.runs, "seed": self.seed}
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        want = {"dim": self.dim, "num_samples": self.num_samples, "runs": self.runs, "seed": self.seed}
        if state.get("settings") != want:
            raise ValueError(f"state: expected settings {want}, got {state.get('settings')}")
        flat = {k: (np.asarray(v).reshape(-1).tolist() if isinstance(v, (np.ndarray, list)) else v)
                for k, v in state.items() if k != "settings"}
        self._opt.load_state(flat)
        if self._held:
            self._held.load(flat)
        self.stopped = None

    def __repr__(self) -> str:
        best = np.asarray(self._opt.best_value)
        return (f"ProgPowerHP(d={self.dim}, K={self.num_samples}, R={self.runs}, step={self.step}, "
                f"N={self.power:.4g}, sigma={self.sigma:.4g}, best={best.max() if self.maximize else best.min():.6g})")
