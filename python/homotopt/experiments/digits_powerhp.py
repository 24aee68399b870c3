"""Prog-PowerHP on a real (small) network: a CNN on scikit-learn's digits, trained by
``homotopt.torch.ProgPowerHP`` against Adam and SGD with momentum, at matched gradient evaluations and
at matched wall time.

Data: the 1,797 8x8 digit images of sklearn.datasets.load_digits (no download), pixels in [0, 1], 25%
stratified test split. Network: Conv(1->8, 3x3) ReLU Conv(8->16, 3x3) ReLU Linear(256->10), 3,922
parameters, the same initial weights and the same minibatch order (J = 32) for every optimizer.
Settings (chosen once, not tuned): Prog-PowerHP K = 4 samples, power N rising linearly from 0.5 to 2
over the run, sigma 0.01 decaying geometrically to 1e-4, step rule "log" with lr 0.1 (so the step is
0.1 N times the softmax(N f)-weighted mean gradient, f = -cross-entropy per example); Adam lr 1e-3;
SGD lr 0.05, momentum 0.9. A gradient evaluation is one example's gradient: a Prog-PowerHP step costs
K J of them, an Adam or SGD step J. The paper leaves large models open: with f = -loss, exp(N f)
up-weights the examples the network already fits, which is no help to a classifier; the table says
what happens.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import homotopt

from ._base import Options, Report
from .o2nc_digits import load_digits_split

NAME = "digits-powerhp"
SUMMARY = "Prog-PowerHP vs Adam and SGD(momentum): a small CNN on scikit-learn's digits, matched gradients and wall time"

J, K = 32, 4
OPTIMIZERS = ("ProgPowerHP", "Adam", "SGD")


def make_model(seed: int):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(256, 10))


def make_optimizer(name: str, model, seed: int, total_steps: int):
    import torch

    import homotopt
    from homotopt.torch import ProgPowerHP

    if name == "Adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    if name == "SGD":
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    steps = max(total_steps, 1)
    return ProgPowerHP(model.parameters(), num_samples=K, power=homotopt.PowerSchedule(0.5, 1.5 / steps, 2.0),
                       sigma=homotopt.SigmaSchedule(0.01, (1e-4 / 0.01) ** (1 / steps)), lr=0.1, seed=seed)


def train(data, name: str, seed: int, *, evals: int | None = None, wall: float | None = None,
          checkpoints: int = 20) -> dict:
    """Trains until `evals` gradient evaluations or `wall` seconds of optimizer time (evaluation excluded);
    returns the curve (gradient evaluations, seconds, test accuracy, test loss, train loss)."""
    import torch

    X_tr, y_tr, X_te, y_te = data
    model = make_model(seed)
    per_step = K * J if name == "ProgPowerHP" else J
    planned = (evals or 10**9) // per_step
    if wall is not None and name == "ProgPowerHP":
        planned = max(1, int(wall / 4e-3))  # the schedules need a length: a guess of the steps that fit
    opt = make_optimizer(name, model, seed, planned)
    order = torch.Generator().manual_seed(seed)
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    curve = {"evals": [], "seconds": [], "accuracy": [], "test_loss": [], "train_loss": []}
    used, spent, step = 0, 0.0, 0
    every_evals = (evals or 0) / checkpoints
    every_s = (wall or 0.0) / checkpoints
    next_mark = every_evals if evals else every_s

    def record():
        with torch.no_grad():
            out = model(X_te)
            curve["evals"].append(used)
            curve["seconds"].append(spent)
            curve["accuracy"].append(float((out.argmax(1) == y_te).float().mean()))
            curve["test_loss"].append(float(ce(out, y_te).mean()))
            curve["train_loss"].append(float(ce(model(X_tr), y_tr).mean()))

    record()
    perm = torch.randperm(X_tr.shape[0], generator=order)
    pos = 0
    while (evals is None or used + per_step <= evals) and (wall is None or spent < wall):
        if pos + J > X_tr.shape[0]:
            perm, pos = torch.randperm(X_tr.shape[0], generator=order), 0
        idx = perm[pos:pos + J]
        pos += J
        x, y = X_tr[idx], y_tr[idx]
        t0 = time.perf_counter()
        if name == "ProgPowerHP":
            opt.step(lambda: ce(model(x), y))
        else:
            opt.zero_grad()
            ce(model(x), y).mean().backward()
            opt.step()
        spent += time.perf_counter() - t0
        used += per_step
        step += 1
        if (evals and used >= next_mark) or (wall and spent >= next_mark):
            record()
            next_mark += every_evals if evals else every_s
    if curve["evals"][-1] != used:
        record()
    return {"accuracy": curve["accuracy"][-1], "test_loss": curve["test_loss"][-1], "steps": step, "curve": curve}


def run(opts: Options) -> Report:
    try:
        import torch
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"homotopt: error: digits-powerhp needs torch and scikit-learn ({exc.name} is missing)")
    seeds = opts.trials or (1 if opts.quick else 5)
    epochs = opts.steps or (1 if opts.quick else 40)
    wall = 0.3 if opts.quick else 10.0
    threads, native_threads = torch.get_num_threads(), homotopt.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (a parallel region per noise fill)
    homotopt.set_num_threads(1)
    results: dict[str, dict[str, list]] = {"evals": {n: [] for n in OPTIMIZERS}, "wall": {n: [] for n in OPTIMIZERS}}
    start = time.perf_counter()
    try:
        for seed in range(opts.seed, opts.seed + seeds):
            data = load_digits_split(seed)
            budget = epochs * data[0].shape[0]
            for name in OPTIMIZERS:
                results["evals"][name].append(train(data, name, seed, evals=budget))
                results["wall"][name].append(train(data, name, seed, wall=wall))
    finally:
        torch.set_num_threads(threads)
        homotopt.set_num_threads(native_threads)
    rows = []
    for match, res in results.items():
        for name, rs in res.items():
            acc = [r["accuracy"] for r in rs]
            rows.append({"matched": "gradient evaluations" if match == "evals" else f"wall time ({wall:g} s)",
                         "optimizer": name, "test accuracy": statistics.fmean(acc),
                         "std": statistics.stdev(acc) if len(acc) > 1 else float("nan"),
                         "test loss": statistics.fmean(r["test_loss"] for r in rs),
                         "steps": statistics.fmean(r["steps"] for r in rs),
                         "grad evals": statistics.fmean(r["curve"]["evals"][-1] for r in rs),
                         "optimizer s": statistics.fmean(r["curve"]["seconds"][-1] for r in rs), "seeds": len(rs)})
    report = Report(NAME, ["matched", "optimizer", "test accuracy", "std", "test loss", "steps", "grad evals",
                           "optimizer s", "seeds"], rows,
                    {m: {n: [r["curve"] for r in rs] for n, rs in res.items()} for m, res in results.items()},
                    {"seeds": seeds, "epochs_of_gradient_evaluations": epochs, "wall_s": wall, "J": J, "K": K,
                     "powerhp": "power 0.5 -> 2 linear, sigma 0.01 -> 1e-4 geometric, lr 0.1, rule log",
                     "adam": {"lr": 1e-3}, "sgd": {"lr": 0.05, "momentum": 0.9}, "quick": opts.quick,
                     "total_wall_s": time.perf_counter() - start})
    report.notes.append("'optimizer s': time inside the training steps (forward, backward and update; "
                        "evaluation excluded), the clock of the wall-time match.")

    def curves(fig, match: str, x: str, label: str):
        ax1, ax2 = fig.subplots(1, 2)
        for i, name in enumerate(OPTIMIZERS):
            for j, r in enumerate(results[match][name]):
                c = r["curve"]
                ax1.plot(c[x], c["test_loss"], color=f"C{i}", alpha=0.6, label=name if j == 0 else None)
                ax2.plot(c[x], c["accuracy"], color=f"C{i}", alpha=0.6, label=name if j == 0 else None)
        ax1.set_yscale("log")
        ax1.set_xlabel(label)
        ax1.set_ylabel("test loss")
        ax2.set_xlabel(label)
        ax2.set_ylabel("test accuracy")
        ax2.legend(fontsize=8)
        fig.suptitle(f"Digits CNN: Prog-PowerHP (K = {K}) vs Adam and SGD(momentum), one line per seed", fontsize=9)

    report.plots = {"curves_gradient_evaluations.png": lambda f: curves(f, "evals", "evals", "gradient evaluations"),
                    "curves_wall_time.png": lambda f: curves(f, "wall", "seconds", "optimizer seconds")}
    return report
