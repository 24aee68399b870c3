"""The O2NC training check: homotopt.torch.ExpO2NC against torch.optim.SGD(momentum) on handwritten digits.

The data are the 1,797 8x8 digit images shipped with scikit-learn (sklearn.datasets.load_digits: real
scans, no download), pixels scaled to [0, 1], 25% held out for testing (stratified). The network is a
64-64-10 MLP (ReLU), trained with minibatches of 32 for a fixed number of epochs. For each seed both
optimizers start from the same weights and see the same minibatches; only the update differs.

Settings: SGD(lr=0.05, momentum=0.9) was picked once as a setting that works, not tuned against
ExpO2NC. ExpO2NC gets the same expected update through the SGDM algebra of papers/o2nc.md
(mu = 0: D = -lr_sgd * buf, so eta = lr_sgd / momentum and beta = momentum; E[s] = 1). The paper's
claim is that the randomized method performs comparably to SGD with momentum. Needs torch and
scikit-learn.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ._base import Options, Report

NAME = "o2nc-digits"
SUMMARY = "Exponentiated O2NC against SGD with momentum: a 64-64-10 MLP on scikit-learn's digits, several seeds"

SGD_LR, MOMENTUM, BATCH = 0.05, 0.9, 32
OPTIMIZERS = ("SGD", "ExpO2NC")


def load_digits_split(seed: int):
    """(X_train, y_train, X_test, y_test) as torch tensors: the digits, 25% stratified test split."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=seed)
    as_t = lambda a, dt: torch.tensor(np.asarray(a), dtype=dt)  # noqa: E731
    return as_t(X_tr, torch.float32), as_t(y_tr, torch.long), as_t(X_te, torch.float32), as_t(y_te, torch.long)


def make_optimizer(name: str, params, seed: int):
    import torch

    import homotopt.torch as ht

    if name == "SGD":
        return torch.optim.SGD(params, lr=SGD_LR, momentum=MOMENTUM)
    # The same expected update: eta = lr_sgd / momentum, beta = momentum (papers/o2nc.md, SGDM form).
    return ht.ExpO2NC(params, lr=SGD_LR / MOMENTUM, beta=MOMENTUM, seed=seed)


def train_and_evaluate(data, optimizer: str, seed: int, epochs: int, factory=None) -> dict:
    """Trains a fresh 64-64-10 MLP (weights from `seed`); test accuracy and train loss after each epoch.

    `factory(params, seed)`, when given, builds the optimizer instead of `optimizer`'s."""
    import torch

    X_tr, y_tr, X_te, y_te = data
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X_tr.shape[1], 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, int(y_tr.max()) + 1))
    opt = factory(model.parameters(), seed) if factory else make_optimizer(optimizer, model.parameters(), seed)
    order = torch.Generator().manual_seed(seed)  # the same minibatches for both optimizers
    loss_fn = torch.nn.CrossEntropyLoss()
    curve = {"accuracy": [], "train_loss": []}
    for _ in range(epochs):
        perm = torch.randperm(X_tr.shape[0], generator=order)
        for start in range(0, X_tr.shape[0], BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad()
            loss_fn(model(X_tr[idx]), y_tr[idx]).backward()
            opt.step()
        with torch.no_grad():
            curve["train_loss"].append(float(loss_fn(model(X_tr), y_tr)))
            curve["accuracy"].append(float((model(X_te).argmax(dim=1) == y_te).float().mean()))
    return {"accuracy": curve["accuracy"][-1], "train_loss": curve["train_loss"][-1], "curve": curve}


def run(opts: Options) -> Report:
    try:
        import torch
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"homotopt: error: o2nc-digits needs torch and scikit-learn ({exc.name} is missing)")
    seeds = opts.trials or (1 if opts.quick else 5)
    epochs = opts.steps or (3 if opts.quick else 30)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead
    results = {name: [] for name in OPTIMIZERS}
    start = time.perf_counter()
    try:
        for seed in range(opts.seed, opts.seed + seeds):
            data = load_digits_split(seed)
            for name in OPTIMIZERS:
                results[name].append(train_and_evaluate(data, name, seed, epochs))
    finally:
        torch.set_num_threads(threads)
    rows = []
    for name, rs in results.items():
        acc = [r["accuracy"] for r in rs]
        rows.append({"optimizer": name, "test accuracy (mean)": statistics.fmean(acc),
                     "std": statistics.stdev(acc) if len(acc) > 1 else float("nan"),
                     "min": min(acc), "max": max(acc),
                     "train loss (mean)": statistics.fmean(r["train_loss"] for r in rs), "seeds": len(acc)})
    diff = [b["accuracy"] - a["accuracy"] for a, b in zip(results["SGD"], results["ExpO2NC"])]
    report = Report(NAME, ["optimizer", "test accuracy (mean)", "std", "min", "max", "train loss (mean)", "seeds"],
                    rows, {name: [r["curve"] for r in rs] for name, rs in results.items()},
                    {"seeds": seeds, "epochs": epochs, "first_seed": opts.seed, "batch": BATCH,
                     "sgd": {"lr": SGD_LR, "momentum": MOMENTUM},
                     "exp_o2nc": {"lr": SGD_LR / MOMENTUM, "beta": MOMENTUM, "mu": 0.0}, "quick": opts.quick,
                     "wall_s": time.perf_counter() - start})
    report.notes.append(f"Paired difference ExpO2NC - SGD in test accuracy: {statistics.fmean(diff):+.4f} "
                        f"(per seed: {', '.join(f'{d:+.4f}' for d in diff)}). The paper's claim: comparable.")

    def curves(fig):
        ax1, ax2 = fig.subplots(1, 2)
        for name, color in zip(OPTIMIZERS, ("C0", "C1")):
            for i, r in enumerate(results[name]):
                epochs_ = np.arange(1, epochs + 1)
                ax1.plot(epochs_, r["curve"]["train_loss"], color=color, alpha=0.6, label=name if i == 0 else None)
                ax2.plot(epochs_, r["curve"]["accuracy"], color=color, alpha=0.6, label=name if i == 0 else None)
        ax1.set_yscale("log")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("train loss")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("test accuracy")
        ax2.legend(fontsize=8)
        fig.suptitle("Digits, 64-64-10 MLP: ExpO2NC vs SGD(momentum), one line per seed", fontsize=9)

    report.plots = {"learning_curves.png": curves}
    return report
