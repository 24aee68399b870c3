"""Suite "o2nc": the fused Exponentiated O2NC update against PyTorch's SGD, a hand-written foreach
form (eager and torch.compile), NumPy and a plain C loop.

Every candidate does one optimizer step of SGD with momentum whose update is scaled by a fresh s, in
place, on the same float32 parameters (on the CPU, NumPy arrays and torch tensors share the memory),
as one tensor or as 100 equal tensors:
  homotopt        homotopt.o2nc_update(check_finite=False): one fused pass, 20 B per parameter (on
                  cuda: homotopt.torch.ExpO2NC(check_finite=False).step())
  +check          the same with check_finite=True: a read pass over the grads first (24 B)
  homotopt.torch  homotopt.torch.ExpO2NC(check_finite=False).step(): the drop-in torch optimizer (CPU)
  torch default   homotopt.torch.ExpO2NC().step() with its default settings (check_finite=True: the
                  finiteness check in the update's parallel region, nan_policy="skip"), on its own copy
                  of the parameters (CPU)
  SGD loop, SGD foreach, SGD fused
                  torch.optim.SGD(momentum=beta) with lr set to s * lr * beta before each step (the
                  same update, papers/o2nc.md)
  PyTorch         the D form by hand in three torch._foreach_* calls (add, mul, add)
  torch.compile   the same per-tensor form compiled (s passed as a 0-d tensor)
  NumPy           in-place ufuncs with a scratch buffer, tensor by tensor (CPU)
  C loop          the plainest OpenMP loop at 20 B per parameter, compiled now with the system's C
                  compiler (CPU; without a compiler the floor is 20 B per parameter at copy bandwidth)
Floor: the C loop's median, else 20 B per parameter at the measured copy bandwidth.
"""

from __future__ import annotations

import ctypes
import itertools
import random
from typing import Any, Callable

import numpy as np

from ._case import Case, Context, add_torch, measure

NAME = "o2nc"
TITLE = "Exponentiated O2NC update, one step in place, float32"
SIZES = [10**3, 10**4, 10**5, 10**6, 10**7, 5 * 10**7]
LAYOUTS = [1, 100]
QUICK_CASES = [(10**5, 1), (10**5, 100)]
LR, BETA = 1e-3, 0.9
BYTES = 20  # per float32 parameter: read x, g, D; write x, D
BASELINES = ["SGD foreach", "SGD fused", "PyTorch", "torch.compile", "NumPy"]


def specs(ctx: Context) -> list[dict[str, Any]]:
    cases = QUICK_CASES if ctx.quick else [(s, c) for s in SIZES for c in LAYOUTS]
    return [{"params": total, "tensors": count, "threads": t} for t in ctx.threads for total, count in cases]


def _hand_step(tx: list, tg: list, tD: list, s: Any) -> None:
    """D <- beta (D - lr g); x <- x + s D, tensor by tensor (what torch.compile compiles)."""
    for x, g, D in zip(tx, tg, tD):
        D.add_(g, alpha=-LR).mul_(BETA)
        x.add_(D * s)


def _torch_candidates(ctx: Context, x: list, g: list, fns: dict, skipped: dict) -> None:
    import homotopt.torch as ht

    torch, dev = ctx.torch, ctx.device
    draw = random.Random(0).expovariate
    if dev == "cuda":
        params = [torch.nn.Parameter(torch.from_numpy(a).to(dev)) for a in x]
        for p, a in zip(params, g):
            p.grad = torch.from_numpy(a).to(dev)
    else:
        params = [torch.nn.Parameter(torch.from_numpy(a)) for a in x]  # the same memory as x
        for p, a in zip(params, g):
            p.grad = torch.from_numpy(a)
    ours = ht.ExpO2NC(params, lr=LR, beta=BETA, seed=1, check_finite=False)
    if dev == "cuda":
        fns["homotopt"] = ours.step
        fns["+check"] = ht.ExpO2NC(params, lr=LR, beta=BETA, seed=1, check_finite=True).step
    else:
        fns["homotopt.torch"] = ours.step
        own = [torch.nn.Parameter(p.detach().clone()) for p in params]  # a second optimizer, its own state
        for p, q in zip(own, params):
            p.grad = q.grad
        fns["torch default"] = ht.ExpO2NC(own, lr=LR, momentum=BETA, seed=1).step

    def sgd_step(sgd: Any) -> Callable[[], None]:
        def run() -> None:
            sgd.param_groups[0]["lr"] = draw(1.0) * LR * BETA
            sgd.step()
        return run

    for name, kw in (("SGD loop", dict(foreach=False)), ("SGD foreach", dict(foreach=True)),
                     ("SGD fused", dict(fused=True))):
        if dev == "cuda" and name == "SGD loop":
            continue
        try:
            sgd = torch.optim.SGD(params, lr=LR * BETA, momentum=BETA, **kw)
        except (RuntimeError, ValueError) as exc:  # e.g. no fused SGD for this device in this torch
            skipped[name] = f"failed: {exc}"
            continue
        fns[name] = sgd_step(sgd)
    tx, tg = [p.detach() for p in params], [p.grad for p in params]
    tD = [torch.zeros_like(a) for a in tx]
    cD = [torch.zeros_like(a) for a in tx]

    def hand_foreach() -> None:
        torch._foreach_add_(tD, tg, alpha=-LR)          # D - lr g
        torch._foreach_mul_(tD, BETA)                   # b' (D - lr g)
        torch._foreach_add_(tx, tD, alpha=draw(1.0))    # x + s D

    compiled = None
    if ctx.compile_skipped() is None:
        fast = torch.compile(_hand_step, dynamic=False)
        s_t = torch.zeros((), device=dev)
        compiled = lambda: fast(tx, tg, cD, s_t.fill_(draw(1.0)))  # noqa: E731
    add_torch(ctx, fns, skipped, hand_foreach, compiled)


def run(ctx: Context, spec: dict[str, Any]) -> Case:
    import homotopt

    total, count = spec["params"], spec["tensors"]
    n_threads = None if ctx.device == "cuda" else spec["threads"]
    n = total // count
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(n, dtype=np.float32) for _ in range(count)]
    g = [rng.standard_normal(n, dtype=np.float32) for _ in range(count)]
    D = [np.zeros(n, np.float32) for _ in range(count)]
    draw = random.Random(0).expovariate
    step = itertools.count()
    fns: dict = {}
    skipped: dict[str, str] = {}
    if ctx.device == "cpu":
        fns["homotopt"] = lambda: homotopt.o2nc_update(x, g, D, lr=LR, beta=BETA, seed=1,
                                                       step=next(step) % 2**32, check_finite=False)
        fns["+check"] = lambda: homotopt.o2nc_update(x, g, D, lr=LR, beta=BETA, seed=1, step=next(step) % 2**32)
    if ctx.torch is not None:
        _torch_candidates(ctx, x, g, fns, skipped)
    else:
        add_torch(ctx, fns, skipped, None)
        for name in ("homotopt.torch", "torch default", "SGD loop", "SGD foreach", "SGD fused"):
            skipped[name] = ctx.torch_missing or "not available"
    floor_fn, floor_how = (None, "") if ctx.device == "cuda" else ctx.floors.c_loop()
    if ctx.device == "cuda":
        skipped["NumPy"] = "runs on the host; this run is on cuda"
    else:
        scratch = [np.empty_like(a) for a in x]
        D_np = [np.zeros_like(a) for a in x]

        def numpy_step() -> None:
            s = np.float32(draw(1.0))
            for xi, gi, Di, ti in zip(x, g, D_np, scratch):
                np.multiply(gi, np.float32(-LR), out=ti)
                Di += ti
                Di *= np.float32(BETA)
                np.multiply(Di, s, out=ti)
                xi += ti

        fns["NumPy"] = numpy_step
        if floor_fn is not None:
            pointers = [(ctypes.c_void_p * count)(*[a.ctypes.data for a in arrays]) for arrays in (x, g, D)]
            sizes = np.full(count, n, dtype=np.int64)
            fns["C loop"] = lambda: floor_fn(count, *pointers, sizes.ctypes.data, BETA, LR, draw(1.0), n_threads)
        else:
            skipped["C loop"] = floor_how
    timings, skipped = measure(ctx, fns, skipped)
    if "C loop" in timings:
        floor, how = timings["C loop"].median_s, f"the C loop's median (built by {floor_how})"
    else:
        bw = ctx.floors.copy_bandwidth(n_threads)
        why = "" if ctx.device == "cuda" else f"; no C loop: {skipped.get('C loop', 'failed')}"
        floor, how = BYTES * total / bw, f"20 B per parameter at the copy bandwidth{why}"
    label = f"{total:.0e} params x {count} tensor{'s' if count > 1 else ''}".replace("e+0", "e")
    return Case(NAME, label, n_threads, {"params": total, "tensors": count, "lr": LR, "beta": BETA,
                                         "bytes_per_param": BYTES}, timings, skipped, floor, how, BASELINES)
