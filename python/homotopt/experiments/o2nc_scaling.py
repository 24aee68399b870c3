"""The O2NC paper's next check: the step-scale law. Exponentiated O2NC scales every update by a random s;
the theory asks for s ~ Exp(lambda) (here lambda in {0.5, 1, 2}: E[s] = 1/lambda), against s ~ U[0, 2]
("uniform") and s = 1 ("none", SGD with momentum), on a non-smooth problem: the 64-64-10 ReLU MLP on
scikit-learn's digits of the o2nc-digits experiment (same split, minibatches and initial weights per seed).

Exp(lambda) is s' / lambda with s' ~ Exp(1); as the buffer D does not depend on s and is linear in eta,
x + (s'/lambda) D(eta) = x + s' D(eta / lambda): the rate-lambda law is ExpO2NC with lr / lambda.
Needs torch and scikit-learn.
"""

from __future__ import annotations

import statistics
import time

from ._base import Options, Report
from .o2nc_digits import MOMENTUM, SGD_LR, load_digits_split, train_and_evaluate

NAME = "o2nc-scaling"
SUMMARY = "Exponentiated O2NC's step-scale law (Exp(lambda), uniform, none) on a ReLU MLP on digits, 5 seeds"

LAWS = (("exponential, lambda=0.5", "exponential", 0.5), ("exponential, lambda=1", "exponential", 1.0),
        ("exponential, lambda=2", "exponential", 2.0), ("uniform U[0,2]", "uniform", 1.0), ("none (s=1)", "none", 1.0))


def run(opts: Options) -> Report:
    try:
        import torch

        import homotopt.torch as ht
    except ImportError as exc:
        raise SystemExit(f"homotopt: error: o2nc-scaling needs torch and scikit-learn ({exc.name} is missing)")
    seeds = opts.trials or (1 if opts.quick else 5)
    epochs = opts.steps or (1 if opts.quick else 30)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    laws = LAWS[1:] if opts.quick else LAWS  # --quick: lambda = 1, uniform, none
    results: dict[str, list] = {name: [] for name, _, _ in laws}
    start = time.perf_counter()
    try:
        for seed in range(opts.seed, opts.seed + seeds):
            data = load_digits_split(seed)
            for name, scaling, lam in laws:
                def factory(params, s, scaling=scaling, lam=lam):
                    return ht.ExpO2NC(params, lr=SGD_LR / MOMENTUM / lam, beta=MOMENTUM, scaling=scaling, seed=s)
                results[name].append(train_and_evaluate(data, name, seed, epochs, factory=factory))
    finally:
        torch.set_num_threads(threads)
    rows = []
    for name, rs in results.items():
        acc, loss = [r["accuracy"] for r in rs], [r["train_loss"] for r in rs]
        rows.append({"law": name, "test accuracy (mean)": statistics.fmean(acc),
                     "std": statistics.stdev(acc) if len(acc) > 1 else float("nan"),
                     "train loss (median)": statistics.median(loss), "seeds": len(acc)})
    report = Report(NAME, ["law", "test accuracy (mean)", "std", "train loss (median)", "seeds"], rows,
                    {name: [r["curve"] for r in rs] for name, rs in results.items()},
                    {"seeds": seeds, "epochs": epochs, "first_seed": opts.seed, "lr": SGD_LR / MOMENTUM,
                     "beta": MOMENTUM, "laws": laws, "quick": opts.quick, "wall_s": time.perf_counter() - start})

    def curves(fig):
        ax = fig.add_subplot()
        for i, (name, rs) in enumerate(results.items()):
            for j, r in enumerate(rs):
                ax.plot(range(1, epochs + 1), r["curve"]["train_loss"], color=f"C{i}", alpha=0.6,
                        label=name if j == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("train loss")
        ax.legend(fontsize=7)
        ax.set_title("Digits ReLU MLP: ExpO2NC step-scale laws, one line per seed", fontsize=9)

    report.plots = {"train_loss.png": curves}
    return report
