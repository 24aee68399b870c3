"""The (m, s, u) state of Prog-PowerHP on torch tensors, kept on the parameters' device.

Internal to :mod:`homotopt.torch.progpowerhp`. The scalar part (m, s, count) of every param group
is one float64 tensor of shape (G, 3) on the device, so no step ever reads it on the host; the
vector part u is one buffer per parameter. One sample's terms a_j = N f_j merge into the state as
(lse.hpp): M = max(m, m_k); u <- e^(m - M) u + e^(m_k - M) g_k; s likewise, with g_k the gradient
of sum_j e^(a_j - m_k) f_j. The rescale-and-accumulate of u over all tensors is one fused native
call (``_core.power_accumulate_pointers``) on the tensors' memory.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .. import _core

_DTYPES = {torch.float32: _core.DType.float32, torch.float64: _core.DType.float64}
_DEVICES = {"cpu": _core.DeviceType.cpu, "cuda": _core.DeviceType.cuda}


def rescale(frm: torch.Tensor, to: torch.Tensor) -> torch.Tensor:
    """e^(frm - to) for frm <= to, and 1 where frm == to (also -inf == -inf: the empty state)."""
    return torch.where(frm == to, torch.ones_like(frm), torch.exp(frm - to))


def exponents(power: float, f: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """a = N f in float64, -inf where the pair is not counted or f = -inf (N -> 0+ keeps f = -inf at
    weight 0, not 0 * -inf = NaN)."""
    a = f * power  # f is float64 already
    return torch.where(counted & (f != -math.inf), a, torch.full_like(a, -math.inf))


def shifted(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x - m, with m = -inf (an empty state) taken as 0: e^(x - m) is then 0 for x = -inf, never NaN,
    and e^(m - M) is exactly 1 where m == M (lse.hpp's two corner cases)."""
    return x - torch.where(m == -math.inf, torch.zeros_like(m), m)


def sample_terms(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(m_k, s_k, w) of one sample's terms a (J,): m_k = max a, w = e^(a - m_k), s_k = sum w.
    With every a = -inf: m_k = -inf, w = 0, s_k = 0 (the empty state)."""
    m = a.max()
    w = torch.exp(shifted(a, m))
    return m, w.sum(), w


def merge_rows(state: torch.Tensor, rows: torch.Tensor | None, m_k: torch.Tensor, s_k: torch.Tensor,
               n_k: torch.Tensor) -> torch.Tensor:
    """Merges a sample (m_k, s_k, n_k counted pairs) into rows of the (G, 3) state (None: all rows), in
    place; returns the (rows, 2) coefficients (a, b) of u <- a u + b g. An empty sample has b = 0."""
    view = state if rows is None else state[rows]
    m = view[:, 0]
    M = torch.maximum(m, m_k)
    ca, cb = torch.exp(shifted(m, M)), torch.exp(shifted(m_k.expand_as(M), M))
    new = torch.stack([M, view[:, 1] * ca + s_k * cb, view[:, 2] + n_k], dim=1)
    if rows is None:
        state.copy_(new)
    else:
        state[rows] = new
    return torch.stack([ca, cb], dim=1)


class PowerAccumulator:
    """The fused u <- a_g u + b_g g over a list of tensors, g = None meaning 'skip this tensor's g'.

    The coefficient table is a (G, 2) float64 tensor on the tensors' device: row g holds (a, b) of
    param group g. b == 0 leaves g unread (a NaN gradient of an omitted sample cannot leak into u).
    ``flag`` (one float64 on the device) becomes 1 when a g read with b != 0 holds a NaN or inf.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.flag = torch.zeros(1, dtype=torch.float64, device=device)

    def __call__(self, us: Sequence[torch.Tensor], gs: Sequence[torch.Tensor], groups: Sequence[int],
                 coefficients: torch.Tensor) -> None:
        if not us:
            return
        coefficients = coefficients.contiguous()
        device = self.device
        kind = _DEVICES.get(device.type)
        if kind is None:
            raise ValueError(f"params: expected tensors on the CPU or a CUDA device, got {device}")
        stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0
        _core.power_accumulate_pointers(
            [u.data_ptr() for u in us], [g.data_ptr() for g in gs], [u.numel() for u in us],
            [_DTYPES[u.dtype] for u in us], list(groups), kind, device.index or 0,
            coefficients.data_ptr(), coefficients.shape[0], self.flag.data_ptr(), stream)


def dense_grad(g: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """A gradient in the layout of `like` (zeros for an unused parameter)."""
    if g is None:
        return torch.zeros_like(like)
    if g.is_sparse:
        raise TypeError("ProgPowerHP: expected dense gradients, got a sparse one")
    if g.dtype != like.dtype or g.stride() != like.stride():
        g = torch.empty_like(like).copy_(g)
    return g


def merge_across_ranks(state: torch.Tensor, us: Sequence[torch.Tensor], groups: Sequence[int],
                       process_group) -> torch.Tensor:
    """Merges every rank's (m, s, count) (G, 3) and u: one all_gather of the scalars and one all_reduce
    of u rescaled to the common maximum. Returns the merged (G, 3); u is merged in place."""
    import torch.distributed as dist

    world = dist.get_world_size(process_group)
    gathered = [torch.empty_like(state) for _ in range(world)]
    dist.all_gather(gathered, state, group=process_group)
    allm = torch.stack([t[:, 0] for t in gathered])           # (W, G)
    M = allm.max(dim=0).values                                 # (G,)
    scale = rescale(allm, M.expand_as(allm))                   # (W, G): e^(m_r - M), 1 where equal
    s = (torch.stack([t[:, 1] for t in gathered]) * scale).sum(0)
    count = torch.stack([t[:, 2] for t in gathered]).sum(0)
    rank = dist.get_rank(process_group)
    mine = scale[rank]                                         # (G,)
    if us:
        flat = torch.cat([u.reshape(-1).to(torch.float64) * mine[g] for u, g in zip(us, groups)])
        dist.all_reduce(flat, group=process_group)
        offset = 0
        for u in us:
            n = u.numel()
            u.copy_(flat[offset:offset + n].view_as(u))
            offset += n
    return torch.stack([M, s, count], dim=1)
