"""A real training check: homotopt.torch.ExpO2NC against torch.optim.SGD(momentum) on handwritten digits.

The data are the 1,797 8x8 digit images shipped with scikit-learn (sklearn.datasets.load_digits: real
scans, no download), pixels scaled to [0, 1], 25% held out for testing (stratified). The network is a
64-64-10 MLP (ReLU), trained with minibatches of 32 for a fixed number of epochs. For each seed both
optimizers start from the same weights and see the same minibatches; only the update differs.

Settings: SGD(lr=0.05, momentum=0.9) was picked once as a setting that works, not tuned against
ExpO2NC. ExpO2NC gets the same expected update through the SGDM algebra of papers/o2nc.md
(mu = 0: D = -lr_sgd * buf, so eta = lr_sgd / momentum and beta = momentum; E[s] = 1). The paper's
claim is that the randomized method performs comparably to SGD with momentum.

Run: python examples/o2nc_digits.py [--seeds 5] [--epochs 30] [--quick]
Needs torch and scikit-learn (pip install torch scikit-learn).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import homotopt.torch as ht

SGD_LR, MOMENTUM = 0.05, 0.9
BATCH = 32


def load_digits_split(seed: int):
    """(X_train, y_train, X_test, y_test) as torch tensors: the digits, 25% stratified test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=seed)
    as_t = lambda a, dt: torch.tensor(np.asarray(a), dtype=dt)  # noqa: E731
    return as_t(X_tr, torch.float32), as_t(y_tr, torch.long), as_t(X_te, torch.float32), as_t(y_te, torch.long)


def make_optimizer(name: str, params, seed: int):
    if name == "SGD":
        return torch.optim.SGD(params, lr=SGD_LR, momentum=MOMENTUM)
    # The same expected update: eta = lr_sgd / momentum, beta = momentum (papers/o2nc.md, SGDM form).
    return ht.ExpO2NC(params, lr=SGD_LR / MOMENTUM, beta=MOMENTUM, seed=seed)


def train_and_evaluate(data, optimizer: str, seed: int, epochs: int) -> dict:
    """Trains a fresh 64-64-10 MLP (weights from `seed`) and returns test accuracy and final train loss."""
    X_tr, y_tr, X_te, y_te = data
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X_tr.shape[1], 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, int(y_tr.max()) + 1))
    opt = make_optimizer(optimizer, model.parameters(), seed)
    order = torch.Generator().manual_seed(seed)  # the same minibatches for both optimizers
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(X_tr.shape[0], generator=order)
        for start in range(0, X_tr.shape[0], BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad()
            loss_fn(model(X_tr[idx]), y_tr[idx]).backward()
            opt.step()
    with torch.no_grad():
        train_loss = float(loss_fn(model(X_tr), y_tr))
        accuracy = float((model(X_te).argmax(dim=1) == y_te).float().mean())
    return {"accuracy": accuracy, "train_loss": train_loss}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 epochs (a smoke test)")
    args = parser.parse_args(argv)
    seeds, epochs = (1, 3) if args.quick else (args.seeds, args.epochs)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead
    try:
        return run(seeds, epochs)
    finally:
        torch.set_num_threads(threads_before)


def run(seeds: int, epochs: int) -> dict:
    results = {"SGD": [], "ExpO2NC": []}
    start = time.perf_counter()
    print(f"digits, 64-64-10 MLP, batch {BATCH}, {epochs} epochs; SGD(lr={SGD_LR}, momentum={MOMENTUM}) vs "
          f"ExpO2NC(lr={SGD_LR / MOMENTUM:.4g}, beta={MOMENTUM})")
    for seed in range(seeds):
        data = load_digits_split(seed)
        row = []
        for name in results:
            r = train_and_evaluate(data, name, seed, epochs)
            results[name].append(r)
            row.append(f"{name}: test accuracy {r['accuracy']:.4f}, train loss {r['train_loss']:.4f}")
        print(f"seed {seed}: " + "; ".join(row), flush=True)
    summary = {}
    for name, rs in results.items():
        acc = [r["accuracy"] for r in rs]
        summary[name] = {"mean": statistics.fmean(acc), "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                         "accuracies": acc}
        print(f"{name:8s} test accuracy {summary[name]['mean']:.4f} +- {summary[name]['std']:.4f} "
              f"(mean +- sd over {len(acc)} seeds)")
    diff = [b["accuracy"] - a["accuracy"] for a, b in zip(results["SGD"], results["ExpO2NC"])]
    print(f"paired difference ExpO2NC - SGD: {statistics.fmean(diff):+.4f} "
          f"(per seed: {', '.join(f'{d:+.4f}' for d in diff)}); {time.perf_counter() - start:.1f} s")
    return summary


if __name__ == "__main__":
    main()
