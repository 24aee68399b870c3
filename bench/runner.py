"""Benchmark: the native Prog-PowerHP runner against the same loop in NumPy and in PyTorch (CPU).

Phase retrieval at d = 100, n = 400, K = 8, J = 16 (the paper's protocol settings), float64, for 1 and
100 trials. All three implement the same step: a minibatch of J rows, K Gaussian samples, the
max-shifted power weights, the direction and the "log" step; NumPy and PyTorch are batched over
trials (one array op per step for all trials). Reported: trial-steps per second, ratios, the wall
time of the full protocol (100 trials x 60,000 steps), and its floor: the work per step counted
(FLOPs of the two products and the K d normal draws) divided by what this machine does per second
of each, measured here on one thread (a large DGEMM by NumPy's BLAS; normals by homotopt's generator,
the fastest on this machine).

Run: python bench/runner.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import homotopt
from homotopt.problems import PhaseRetrieval

sys.path.insert(0, str(Path(__file__).parent))
from _common import compare, device_name, environment, markdown_table, threads, write_results  # noqa: E402

D, N_ROWS, K, J = 100, 400, 8, 16
POWER = homotopt.PowerSchedule(0.01, 1 / 30000, 1.0)
SIGMA = homotopt.SigmaSchedule(0.15, 0.99983)
LR = homotopt.LearningRate(0.7)
PROTOCOL_TRIALS, PROTOCOL_STEPS = 100, 60_000


def schedules(t: int) -> tuple[float, float, float]:
    return POWER.values(t + 1)[t], SIGMA.values(t + 1)[t], LR.values(t + 1)[t]


class NumpyLoop:
    """The step batched over R trials in NumPy."""

    def __init__(self, problem: PhaseRetrieval, mu0: np.ndarray) -> None:
        self.A, self.y, self.mu = problem.A, problem.y, mu0.copy()
        self.rng = np.random.default_rng(0)
        self.t = 0
        self.sched = [schedules(t) for t in range(2000)]

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


class TorchLoop:
    """The same step in PyTorch eager mode."""

    def __init__(self, torch, problem: PhaseRetrieval, mu0: np.ndarray) -> None:
        self.torch = torch
        self.A, self.y = torch.from_numpy(problem.A), torch.from_numpy(problem.y)
        self.mu = torch.from_numpy(mu0.copy())
        self.gen = torch.Generator().manual_seed(0)
        self.t = 0
        self.sched = [schedules(t) for t in range(2000)]

    def step(self) -> None:
        torch = self.torch
        N, sigma, alpha = self.sched[self.t % len(self.sched)]
        R = self.mu.shape[0]
        rows = torch.randint(0, N_ROWS, (R, J), generator=self.gen)
        AJ = torch.gather(self.A, 1, rows[:, :, None].expand(R, J, D))
        yJ = torch.gather(self.y, 1, rows)
        W = self.mu[:, None, :] + sigma * torch.randn((R, K, D), generator=self.gen, dtype=self.A.dtype)
        Z = AJ @ W.transpose(1, 2)
        res = Z * Z - yJ[:, :, None]
        a = -N * res * res
        w = torch.exp(a - a.amax(dim=(1, 2), keepdim=True))
        c = (w * (-4.0 * res * Z)).sum(dim=2)
        direction = torch.einsum("rj,rjd->rd", c, AJ) / w.sum(dim=(1, 2))[:, None]
        self.mu += alpha * N * direction
        self.t += 1


def native_run(problem, mu0, steps):
    return lambda: homotopt.prog_powerhp(problem, mu0, steps=steps, num_samples=K, batch_size=J, power=POWER,
                                         sigma=SIGMA, lr=LR, eval_every=200, progress=False)


def floor_rates() -> tuple[float, float]:
    """(FLOP/s of a large float64 GEMM by NumPy's BLAS, normals/s of homotopt's generator), one thread,
    best of five: the most this core does of each, so the floor is one no loop of this shape reaches."""
    a = np.random.default_rng(0).standard_normal((1024, 1024))
    n_normals = 1 << 22
    gemm, normal = [], []
    with threads(1):
        for i in range(5):
            t0 = time.perf_counter()
            a @ a
            gemm.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            homotopt.random.normal(n_normals, 0, i)
            normal.append(time.perf_counter() - t0)
    return 2 * 1024**3 / min(gemm), n_normals / min(normal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    steps_native = 200 if args.quick else 2000
    rows, records = [], []
    for n_threads in (1, 2):
        with threads(n_threads):
            for R in (1, 100):
                problem = PhaseRetrieval.random(D, N_ROWS, seed=0, trials=R)
                mu0 = problem.random_start(R, seed=1)
                np_loop = NumpyLoop(problem, mu0)
                native_steps = steps_native * (100 if R == 1 else 1)
                fns = {"homotopt": native_run(problem, mu0, native_steps),
                       "numpy": lambda: [np_loop.step() for _ in range(20)]}
                if torch is not None:
                    t_loop = TorchLoop(torch, problem, mu0)
                    fns["torch"] = lambda: [t_loop.step() for _ in range(20)]
                times = compare(fns, budget_s=1.5 if args.quick else 6.0)
                per = {"homotopt": times["homotopt"] / (native_steps * R), "numpy": times["numpy"] / (20 * R)}
                if torch is not None:
                    per["torch"] = times["torch"] / (20 * R)
                rec = {"threads": n_threads, "trials": R, "seconds_per_trial_step": per,
                       "vs_numpy": per["numpy"] / per["homotopt"],
                       "vs_torch": per["torch"] / per["homotopt"] if torch is not None else None}
                records.append(rec)
                rows.append([n_threads, R, f"{1 / per['homotopt']:,.0f}", f"{1 / per['numpy']:,.0f}",
                             f"{1 / per['torch']:,.0f}" if torch is not None else "-", f"{rec['vs_numpy']:.1f}x",
                             f"{rec['vs_torch']:.1f}x" if torch is not None else "-"])
                print(rows[-1], flush=True)
    # The full protocol, measured on a slice of it (100 trials, 2000 steps) and scaled; the floor.
    flops_rate, normal_rate = floor_rates()
    flops_per_step = 2 * J * D * K + 2 * J * D                 # Z = A_J W^T and u = A_J^T c
    floor_per_trial_step = flops_per_step / flops_rate + K * D / normal_rate
    protocol = {}
    for n_threads in (1, 2):
        rec = next(r for r in records if r["threads"] == n_threads and r["trials"] == 100)
        per = rec["seconds_per_trial_step"]["homotopt"]
        protocol[n_threads] = {"estimated_wall_s": per * PROTOCOL_TRIALS * PROTOCOL_STEPS,
                               "floor_wall_s": floor_per_trial_step * PROTOCOL_TRIALS * PROTOCOL_STEPS / n_threads,
                               "ratio_to_floor": per / (floor_per_trial_step / n_threads)}
    table = markdown_table(["threads", "trials", "homotopt trial-steps/s", "NumPy", "PyTorch", "vs NumPy", "vs PyTorch"],
                           rows)
    floor_md = (f"\nFloor per trial-step and thread: {flops_per_step:,} FLOPs at {flops_rate / 1e9:.1f} GFLOP/s "
                f"(a 1024^3 DGEMM, NumPy's BLAS) + {K * D} normals at {normal_rate / 1e6:.0f} M/s (homotopt), "
                f"each the best of five on one thread: {floor_per_trial_step * 1e6:.2f} us.\n\n")
    floor_md += markdown_table(["threads", "protocol wall time (100 x 60,000), est.", "floor", "ratio to floor"],
                               [[t, f"{p['estimated_wall_s']:.1f} s", f"{p['floor_wall_s']:.1f} s",
                                 f"{p['ratio_to_floor']:.2f}x"] for t, p in protocol.items()])
    note = ("\nd = 100, n = 400, K = 8, J = 16, float64, phase retrieval. Medians over interleaved rounds; "
            "NumPy and PyTorch time 20 steps per call, homotopt a whole run (its per-run setup included).\n")
    payload = {"environment": environment(), "quick": args.quick, "records": records, "protocol": protocol,
               "floor": {"flops_per_trial_step": flops_per_step, "flops_per_s": flops_rate,
                         "normals_per_trial_step": K * D, "normals_per_s": normal_rate}}
    if not args.quick:
        print("wrote", *write_results("runner", device_name(), payload, table + "\n" + floor_md + "\n" + note))
    print(table + "\n" + floor_md + "\n" + note)


if __name__ == "__main__":
    main()
