"""The table of parameters that homotopt.torch.ExpO2NC keeps in C++ between steps (``_core.O2ncTable``).

``build_table`` checks every parameter once, makes (or re-views) its buffer D and hands pointers, sizes
and dtypes to C++; it returns the keys that say when to do it again: one tuple per parameter, as
``_core._o2nc_torch_grads`` (the per-step check in one native call, python/bindings/bind_o2nc_torch.cpp)
reads them. ``table_grads`` is that check in Python (the fallback when the native one declines: a
grad to copy, an error to name, or a stale table). The optimizer holds the keys, the table and the
copies made for one step (its ``_keys``, ``_table``, ``_slow``, ``_keep``); these functions take them
as arguments, so the per-step path reads no attribute more than it did inside the optimizer.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import _core
from ._native import DEVICES, DTYPES
from ._o2nc_support import hyper_rows, o2nc_step


def flat_layout(p: torch.Tensor) -> bool:
    """Whether p's elements fill one dense block of memory in some order of its axes (row-major,
    channels-last, transposed): then the update runs on that memory, element by element."""
    if p.is_contiguous():
        return True
    expected = 1
    for stride, size in sorted((st, sz) for st, sz in zip(p.stride(), p.shape) if sz != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def build_table(param_groups: list, state_of: Any, device: torch.device, buffer_dtype: torch.dtype | None,
                old_keys: list) -> tuple[list, _core.O2ncTable | None, bool]:
    """Checks every parameter once and makes the table; returns (keys, table, slow).

    ``state_of`` is the optimizer's ``state`` (D is made or fixed there), ``old_keys`` the last build's
    keys (a D re-viewed after ``p.data = p.data.t()`` is recognized through them). ``slow``: a parameter
    is not dense; then the table is None and each step runs through ``step_over_copies``."""
    xs, ds, numels, dtypes, ddtypes, sizes = [], [], [], [], [], []
    keys: list[tuple[Any, ...]] = []
    slow = False
    old = {id(key[0]): key for key in old_keys if key[1] is not None}
    for k, group in enumerate(param_groups):
        count = 0
        for i, p in enumerate(group["params"]):
            if p.grad is None:  # no state for it: the table is rebuilt when it gets a grad
                keys.append((p, None))
                continue
            count += 1
            name = f"param_groups[{k}]['params'][{i}]"
            if p.dtype not in DTYPES:
                raise TypeError(f"{name}: expected dtype float32, float64, float16 or bfloat16, got {p.dtype}")
            if p.device != device:
                raise ValueError(f"{name}: expected a tensor on {device} (the device of the first parameter), "
                                 f"got one on {p.device}")
            flat = flat_layout(p)
            slow = slow or not flat
            state = state_of[p]
            D = state.get("D")
            want = buffer_dtype if buffer_dtype is not None and p.dtype in (torch.float16, torch.bfloat16) else p.dtype
            if D is None:
                D = torch.zeros_like(p, dtype=want, memory_format=torch.preserve_format if flat else
                                     torch.contiguous_format)
            elif (D.shape != p.shape or D.stride() != p.stride()) and flat and D.numel() == p.numel() and \
                    id(p) in old and old[id(p)][1] == p.data_ptr() and old[id(p)][5] is D:
                # The same memory seen through another shape or strides (p.data = p.data.t(), square or
                # not): D keeps its element-for-element pairing with p's memory, seen the same way.
                D = D.as_strided(p.shape, p.stride(), D.storage_offset())
            elif D.shape != p.shape:
                raise ValueError(f"state of {name}: expected a buffer D of shape {tuple(p.shape)}, got "
                                 f"{tuple(D.shape)}")
            elif D.dtype != want or D.device != p.device or (flat and D.stride() != p.stride()) or (
                    not flat and not D.is_contiguous()):
                fmt = torch.preserve_format if flat else torch.contiguous_format
                D = torch.empty_like(p, dtype=want, memory_format=fmt).copy_(D)  # in p's layout
            state["D"] = D
            xs.append(p.data_ptr())
            ds.append(D.data_ptr())
            numels.append(p.numel())
            dtypes.append(DTYPES[p.dtype])
            ddtypes.append(DTYPES[D.dtype])
            # (the 7th: contiguous, so that the per-step check can ask is_contiguous() instead of stride())
            keys.append((p, p.data_ptr(), p.shape, p.stride(), p.dtype, D, p.is_contiguous(), state))
        sizes.append(count)
    table = None if slow else _core.O2ncTable(xs, ds, numels, dtypes, ddtypes, DEVICES[device.type],
                                              device.index or 0, sizes)
    return keys, table, slow


def table_grads(param_groups: list, keys: list, keep: list) -> list | None:
    """The grads' pointers for the table (0: no grad), or None when the table is stale. A grad of
    another dtype or layout than its parameter's is copied into the parameter's; the copy is appended
    to ``keep`` (it must live until the step has run)."""
    out = []
    n = 0
    for group in param_groups:
        for p in group["params"]:
            if n >= len(keys):
                return None
            key = keys[n]
            n += 1
            g = p.grad
            if key[1] is None:
                if key[0] is not p or g is not None:
                    return None
                continue
            if (key[0] is not p or key[1] != p.data_ptr() or key[3] != p.stride() or key[2] != p.shape
                    or key[4] is not p.dtype or key[7].get("D") is not key[5]):
                # (key[7] is state[p], kept: looking a tensor up in the optimizer's state costs more than
                # the rest; load_state_dict, which replaces the state dicts, resets the keys)
                return None
            if g is None:
                out.append(0)
                continue
            if g.shape != key[2]:  # `p.grad.data = t` skips torch's own check; never read past g's end
                raise ValueError(f"{param_name(param_groups, n - 1)}.grad: expected shape {tuple(key[2])}, got "
                                 f"{tuple(g.shape)}")
            try:
                same = g.dtype is key[4] and g.stride() == key[3]
            except RuntimeError:  # sparse tensors have no strides
                same = False
            if same:
                out.append(g.data_ptr())
            else:
                if g.layout is not torch.strided:
                    raise TypeError(f"{param_name(param_groups, n - 1)}.grad: expected a dense gradient, got a "
                                    "sparse one (ExpO2NC has no sparse update)")
                # Another layout or dtype: a copy in p's (a read-only input; nothing is lost).
                copy = torch.empty_like(p).copy_(g)
                keep.append(copy)
                out.append(copy.data_ptr())
    return out if n == len(keys) else None


def param_name(param_groups: list, flat_index: int) -> str:
    """The name of the parameter at `flat_index` over all groups, as error messages give it."""
    for k, group in enumerate(param_groups):
        if flat_index < len(group["params"]):
            return f"param_groups[{k}]['params'][{flat_index}]"
        flat_index -= len(group["params"])
    return "params"


def step_over_copies(param_groups: list, state_of: Any, state: torch.Tensor, op_codes: tuple[int, int],
                     check: bool, multiplier: float) -> None:
    """The step when a parameter is not dense (no cached table): one call over contiguous copies, copied
    back (nothing else changes). ``op_codes``: the optimizer's (scaling, nan_policy) ints."""
    params, grads, bufs, sizes, back = [], [], [], [], []
    for group in param_groups:
        count = 0
        for p in group["params"]:
            if p.grad is None:
                continue
            x = p if flat_layout(p) else p.contiguous()
            D = state_of[p]["D"]
            g = p.grad if p.grad.dtype == p.dtype and p.grad.stride() == x.stride() else \
                torch.empty_like(x).copy_(p.grad)
            if x is not p:
                back.append((p, x))
            params.append(x)
            grads.append(g)
            bufs.append(D)
            count += 1
        sizes.append(count)
    o2nc_step(params, grads, bufs, state, sizes, hyper_rows(param_groups), op_codes[0], check, op_codes[1],
              multiplier)
    for p, x in back:
        p.copy_(x)
