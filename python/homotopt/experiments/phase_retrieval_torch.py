"""Phase retrieval at d = 20, n = 60 with the signal as an ``nn.Module`` parameter trained by
``homotopt.torch.ProgPowerHP``, against the native runner at the same settings (phase_retrieval.py's
protocol: K = 8, J = 8, the paper study's schedules, the same instances and starts). Two-sided tests:
Fisher's exact test on the success rates (M <= 1e-3) and Mann-Whitney U on M.
"""

from __future__ import annotations

import time

import numpy as np

import homotopt
from homotopt.problems import PhaseRetrieval

from . import phase_retrieval as pr
from ._base import Options, Report
from ._torch_trials import comparison_box, phase_trial, summary_rows

NAME = "phase-retrieval-torch"  # also `reproduce phase-retrieval --backend torch`
SUMMARY = "phase retrieval d = 20, n = 60 through homotopt.torch.ProgPowerHP vs the native runner, same settings"

D, N = 20, 60
THRESHOLD = 1e-3


def run(opts: Options) -> Report:
    try:
        import torch
    except ImportError as exc:
        raise SystemExit(f"homotopt: error: phase-retrieval-torch needs torch ({exc.name} is missing)")
    trials = opts.trials or (2 if opts.quick else 20)
    base = pr.PROTOCOL[D]
    steps = opts.steps or (200 if opts.quick else base["steps"])
    p = pr.scaled(base, steps)
    problem = PhaseRetrieval.random(D, N, seed=opts.seed, trials=trials)
    mu0 = problem.random_start(trials, seed=opts.seed + 1)
    t0 = time.perf_counter()
    native = homotopt.prog_powerhp(problem, mu0, num_samples=p["K"], power=p["power"], sigma=p["sigma"], lr=p["lr"],
                                   steps=steps, batch_size=p["J"], eval_every=p["eval_every"], seed=opts.seed,
                                   progress=False).best_metric
    walls = {"native": time.perf_counter() - t0}
    threads, native_threads = torch.get_num_threads(), homotopt.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (a parallel region per noise fill)
    homotopt.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        best = np.stack([phase_trial(problem.A[r], problem.y[r], mu0[r], steps=steps, J=p["J"],
                                     eval_every=p["eval_every"], num_samples=p["K"], power=p["power"],
                                     sigma=p["sigma"], lr=p["lr"], seed=opts.seed * 1000 + r) for r in range(trials)])
    finally:
        torch.set_num_threads(threads)
        homotopt.set_num_threads(native_threads)
    walls["torch"] = time.perf_counter() - t0
    torch_M = problem.metric(best)
    rows = summary_rows(NAME, native, torch_M, THRESHOLD, walls, {"d": D, "n": N})
    report = Report(NAME, ["d", "n", "backend", "trials", f"success <= {THRESHOLD:g}", "median", "mean",
                           "p (rates, Fisher)", "p (MWU)", "wall s"], rows,
                    {"native_M": native, "torch_M": torch_M},
                    {"d": D, "n": N, "trials": trials, "steps": steps, "seed": opts.seed, "quick": opts.quick,
                     "protocol": {key: (repr(v) if hasattr(v, "values") else v) for key, v in p.items()}})
    report.notes.append("M = min ||mu -+ x*|| / ||x*|| of the best iterate (by mean fitness over all rows); "
                        "p-values two-sided, torch vs native.")
    report.plots = {"metric.png": comparison_box(native, torch_M, 1e-16, "M of the best iterate",
                                                 f"Phase retrieval d = {D}, n = {N}, {trials} trials, {steps} steps")}
    return report
