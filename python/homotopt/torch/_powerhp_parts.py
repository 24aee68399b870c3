"""Pieces of :class:`homotopt.torch.ProgPowerHP`: checks, schedules, noise, fitness, the vmap path.

Internal. The schedule formulas are schedule.hpp's, evaluated on the host from the step counter (so no
value the GPU computes is read for them); the noise is homotopt's Philox, written into the parameters.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch

from .. import _core
from ._native import DTYPES, device_args
from ..random import Stream
from ..schedules import PowerSchedule, SigmaSchedule

_FLOATS = (torch.float32, torch.float64)


def check_group(group: dict, index: int) -> None:
    """Validates a param group once, when it is added; messages name the group and the tensor."""
    if not isinstance(group["power"], PowerSchedule) or not isinstance(group["sigma"], SigmaSchedule):
        raise TypeError(f"param_groups[{index}]: expected PowerSchedule and SigmaSchedule (or numbers)")
    lr = group["lr"]
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"param_groups[{index}]['lr']: expected a finite value > 0, got {lr}")
    for i, p in enumerate(group["params"]):
        name = f"param_groups[{index}]['params'][{i}]"
        if p.dtype not in _FLOATS:
            raise TypeError(f"{name}: expected dtype torch.float32 or torch.float64, got {p.dtype}")
        if not p.is_contiguous():
            raise ValueError(f"{name}: expected a contiguous tensor, got strides {tuple(p.stride())}")
        if p.device.type not in ("cpu", "cuda"):
            raise ValueError(f"{name}: expected a tensor on the CPU or a CUDA device, got {p.device}")


def device_of(entries: list) -> torch.device:
    device = entries[0][1].device
    for gi, p, _ in entries:
        if p.device != device:
            raise ValueError(f"params: expected every tensor on {device} (the first one's device), got one on {p.device}")
        if not p.is_contiguous():
            raise ValueError(f"params: expected contiguous tensors, got strides {tuple(p.stride())} in group {gi}")
    return device


def group_schedule(group: dict, t: int) -> tuple[float, float, float]:
    """(N_t, sigma_t, alpha_t) of a group: schedule.hpp's formulas in float64 (the same libm pow)."""
    P: PowerSchedule = group["power"]
    S: SigmaSchedule = group["sigma"]
    n = P.start + P.increment * float(t // P.every)
    N = n if n < P.max else P.max
    sigma = S.start * math.pow(S.decay, float(t)) + S.floor
    alpha = group["lr"] * math.pow(float(t) + group["lr_offset"], -(0.5 + group["lr_gamma"]))
    return N, sigma, alpha


class SampleWriter:
    """Writes sample k, w = mu + sigma_g eps_k, into every trainable parameter in one native call
    (perturb.hpp): eps of the parameter at `place` is normals k D + place, ... of Philox stream (seed,
    SAMPLES, trial 0, step) (homotopt.random's normals); the rule is float64 mu + sigma eps rounded
    once. Frozen parameters are left out (they stay at mu). The pointer lists are built once a step."""

    def __init__(self, entries: list, mus: list[torch.Tensor], sigmas: list[float], seed: int, step: int,
                 total: int) -> None:
        keep = [(p, mu, sigmas[gi], place) for (gi, p, place), mu in zip(entries, mus) if p.requires_grad]
        self.ws = [p.data_ptr() for p, _, _, _ in keep]
        self.mus = [mu.data_ptr() for _, mu, _, _ in keep]
        self.numels = [p.numel() for p, _, _, _ in keep]
        self.dtypes = [DTYPES[p.dtype] for p, _, _, _ in keep]
        self.sigmas = [s for _, _, s, _ in keep]
        self.places = [place for _, _, _, place in keep]
        device = entries[0][1].device
        self.kind, self.index, self.cuda_stream = device_args(device, "params")
        self.seed, self.step, self.total = seed, step, total

    def __call__(self, k: int, into: list[int] | None = None) -> None:
        """Writes sample k into the parameters, or into the memory at `into` (a data pointer per trainable
        parameter, in their order, each of the parameter's numel and dtype)."""
        if not self.ws:
            return
        base = k * self.total
        _core.random_perturb_pointers(self.ws if into is None else into, self.mus, self.numels, self.dtypes,
                                      self.sigmas, [base + place for place in self.places], self.kind, self.index,
                                      self.seed, int(Stream.SAMPLES), 0, self.step, self.cuda_stream)


def values_of(out: Any, k: int | None) -> torch.Tensor:
    """A closure's result flattened to (J,) (or (K, J) for the vectorized path, k = None), after the checks
    of its type, dtype and shape; the fitness is out (maximize) or -out."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"closure: expected a tensor of per-example losses (or fitness), got {type(out).__name__}")
    if out.dtype not in _FLOATS:
        raise TypeError(f"closure: expected a float32 or float64 tensor, got {out.dtype}")
    if out.dim() > 1 and k is not None:
        raise ValueError(f"closure: expected a scalar or a (J,) tensor of per-example values, got shape {tuple(out.shape)}")
    v = out.reshape(-1) if k is not None else out.reshape(out.shape[0], -1)
    if v.numel() == 0:
        raise ValueError("closure: expected at least one value, got an empty tensor")
    return v


def bad_fitness_error(k: int | None, maximize: bool) -> ValueError:
    """The error of nan_policy="raise" for a NaN or +inf fitness (a NaN or -inf loss)."""
    where = f"sample {k}" if k is not None else "a sample"
    return ValueError(f"closure: {where} returned a NaN or {'+' if maximize else '-'}inf "
                      f"{'fitness' if maximize else 'loss'} (nan_policy='raise'); the parameters are left at mu")


def fitness_sum(values: torch.Tensor, sign: float) -> torch.Tensor:
    """The sum of the counted fitness sign * values in float64 (NaN and +inf fitness left out), on the
    values' device."""
    return (values.to(torch.float64) * sign).nan_to_num_(nan=0.0, posinf=0.0, neginf=-math.inf).sum()


class BufferFreeze:
    """Saves tensors (module buffers) before the samples and restores them after (None: does nothing)."""

    def __init__(self, buffers: Iterable[torch.Tensor] | None) -> None:
        self.buffers = [] if buffers is None else list(buffers)
        for i, b in enumerate(self.buffers):
            if not isinstance(b, torch.Tensor):
                raise TypeError(f"freeze_buffers[{i}]: expected a tensor, got {type(b).__name__}")
        self._saved: list[torch.Tensor] = []

    def save(self) -> None:
        self._saved = [b.detach().clone() for b in self.buffers]

    def restore(self) -> None:
        with torch.no_grad():
            for b, s in zip(self.buffers, self._saved):
                b.copy_(s)
        self._saved = []


class _ClosureModule(torch.nn.Module):
    """Holds the user's module as `m`; forward runs the closure, so functional_call swaps m's parameters."""

    def __init__(self, m: torch.nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, closure: Callable[[], Any]) -> Any:  # noqa: D401
        return closure()


def vectorized_values(module: torch.nn.Module, closure: Callable[[], Any], entries: list, mine: list[int],
                      total: int, seed: int, t: int, sched: list) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Values (k, J) of this rank's samples from one vmapped call, and the batched samples (k, *shape)
    (leaves with requires_grad) in the order of `entries`; the noise equals the sample-by-sample path's."""
    from torch.func import functional_call, vmap

    names = {id(p): n for n, p in module.named_parameters()}
    batched, params, trainable = [], {}, []
    for gi, p, place in entries:
        name = names.get(id(p))
        if name is None:
            raise ValueError("module: expected every optimized parameter to belong to `module` (vectorize=True)")
        if p.requires_grad:
            w = torch.empty((len(mine),) + tuple(p.shape), dtype=p.dtype, device=p.device)
            trainable.append(w)
        else:  # a frozen parameter stays at mu in every sample
            w = p.detach().unsqueeze(0).expand((len(mine),) + tuple(p.shape))
        batched.append(w)
        params["m." + name] = w
    # the samples as the sample-by-sample path writes them (one native call per sample), p itself holds mu
    write = SampleWriter(entries, [p for _, p, _ in entries], [x[1] for x in sched], seed, t, total)
    for r, k in enumerate(mine):
        write(k, [w[r].data_ptr() for w in trainable])
    for w in trainable:
        w.requires_grad_()
    wrapper = _ClosureModule(module)

    def one(sample: dict) -> torch.Tensor:
        return functional_call(wrapper, sample, (closure,), strict=False).reshape(-1)

    with torch.enable_grad():
        values = vmap(one, randomness="same")(params)
    return values, batched


def power_plan(sched: list, groups: list, params: list) -> list:
    """(N, its groups, their trainable parameters, those parameters' groups) per distinct power N."""
    plan = []
    for N in sorted({x[0] for x in sched}):
        gids = [g for g in range(len(sched)) if sched[g][0] == N]
        pairs = [(p, g) for p, g in zip(params, groups) if g in gids and p.requires_grad]
        plan.append((N, gids, [p for p, _ in pairs], [g for _, g in pairs]))
    return plan


def vectorized_merge(module, closure, entries, mine, total, seed, t, sched, state, acc, maximize, nan_policy):
    """The vectorize=True path of a step: this rank's samples in one vmapped call, merged into the empty
    (G, 4) `state` (in place) and u = p.grad of every trainable parameter; returns (sum f, count)."""
    from . import _powerhp_merge as merge

    values, batched = vectorized_values(module, closure, entries, mine, total, seed, t, sched)
    with torch.enable_grad():  # (k, J): fitness sign * v, the omit rule applied by the native merge
        v = values_of(values, None)
    sign = 1.0 if maximize else -1.0
    groups = [g for g, _, _ in entries]
    coef = torch.zeros(len(sched), 2, dtype=torch.float64, device=state.device)
    grads = [torch.zeros_like(p) for _, p, _ in entries]  # frozen parameters: no step
    plan = power_plan(sched, groups, [p for _, p, _ in entries])
    for n_i, (N, gids, _, _) in enumerate(plan):
        # every pair of every sample at once, into the empty state: a = 0 or 1, b = 1 (0 if empty)
        wb = merge.merge_sample(state, coef, v.detach().reshape(-1), None, N, gids, sign)
        if n_i == 0 and nan_policy == "raise" and float(state[gids[0], 2]) != v.numel():
            raise bad_fitness_error(None, maximize)  # a pair not counted: a NaN or +inf fitness
        idx = [i for i, g in enumerate(groups) if g in gids and batched[i].requires_grad]
        got = torch.autograd.grad(v, [batched[i] for i in idx], grad_outputs=wb.view_as(v), allow_unused=True,
                                  retain_graph=n_i < len(plan) - 1) if idx else []
        for i, gr in zip(idx, got):
            p = entries[i][1]
            grads[i] = torch.zeros_like(p) if gr is None else gr.sum(0).contiguous()
    us = []
    for (_, p, _), g in zip(entries, grads):
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
            us.append(p.grad)
    acc(us, [g for (_, p, _), g in zip(entries, grads) if p.requires_grad],
        [g for g, (_, p, _) in zip(groups, entries) if p.requires_grad], coef)  # b == 0 leaves g unread
    return fitness_sum(v.detach(), sign), state[0, 2]
