"""Suite "runner": the native Prog-PowerHP runner (homotopt.prog_powerhp) against the same loop in
NumPy, PyTorch eager and torch.compile, batched over trials.

Phase retrieval at d = 100, n = 400, K = 8, J = 16 (the paper's protocol settings), float64, 1 and 100
trials. Every candidate implements the same step: a minibatch of J rows, K Gaussian samples, the
max-shifted power weights, the direction and the "log" step; NumPy and PyTorch are batched over trials
(one array op per step for all trials); torch.compile compiles the step's math (the draws stay eager).
homotopt times a whole run (its per-run setup included), the others 20 steps per call (4 with
--quick); all are
reported per trial-step. Floor (CPU): the work of a trial-step, 2 J d K + 2 J d FLOPs at the measured
one-thread DGEMM rate plus K d normals at homotopt's one-thread generator rate, divided by the threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import homotopt

from ._case import Case, Context, add_torch, measure
from ._timing import Timing, threads

NAME = "runner"
TITLE = "Prog-PowerHP runner, phase retrieval d=100 n=400 K=8 J=16, float64, per trial-step"
D, N_ROWS, K, J = 100, 400, 8, 16
BASELINES = ["PyTorch", "torch.compile", "NumPy"]
POWER = homotopt.PowerSchedule(0.01, 1 / 30000, 1.0)
SIGMA = homotopt.SigmaSchedule(0.15, 0.99983)
LR = homotopt.LearningRate(0.7)
STEPS_PER_CALL = 20
QUICK_STEPS_PER_CALL = 4


def _schedules(steps: int) -> np.ndarray:
    """(steps, 3): power N, sigma, learning rate per step, as the native run uses them."""
    return np.stack([POWER.values(steps), SIGMA.values(steps), LR.values(steps)], axis=1)


def _native(problem: Any, mu0: np.ndarray, steps: int) -> Any:
    return lambda: homotopt.prog_powerhp(problem, mu0, steps=steps, num_samples=K, batch_size=J, power=POWER,
                                         sigma=SIGMA, lr=LR, eval_every=200, progress=False)


class NumpyLoop:
    """The step batched over R trials in NumPy."""

    def __init__(self, A: np.ndarray, y: np.ndarray, mu0: np.ndarray) -> None:
        self.A, self.y, self.mu = A, y, mu0.copy()
        self.rng = np.random.default_rng(0)
        self.t = 0
        self.sched = _schedules(2000)

    def step(self) -> None:
        N, sigma, alpha = self.sched[self.t % len(self.sched)]
        R = self.mu.shape[0]
        rows = self.rng.integers(0, N_ROWS, (R, J))
        AJ = np.take_along_axis(self.A, rows[:, :, None], axis=1)          # (R, J, d)
        yJ = np.take_along_axis(self.y, rows, axis=1)                      # (R, J)
        W = self.mu[:, None, :] + sigma * self.rng.standard_normal((R, K, D))
        Z = AJ @ W.transpose(0, 2, 1)                                      # (R, J, K)
        res = Z * Z - yJ[:, :, None]
        a = -N * res * res
        w = np.exp(a - a.max(axis=(1, 2), keepdims=True))
        c = (w * (-4.0 * res * Z)).sum(axis=2)                             # (R, J)
        direction = np.einsum("rj,rjd->rd", c, AJ) / w.sum(axis=(1, 2))[:, None]
        self.mu += alpha * N * direction
        self.t += 1

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.step()


def torch_step_math(A: Any, y: Any, mu: Any, rows: Any, eps: Any, sched: Any) -> None:
    """One step given the draws (rows, eps) and sched = (N, sigma, alpha) as a tensor; mu in place."""
    import torch

    N, sigma, alpha = sched[0], sched[1], sched[2]
    R = mu.shape[0]
    AJ = A.gather(1, rows[:, :, None].expand(R, J, D))
    yJ = y.gather(1, rows)
    W = mu[:, None, :] + sigma * eps
    Z = AJ @ W.transpose(1, 2)
    res = Z * Z - yJ[:, :, None]
    a = -N * res * res
    w = (a - a.amax(dim=(1, 2), keepdim=True)).exp()
    c = (w * (-4.0 * res * Z)).sum(dim=2)
    direction = torch.einsum("rj,rjd->rd", c, AJ) / w.sum(dim=(1, 2))[:, None]
    mu.add_(alpha * N * direction)


class TorchLoop:
    """The same step in PyTorch (eager, or with the math torch.compile'd)."""

    def __init__(self, torch: Any, A: np.ndarray, y: np.ndarray, mu0: np.ndarray, device: str,
                 compiled: bool = False) -> None:
        self.torch, self.device = torch, device
        self.A, self.y = torch.from_numpy(A).to(device), torch.from_numpy(y).to(device)
        self.mu = torch.from_numpy(mu0.copy()).to(device)
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.sched = torch.from_numpy(_schedules(2000)).to(device)
        self.math = torch.compile(torch_step_math, dynamic=False) if compiled else torch_step_math
        self.t = 0

    def step(self) -> None:
        torch = self.torch
        R = self.mu.shape[0]
        rows = torch.randint(0, N_ROWS, (R, J), generator=self.gen, device=self.device)
        eps = torch.randn((R, K, D), generator=self.gen, dtype=self.A.dtype, device=self.device)
        self.math(self.A, self.y, self.mu, rows, eps, self.sched[self.t % len(self.sched)])
        self.t += 1

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.step()


def specs(ctx: Context) -> list[dict[str, Any]]:
    trials = (100,) if ctx.quick else (1, 100)
    return [{"trials": R, "threads": t} for t in ctx.threads for R in trials]


def run(ctx: Context, spec: dict[str, Any]) -> Case:
    from homotopt.problems import PhaseRetrieval

    R = spec["trials"]
    n_threads = None if ctx.device == "cuda" else spec["threads"]
    host = PhaseRetrieval.random(D, N_ROWS, seed=0, trials=R)
    mu0 = host.random_start(R, seed=1)
    native_steps = (200 if ctx.quick else 2000) * (100 if R == 1 else 1)
    per = QUICK_STEPS_PER_CALL if ctx.quick else STEPS_PER_CALL
    per_call = {"homotopt": native_steps * R}
    fns: dict = {}
    skipped: dict[str, str] = {}
    torch = ctx.torch
    if ctx.device == "cuda":
        problem = PhaseRetrieval(torch.from_numpy(host.A).cuda(), torch.from_numpy(host.y).cuda(), host.x_true)
        fns["homotopt"] = _native(problem, mu0, native_steps)
        skipped["NumPy"] = "runs on the host; this run is on cuda"
    else:
        fns["homotopt"] = _native(host, mu0, native_steps)
        loop = NumpyLoop(host.A, host.y, mu0)
        fns["NumPy"] = lambda: loop.steps(per)
    eager = compiled = None
    if torch is not None:
        t_loop = TorchLoop(torch, host.A, host.y, mu0, ctx.device)
        eager = lambda: t_loop.steps(per)  # noqa: E731
        if ctx.compile_skipped() is None:
            c_loop = TorchLoop(torch, host.A, host.y, mu0, ctx.device, compiled=True)
            compiled = lambda: c_loop.steps(per)  # noqa: E731
    add_torch(ctx, fns, skipped, eager, compiled)
    timings, skipped = measure(ctx, fns, skipped)
    per_step = {}
    for name, t in timings.items():
        k = per_call.get(name, per * R)
        per_step[name] = Timing(t.median_s / k, t.p25_s / k, t.p75_s / k, t.calls)
    flops = 2 * J * D * K + 2 * J * D
    floor: float | None = None
    if n_threads is None:
        how = "no floor model for the GPU runner"
    else:
        with threads(1):
            dgemm = ctx.floors.gemm_rate(np.float64, 1)
        normals = ctx.floors.normal_rate()
        floor = (flops / dgemm + K * D / normals) / n_threads
        how = (f"({flops:,} FLOPs at the one-thread DGEMM rate + {K * D} normals at the one-thread "
               "normal rate) / threads")
    return Case(NAME, f"{R} trial{'s' if R > 1 else ''}", n_threads,
                {"trials": R, "d": D, "n": N_ROWS, "K": K, "J": J, "native_steps": native_steps,
                 "steps_per_call_others": per}, per_step, skipped, floor, how, BASELINES)
