"""Suite "power-gradient": homotopt.power_gradient (K samples on J data points, given values and
gradients) against the same math in NumPy, PyTorch eager and torch.compile, float32 inputs.

  homotopt:  one pass over the gradients keeping (max, rescaled sum, rescaled weighted gradient),
             accumulated in float64; no (K, J) weight array.
  NumPy:     w = exp(N (f - max f)) in float64, then w @ grads (SGEMV over the K J x d gradients) / sum w.
  PyTorch:   the same, eager; torch.compile compiles it.
Floor: max(the gradients (K J d floats) read once at the measured copy bandwidth, 2 K J d FLOPs at the
measured SGEMM rate). Gradients that fit in cache can be read faster than the copy bandwidth (measured
out of cache), so there the floor is not a tight bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._case import Case, Context, add_torch, measure

NAME = "power-gradient"
TITLE = "Power gradient from given values and gradients (homotopt.power_gradient), float32"
SHAPES = [(10, 16, 100), (32, 32, 1024), (64, 64, 4096)]  # (K, J, d)
QUICK_SHAPES = [(16, 16, 1024)]
POWER = 1e3
BASELINES = ["PyTorch", "torch.compile", "NumPy"]


def numpy_direction(values: np.ndarray, grads: np.ndarray) -> np.ndarray:
    a = POWER * values.astype(np.float64)
    w = np.exp(a - a.max())
    K, J, d = grads.shape
    return (w.ravel().astype(np.float32) @ grads.reshape(K * J, d)) / np.float32(w.sum())


def torch_direction(values: Any, grads: Any) -> Any:
    a = POWER * values.double()
    w = (a - a.max()).exp()
    return (w.reshape(-1).float() @ grads.reshape(-1, grads.shape[-1])) / w.sum().float()


def specs(ctx: Context) -> list[dict[str, Any]]:
    return [{"K": K, "J": J, "d": d, "threads": t} for t in ctx.threads
            for K, J, d in (QUICK_SHAPES if ctx.quick else SHAPES)]


def run(ctx: Context, spec: dict[str, Any]) -> Case:
    import homotopt

    K, J, d = spec["K"], spec["J"], spec["d"]
    rng = np.random.default_rng(0)
    values = -np.abs(rng.standard_normal((K, J))).astype(np.float32) * np.float32(0.01)
    grads = rng.standard_normal((K, J, d), dtype=np.float32)
    fns: dict = {}
    skipped: dict[str, str] = {}
    torch = ctx.torch
    tv = tg = None
    if torch is not None:
        tv, tg = torch.from_numpy(values).to(ctx.device), torch.from_numpy(grads).to(ctx.device)
    if ctx.device == "cuda":
        fns["homotopt"] = lambda: homotopt.power_gradient(tv, tg, POWER)
        skipped["NumPy"] = "runs on the host; this run is on cuda"
    else:
        fns["homotopt"] = lambda: homotopt.power_gradient(values, grads, POWER)
        fns["NumPy"] = lambda: numpy_direction(values, grads)
    eager = compiled = None
    if torch is not None:
        eager = lambda: torch_direction(tv, tg)  # noqa: E731
        if ctx.compile_skipped() is None:
            fast = torch.compile(torch_direction, dynamic=False)
            compiled = lambda: fast(tv, tg)  # noqa: E731
    add_torch(ctx, fns, skipped, eager, compiled)
    timings, skipped = measure(ctx, fns, skipped)
    t = None if ctx.device == "cuda" else spec["threads"]
    copy_bw, sgemm = ctx.floors.copy_bandwidth(t), ctx.floors.gemm_rate(np.float32, t)
    nbytes, flops = K * J * d * 4, 2 * K * J * d
    how = "max(the gradients read once at the copy bandwidth, 2 K J d FLOPs at the SGEMM rate)"
    return Case(NAME, f"K={K} J={J} d={d}", t, {"K": K, "J": J, "d": d, "power": POWER, "grad_bytes": nbytes,
                                                  "flops": flops},
                timings, skipped, max(nbytes / copy_bw, flops / sgemm), how, BASELINES)
