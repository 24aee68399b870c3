"""A training loop as PyTorch users write one, with homotopt.torch.ProgPowerHP: an MLP on scikit-learn's
8x8 digits through a DataLoader, a StepLR schedule on lr, the best iterate chosen on held-out data
(report / load_best), and a checkpoint saved after epoch 2 and loaded into a fresh model, optimizer and
scheduler, which then continue bit for bit as the original run does.

Run: python examples/powerhp_torch_training.py [--epochs 6]
Needs torch and scikit-learn.
"""

from __future__ import annotations

import argparse
import io

import torch
from sklearn.datasets import load_digits

from homotopt.torch import ProgPowerHP


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)
    train, xv, yv = torch.utils.data.TensorDataset(x[:1400], y[:1400]), x[1400:], y[1400:]

    def fresh():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        # K = 4 samples a step; the closure returns per-example losses (maximize=False, the default).
        opt = ProgPowerHP(model.parameters(), num_samples=4, power=1.0, sigma=0.01, lr=0.5, seed=3)
        return model, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def epoch(model, opt, sched, e) -> tuple[float, float]:
        loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True,
                                             generator=torch.Generator().manual_seed(100 + e))
        for xb, yb in loader:  # no backward in the closure: the optimizer runs it, with the weights
            opt.step(lambda: torch.nn.functional.cross_entropy(model(xb), yb, reduction="none"))
        sched.step()
        with torch.no_grad():
            out = model(xv)
            loss = torch.nn.functional.cross_entropy(out, yv).item()
        opt.report(loss)  # the validation loss of the current mu: keeps the best parameters
        return loss, (out.argmax(1) == yv).float().mean().item()

    model, opt, sched = fresh()
    checkpoint = io.BytesIO()
    for e in range(args.epochs):
        loss, acc = epoch(model, opt, sched, e)
        print(f"epoch {e}  validation loss {loss:.4f}  accuracy {acc:.3f}  lr {sched.get_last_lr()[0]:.3g}")
        if e == 1:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, checkpoint)
    model2, opt2, sched2 = fresh()
    checkpoint.seek(0)
    state = torch.load(checkpoint, weights_only=False)
    model2.load_state_dict(state["model"]), opt2.load_state_dict(state["opt"]), sched2.load_state_dict(state["sched"])
    for e in range(2, args.epochs):
        epoch(model2, opt2, sched2, e)
    equal = all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
    opt.load_best()
    with torch.no_grad():
        best = (model(xv).argmax(1) == yv).float().mean().item()
    result = {"resumed_bitwise_equal": equal, "best_accuracy": best, "final_accuracy": acc}
    print(result)
    return result


if __name__ == "__main__":
    main()
