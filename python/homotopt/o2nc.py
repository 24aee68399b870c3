"""Exponentiated O2NC (papers/o2nc.md): SGD with momentum whose every update is scaled by s ~ Exp(1).

Per step, for every tensor, with b' = beta / (1 + lr mu)::

    D <- b' (D - lr g - lr weight_decay x)        x <- x + s D

with ONE s per step shared by every tensor, drawn from the Philox stream ``Stream.SCALE`` at
(seed, step): ``s == homotopt.random.exponential(1, seed, step, stream=Stream.SCALE)[0]``.
:func:`o2nc_update` is the fused kernel over lists of NumPy arrays; :class:`ExpO2NC` keeps the
buffers, the seed and the step counter. The PyTorch optimizer is ``homotopt.torch.ExpO2NC``.
"""

from __future__ import annotations

import secrets
from typing import Any, NamedTuple, Sequence

import numpy as np

from . import _core
from ._validation import boolean, counter32, real, require_keys, seed as check_seed

__all__ = ["O2ncStep", "o2nc_update", "o2nc_scale", "ExpO2NC", "SCALINGS"]

SCALINGS = {s: getattr(_core.O2ncScaling, s) for s in ("exponential", "uniform", "none")}
_NAN_POLICIES = {"skip": _core.O2ncNanPolicy.skip, "raise": _core.O2ncNanPolicy.raise_}


class O2ncStep(NamedTuple):
    """What one update did.

    Attributes:
        s: the step scale s of this step (drawn from (seed, step), or the one given), also when the
            step was skipped.
        found_inf: a gradient was NaN or infinite, and no array was written.
    """

    s: float
    found_inf: bool

    @property
    def applied(self) -> bool:
        """Whether the update was written (not skipped for a non-finite gradient)."""
        return not self.found_inf


def scaling_code(scaling: str) -> _core.O2ncScaling:
    if scaling not in SCALINGS:
        raise ValueError(f"scaling: expected 'exponential', 'uniform' or 'none', got {scaling!r}")
    return SCALINGS[scaling]


def nan_policy_code(nan_policy: str) -> _core.O2ncNanPolicy:
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"nan_policy: expected 'skip' or 'raise', got {nan_policy!r}")
    return _NAN_POLICIES[nan_policy]


def check_hyper(lr: Any, beta: Any, mu: Any, weight_decay: Any) -> tuple[float, float, float, float]:
    """The hyper-parameters as floats, checked by the native core (its messages, early)."""
    lr, beta, mu, wd = real(lr, "lr"), real(beta, "beta"), real(mu, "mu"), real(weight_decay, "weight_decay")
    _core.o2nc_check_hyper(lr, beta, mu, wd)
    return lr, beta, mu, wd


def _array_list(x: Any, name: str) -> Sequence[Any]:
    if isinstance(x, (list, tuple)):
        return x
    kind = "a single array" if hasattr(x, "shape") else type(x).__name__
    raise TypeError(f"{name}: expected a list of arrays (one per tensor), got {kind}")


def o2nc_scale(seed: int, step: int, scaling: str = "exponential") -> float:
    """The s that the update draws at (seed, step): Exp(1), U[0, 2] (scaling="uniform") or 1 ("none")."""
    return float(_core.o2nc_scale(check_seed(seed), counter32(step, "step"), scaling_code(scaling)))


def o2nc_update(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], buffers: Sequence[np.ndarray], *,
                lr: float, beta: float, mu: float = 0.0, weight_decay: float = 0.0,
                scaling: str = "exponential", seed: int, step: int, s: float | None = None,
                maximize: bool = False, nan_policy: str = "skip", check_finite: bool = True) -> O2ncStep:
    """One Exponentiated O2NC step over every tensor, in place, in one fused pass.

    For each triple (x, g, D) = (params[i], grads[i], buffers[i]), with b' = beta / (1 + lr mu)::

        D <- b' (D - lr g - lr weight_decay x)        x <- x + s D

    Args:
        params: arrays x, updated in place: float32 or float64, C-contiguous, writable.
        grads: arrays g, one per param, of its shape and dtype, C-contiguous (read only).
        buffers: arrays D, one per param, of its shape and dtype, C-contiguous, writable; start
            them at zero. No param or buffer may share memory with any other array of the call.
        lr: eta >= 0. beta: discount in (0, 1]. mu: regularizer >= 0 (shrinks D).
        weight_decay: >= 0, shrinks x (enters D like an L2 gradient; maximize does not flip it).
        scaling: "exponential" (s ~ Exp(1), the method), "uniform" (s ~ U[0, 2]) or "none" (s = 1).
        seed, step: the address of s: one draw per (seed, step), the same for every tensor.
        s: an explicit s >= 0 instead of the draw (tests, or a caller's own schedule).
        maximize: ascend instead of descend (g's sign flips).
        nan_policy: with check_finite, what a NaN or infinite gradient does: "skip" (default) leaves
            every array untouched and returns found_inf=True; "raise" raises ValueError naming it.
        check_finite: read the grads before writing anything (24 bytes per float32 parameter
            instead of 20). Pass False when the caller already knows (e.g. a GradScaler's
            found_inf); a non-finite gradient then reaches x and D.

    Returns:
        O2ncStep(s, found_inf).

    Every argument is checked before any array is written: a bad one raises TypeError or
    ValueError and leaves all arrays as they were.
    """
    # Ranges are checked by the native core (same messages); here only the Python types.
    lr, beta, mu, weight_decay = real(lr, "lr"), real(beta, "beta"), real(mu, "mu"), real(weight_decay, "weight_decay")
    params = _array_list(params, "params")
    grads = _array_list(grads, "grads")
    buffers = _array_list(buffers, "buffers")
    scale = None if s is None else real(s, "s")
    groups = [(len(params), lr, beta, mu, weight_decay, boolean(maximize, "maximize"))]
    found = _core.o2nc_update(params, grads, buffers, groups, scaling_code(scaling), check_seed(seed),
                              counter32(step, "step"), scale, boolean(check_finite, "check_finite"),
                              nan_policy_code(nan_policy))
    return O2ncStep(*found)


class ExpO2NC:
    """The Exponentiated O2NC optimizer over NumPy arrays, updated in place.

    Holds one buffer D per param (zeros at the start), the seed and the step counter; step n draws
    s from (seed, n). A step skipped for a non-finite gradient does not advance the counter, so
    the next one uses the same s. ``state_dict()`` / ``load_state_dict()`` resume a run bit for bit.
    The hyper-parameters are attributes and may change between steps (schedules).

    Args:
        params: the arrays x to optimize (float32 or float64, C-contiguous, writable).
        lr, beta, mu, weight_decay, scaling, maximize, nan_policy, check_finite: as in
            :func:`o2nc_update`.
        seed: the seed of the s stream; None draws one from the operating system.
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float, beta: float, *, mu: float = 0.0,
                 weight_decay: float = 0.0, scaling: str = "exponential", seed: int | None = None,
                 maximize: bool = False, nan_policy: str = "skip", check_finite: bool = True) -> None:
        self.params = list(_array_list(params, "params"))
        for i, p in enumerate(self.params):  # what o2nc_update would refuse at the first step, said now
            if not isinstance(p, np.ndarray):
                raise TypeError(f"params[{i}]: expected a NumPy array, got {type(p).__name__}")
            if p.dtype not in (np.float32, np.float64):
                raise TypeError(f"params[{i}]: expected dtype float32 or float64, got {p.dtype}")
            if not (p.flags.c_contiguous and p.flags.writeable):
                raise ValueError(f"params[{i}]: expected a writable C-contiguous array, got "
                                 f"{'a read-only' if not p.flags.writeable else 'a strided'} one")
        check_hyper(lr, beta, mu, weight_decay)
        scaling_code(scaling)
        nan_policy_code(nan_policy)
        maximize, check_finite = boolean(maximize, "maximize"), boolean(check_finite, "check_finite")
        self.lr, self.beta, self.mu, self.weight_decay = lr, beta, mu, weight_decay
        self.scaling, self.maximize, self.nan_policy, self.check_finite = scaling, maximize, nan_policy, check_finite
        self.seed = secrets.randbits(64) if seed is None else check_seed(seed)
        self.step_count = 0
        self.buffers = [np.zeros_like(p, order="C") for p in self.params]
        self.last: O2ncStep | None = None

    def step(self, grads: Sequence[np.ndarray]) -> O2ncStep:
        """Applies one update with these gradients (one per param); returns O2ncStep(s, found_inf)."""
        result = o2nc_update(self.params, grads, self.buffers, lr=self.lr, beta=self.beta, mu=self.mu,
                             weight_decay=self.weight_decay, scaling=self.scaling, seed=self.seed,
                             step=self.step_count, maximize=self.maximize, nan_policy=self.nan_policy,
                             check_finite=self.check_finite)
        if not result.found_inf:
            self.step_count += 1
        self.last = result
        return result

    def state_dict(self) -> dict:
        """Hyper-parameters, seed, step counter and copies of the buffers."""
        return {"lr": self.lr, "beta": self.beta, "mu": self.mu, "weight_decay": self.weight_decay,
                "scaling": self.scaling, "maximize": self.maximize, "nan_policy": self.nan_policy,
                "check_finite": self.check_finite, "seed": self.seed, "step": self.step_count,
                "buffers": [b.copy() for b in self.buffers]}

    def load_state_dict(self, state: dict) -> None:
        """Restores a state_dict (copied into this optimizer's buffers; the params are the caller's).

        Validated as on construction (keys, hyper-parameters, buffer shapes, dtypes and finite values);
        a rejected state changes nothing."""
        require_keys(state, ("lr", "beta", "mu", "weight_decay", "scaling", "maximize", "nan_policy",
                             "check_finite", "seed", "step", "buffers"))
        buffers = state["buffers"]
        if len(buffers) != len(self.buffers):
            raise ValueError(f"buffers: expected {len(self.buffers)} arrays (one per param), got {len(buffers)}")
        for i, (mine, theirs) in enumerate(zip(self.buffers, buffers)):
            theirs = np.asarray(theirs)
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ValueError(f"buffers[{i}]: expected shape {mine.shape} and dtype {mine.dtype}, "
                                 f"got {theirs.shape} and {theirs.dtype}")
            if not np.all(np.isfinite(theirs)):
                raise ValueError(f"buffers[{i}]: expected finite values, got {np.count_nonzero(~np.isfinite(theirs))} "
                                 "NaN or infinite")
        boolean(state["maximize"], "maximize")
        boolean(state["check_finite"], "check_finite")
        check_hyper(state["lr"], state["beta"], state["mu"], state["weight_decay"])
        scaling_code(state["scaling"])
        nan_policy_code(state["nan_policy"])
        seed, step = check_seed(state["seed"]), counter32(state["step"], "step")
        for mine, theirs in zip(self.buffers, buffers):
            np.copyto(mine, theirs)
        self.lr, self.beta, self.mu, self.weight_decay = state["lr"], state["beta"], state["mu"], state["weight_decay"]
        self.scaling, self.maximize = state["scaling"], state["maximize"]
        self.nan_policy, self.check_finite = state["nan_policy"], state["check_finite"]
        self.seed, self.step_count = seed, step

    def __repr__(self) -> str:
        return (f"ExpO2NC({len(self.params)} arrays, lr={self.lr}, beta={self.beta}, mu={self.mu}, "
                f"weight_decay={self.weight_decay}, scaling={self.scaling!r}, step={self.step_count})")
