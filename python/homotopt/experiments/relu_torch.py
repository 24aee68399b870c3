"""The two-layer ReLU teacher-student with the student as an ``nn.Module`` trained by
``homotopt.torch.ProgPowerHP``, against the native runner at the same settings (relu.py's, same
instances, starts, schedules, J = 30 fresh inputs, K = 1, evaluation cadence). Two-sided tests: Fisher's
exact test on the share of test losses below 1e-3 and Mann-Whitney U on the losses; large p-values
mean no detectable difference. The torch path runs one trial at a time (Python per step), so the full
protocol (100 trials x 35,000 steps) is far slower than the native runner's.
"""

from __future__ import annotations

import time

import numpy as np

import homotopt
from homotopt.problems import TwoLayerReLU

from . import relu
from ._base import Options, Report
from ._torch_trials import comparison_box, relu_trial, summary_rows

NAME = "relu-torch"  # also `reproduce relu --backend torch`
SUMMARY = "two-layer ReLU through homotopt.torch.ProgPowerHP (nn.Module) vs the native runner, same settings"


def run(opts: Options) -> Report:
    try:
        import torch
    except ImportError as exc:
        raise SystemExit(f"homotopt: error: relu-torch needs torch ({exc.name} is missing)")
    k = 6
    trials = opts.trials or (2 if opts.quick else 20)
    steps = opts.steps or (200 if opts.quick else relu.STEPS)
    problem = TwoLayerReLU(k, k, seed=opts.seed, trials=trials)
    mu0 = problem.random_start(trials, seed=opts.seed + 1)
    s = relu.settings(k)["powerhp"]
    n0, nmax = s["power"]
    power = homotopt.PowerSchedule(n0, (nmax - n0) / steps, nmax)
    sigma = homotopt.SigmaSchedule(s["sigma0"], (1e-4 / s["sigma0"]) ** (1 / steps))
    eval_every = max(1, steps // 70)
    t0 = time.perf_counter()
    native = homotopt.prog_powerhp(problem, mu0, num_samples=s["num_samples"], power=power, sigma=sigma, lr=s["lr"],
                                   steps=steps, batch_size=relu.J, eval_every=eval_every, seed=opts.seed,
                                   progress=False).best_metric
    walls = {"native": time.perf_counter() - t0}
    threads, native_threads = torch.get_num_threads(), homotopt.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (a parallel region per noise fill)
    homotopt.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        torch_losses = np.array([
            relu_trial(problem.teacher[r], problem.val_x[r], problem.val_y[r], problem.test_x[r], problem.test_y[r],
                       mu0[r], steps=steps, J=relu.J, eval_every=eval_every, num_samples=s["num_samples"],
                       power=power, sigma=sigma, lr=s["lr"], seed=opts.seed * 1000 + r) for r in range(trials)])
    finally:
        torch.set_num_threads(threads)
        homotopt.set_num_threads(native_threads)
    walls["torch"] = time.perf_counter() - t0
    rows = summary_rows(NAME, native, torch_losses, relu.THRESHOLD, walls, {"k = n": k})
    report = Report(NAME, ["k = n", "backend", "trials", f"success <= {relu.THRESHOLD:g}", "median", "mean",
                           "p (rates, Fisher)", "p (MWU)", "wall s"], rows,
                    {"native_test_loss": native, "torch_test_loss": torch_losses},
                    {"k": k, "trials": trials, "steps": steps, "J": relu.J, "seed": opts.seed, "quick": opts.quick,
                     "power": repr(power), "sigma": repr(sigma), "lr": repr(s["lr"]), "K": s["num_samples"]})
    report.notes.append("Metric: test MSE of the best iterate (by validation MSE). p-values two-sided, torch vs "
                        "native: a small p would mean the torch optimizer behaves differently.")
    report.plots = {"test_loss.png": comparison_box(native, torch_losses, 1e-12, "test loss of the best iterate",
                                                    f"Two-layer ReLU k = n = {k}, {trials} trials, {steps} steps")}
    return report
