"""Suite "estimator": the fused phase-retrieval power-gradient estimator (PhaseRetrieval.power_gradient)
against the same math in NumPy, PyTorch eager and torch.compile, float32.

Every candidate computes the estimator from scratch on each call: draw the K x d noise, form
W = mu + sigma eps, and reduce the n x K pairs to the direction (stable, max-shifted weights).
  homotopt:  one pass over A (Z tile, online max, c_j, u += c_j a_j while the rows are in cache).
  NumPy:     Z = A W^T (SGEMM), elementwise on (n, K), then u = A^T c (SGEMV): two passes over A.
  PyTorch:   the same two-pass form, eager; torch.compile compiles it (the draw stays eager).
Floor: max(A read once at the measured copy bandwidth, 2 n d K + 2 n d FLOPs at the measured SGEMM rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._case import Case, Context, add_torch, measure

NAME = "estimator"
TITLE = "Fused phase-retrieval estimator (PhaseRetrieval.power_gradient), float32"
SHAPES = [(400, 100, 10), (4096, 1024, 32), (8192, 2048, 32), (4096, 1024, 256)]  # (n, d, K)
QUICK_SHAPES = [(1024, 256, 16)]
SIGMA, POWER = 0.1, 1.0
BASELINES = ["PyTorch", "torch.compile", "NumPy"]


def numpy_estimator(A: np.ndarray, y: np.ndarray, mu: np.ndarray, K: int, rng: np.random.Generator) -> np.ndarray:
    eps = rng.standard_normal((K, A.shape[1]), dtype=np.float32)
    W = mu + np.float32(SIGMA) * eps
    Z = A @ W.T                                   # pass 1 over A
    R = Z * Z - y[:, None]
    a = (-POWER) * (R * R).astype(np.float64)
    w = np.exp(a - a.max())
    c = (w * (-4.0 * R * Z)).sum(axis=1).astype(np.float32)
    return (A.T @ c) / w.sum()                    # pass 2 over A


def torch_math(A: Any, y: Any, W: Any) -> Any:
    """The estimator given the samples W (K, d): the part torch.compile compiles."""
    Z = A @ W.T
    R = Z * Z - y[:, None]
    a = (-POWER) * (R * R).double()
    w = (a - a.max()).exp()
    c = (w * (-4.0 * R * Z)).sum(dim=1).float()
    return (A.T @ c) / w.sum()


def specs(ctx: Context) -> list[dict[str, Any]]:
    return [{"n": n, "d": d, "K": K, "threads": t} for t in ctx.threads
            for n, d, K in (QUICK_SHAPES if ctx.quick else SHAPES)]


def run(ctx: Context, spec: dict[str, Any]) -> Case:
    from homotopt.problems import PhaseRetrieval

    n, d, K = spec["n"], spec["d"], spec["K"]
    host = PhaseRetrieval.random(d, n, seed=0, dtype=np.float32)
    mu = host.x_true.astype(np.float32) * 0.5
    fns: dict = {}
    skipped: dict[str, str] = {}
    torch = ctx.torch
    if ctx.device == "cuda":
        A, y = torch.from_numpy(host.A).cuda(), torch.from_numpy(host.y).cuda()
        problem, tmu = PhaseRetrieval(A, y), torch.from_numpy(mu).cuda()
        fns["homotopt"] = lambda: problem.power_gradient(tmu, sigma=SIGMA, power=POWER, num_samples=K, seed=1)
        skipped["NumPy"] = "runs on the host; this run is on cuda"
    else:
        rng = np.random.default_rng(0)
        fns["homotopt"] = lambda: host.power_gradient(mu, sigma=SIGMA, power=POWER, num_samples=K, seed=1)
        fns["NumPy"] = lambda: numpy_estimator(host.A, host.y, mu, K, rng)
    eager = compiled = None
    if torch is not None:
        dev = ctx.device
        tA, ty, tm = (torch.from_numpy(x).to(dev) for x in (host.A, host.y, mu))
        gen = torch.Generator(device=dev).manual_seed(0)

        def draw() -> Any:
            return tm + SIGMA * torch.randn((K, d), generator=gen, device=dev)

        eager = lambda: torch_math(tA, ty, draw())  # noqa: E731
        if ctx.compile_skipped() is None:
            fast = torch.compile(torch_math, dynamic=False)
            compiled = lambda: fast(tA, ty, draw())  # noqa: E731
    add_torch(ctx, fns, skipped, eager, compiled)
    timings, skipped = measure(ctx, fns, skipped)
    t = None if ctx.device == "cuda" else spec["threads"]
    copy_bw, sgemm = ctx.floors.copy_bandwidth(t), ctx.floors.gemm_rate(np.float32, t)
    flops = 2 * n * d * K + 2 * n * d
    floor = max(n * d * 4 / copy_bw, flops / sgemm)
    how = "max(A read once at the copy bandwidth, 2 n d K + 2 n d FLOPs at the SGEMM rate)"
    return Case(NAME, f"n={n} d={d} K={K}", t, {"n": n, "d": d, "K": K, "flops": flops}, timings, skipped,
                floor, how, BASELINES)
