"""The (m, s, u) state of Prog-PowerHP on torch tensors, kept on the parameters' device.

Internal to :mod:`homotopt.torch.progpowerhp`. The scalar part (m, s, count, top) of every param
group is one float64 tensor of shape (G, 4) on the device, so no step ever reads it on the host; the
vector part u is each parameter's p.grad. One sample's terms a_j = N f_j merge into the state as
(lse.hpp): M = max(m, m_k); u <- e^(m - M) u + e^(m_k - M) g_k; s likewise, with g_k the gradient
of sum_j e^(a_j - m_k) f_j. That scalar work is one native call per sample and power
(``_core.power_merge_sample_pointers``, power_merge.hpp, which runs lse.hpp's LseState). u lives in
``p.grad``: the rescale u <- e^(m - M) u over all tensors is one fused native call
(``_core.power_accumulate_pointers`` with no g) on the tensors' memory, and autograd's accumulation
adds the sample's e^(m_k - M) g_k.

With several ranks the tables are merged natively too (``_core.power_merge_ranks_pointers``), and the
step's factors come from ``_core.power_step_pointers``: no formula of lse.hpp is re-written here.

When N f overflows (N top = +-inf for the largest counted f = top), lse.hpp's N -> infinity limit rule
applies, exactly as in the native code: the sample's weights are 1 on the ties of top and 0 elsewhere,
the state holds top (-inf while m is finite) and states rank by m, then by top for the same infinite m.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .. import _core
from ._native import DTYPES, device_args


def merge_sample(state: torch.Tensor, coefficients: torch.Tensor, f: torch.Tensor, counted: torch.Tensor | None,
                 power: float, rows: Sequence[int], sign: float = 1.0,
                 dev: tuple | None = None) -> torch.Tensor:
    """Merges one sample's pairs (values f (J,) float32 or float64 of fitness sign * f, counted (J,) bool,
    or None for the omit rule: NaN and +inf fitness do not count) at power N into the tied `rows` of the
    (G, 4) float64 state, in place, in one native call on the tensors' device
    (``_core.power_merge_sample_pointers``, the math of lse.hpp): writes (a, b) of u <- a u + b g to
    those rows of the (G, 2) float64 `coefficients` and returns the weights sign b w_j (J,) in f's dtype,
    the factors of the values' gradients in u (b = 0 for an empty sample). No host sync on a GPU.
    `dev`: the state's device_args, when the caller has them."""
    if f.device != state.device or (counted is not None and counted.device != state.device):
        raise ValueError(f"closure: expected values on the parameters' device {state.device}, got {f.device}")
    f = f.detach()
    if not f.is_contiguous():
        f = f.contiguous()
    if counted is not None and not counted.is_contiguous():
        counted = counted.contiguous()
    weights = torch.empty_like(f)
    kind, index, stream = dev or device_args(f.device, "f")
    _core.power_merge_sample_pointers(
        f.data_ptr(), 0 if counted is None else counted.data_ptr(), f.numel(), DTYPES[f.dtype], float(power),
        state.data_ptr(), state.shape[0], list(rows), coefficients.data_ptr(), weights.data_ptr(), kind, index,
        stream, sign)
    return weights


def step_coefficients(state: torch.Tensor, rule: _core.StepRule, sched: Sequence[tuple[float, float, float]],
                      norms: torch.Tensor | None, found: torch.Tensor | None) -> torch.Tensor:
    """(G, 2) float64 (1, e_g) of the step p = mu + e_g u from the merged (G, 4) state, in one native call
    on its device (``_core.power_step_pointers``, power_merge.hpp: the runner's step_multiplier on
    power_summary's log_scale): 0 where nothing was counted, and everywhere when `found` (a device bool) is
    set. `norms` (G,) float64: ||u||_g, for the unit rule. No host sync on a GPU."""
    coef = torch.empty(state.shape[0], 2, dtype=torch.float64, device=state.device)
    kind, index, stream = device_args(state.device, "params")
    _core.power_step_pointers(state.data_ptr(), state.shape[0], rule, [x[0] for x in sched], [x[2] for x in sched],
                              0 if norms is None else norms.data_ptr(), 0 if found is None else found.data_ptr(),
                              coef.data_ptr(), kind, index, stream)
    return coef


class PowerAccumulator:
    """The fused u <- a_g u + b_g g over a list of tensors, g = None meaning 'skip this tensor's g'.

    The coefficient table is a (G, 2) float64 tensor on the tensors' device: row g holds (a, b) of
    param group g. b == 0 leaves g unread (a NaN gradient of an omitted sample cannot leak into u).
    ``flag`` (one float64 on the device) becomes 1 when a g read with b != 0 holds a NaN or inf.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.flag = torch.zeros(1, dtype=torch.float64, device=device)

    def __call__(self, us: Sequence[torch.Tensor], gs: Sequence[torch.Tensor | None], groups: Sequence[int],
                 coefficients: torch.Tensor) -> None:
        if not us:
            return
        coefficients = coefficients.contiguous()
        kind, index, stream = device_args(self.device, "params")
        _core.power_accumulate_pointers(
            [u.data_ptr() for u in us], [0 if g is None else g.data_ptr() for g in gs], [u.numel() for u in us],
            [DTYPES[u.dtype] for u in us], list(groups), kind, index,
            coefficients.data_ptr(), coefficients.shape[0], self.flag.data_ptr(), stream)


def grad_states(params: Sequence[torch.Tensor], distributed: bool) -> list[torch.Tensor | None]:
    """u of every parameter after the samples: its p.grad, moved to p's layout if autograd chose another;
    None where no sample reached it (frozen or unused), except that with several ranks a trainable
    parameter gets zeros, so every rank all_reduces the same tensors."""
    out: list[torch.Tensor | None] = []
    for i, p in enumerate(params):
        g = p.grad
        if g is None:
            if distributed and p.requires_grad:
                g = p.grad = torch.zeros_like(p)
        elif g.is_sparse:
            raise TypeError(f"params[{i}]: expected a dense gradient, got a sparse one (ProgPowerHP keeps u in p.grad)")
        elif g.dtype != p.dtype or g.stride() != p.stride():
            g = p.grad = torch.empty_like(p).copy_(g)
        out.append(g)
    return out


def any_nonfinite(us: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """A device bool: some u holds a NaN or an infinity (a non-finite gradient reached it with a weight
    b != 0; NaN and inf survive every later rescale). One read of u, no host sync."""
    if not us:
        return torch.zeros((), dtype=torch.bool, device=device)
    return ~torch.isfinite(torch.stack(torch._foreach_norm(list(us), math.inf))).all()


def merge_across_ranks(state: torch.Tensor, us: Sequence[torch.Tensor | None], groups: Sequence[int],
                       process_group) -> torch.Tensor:
    """Merges every rank's (m, s, count, top) (G, 4) and u: one all_gather of the scalars, one native
    merge of them (``_core.power_merge_ranks_pointers``, power_merge.hpp: LseState::merge in rank order,
    each rank's factor by factor_to) and one all_reduce of u times this rank's factors. Returns the
    merged (G, 4); u is merged in place."""
    import torch.distributed as dist

    world, rank = dist.get_world_size(process_group), dist.get_rank(process_group)
    gathered = [torch.empty_like(state) for _ in range(world)]
    dist.all_gather(gathered, state, group=process_group)
    table = torch.stack(gathered)  # (W, G, 4)
    merged = torch.empty_like(state)
    factors = torch.empty(state.shape[0], dtype=torch.float64, device=state.device)
    kind, index, stream = device_args(state.device, "params")
    _core.power_merge_ranks_pointers(table.data_ptr(), world, state.shape[0], rank, merged.data_ptr(),
                                     factors.data_ptr(), kind, index, stream)
    held = [(u, g) for u, g in zip(us, groups) if u is not None]  # None: frozen on every rank
    if held:
        flat = torch.cat([u.reshape(-1).to(torch.float64) * factors[g] for u, g in held])
        dist.all_reduce(flat, group=process_group)
        offset = 0
        for u, _ in held:
            n = u.numel()
            u.copy_(flat[offset:offset + n].view_as(u))
            offset += n
    return merged
