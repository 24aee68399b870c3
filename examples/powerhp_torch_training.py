"""A training loop as PyTorch users write one, with homotopt.torch.ProgPowerHP: an MLP on scikit-learn's
8x8 digits through a DataLoader, a StepLR schedule on lr, the best iterate chosen on held-out data
(report / load_best), and a checkpoint saved after epoch 2 and loaded into a fresh model, optimizer and
scheduler, which then continue bit for bit as the original run does. With --ranks N the same loop runs in
N processes (torch.distributed, gloo on localhost): rank r evaluates samples r, r + N, ... of every step
on the same batch, the ranks merge their states, and every rank ends with the parameters one process
reaches (compared at the end, to float rounding).

Run: python examples/powerhp_torch_training.py [--epochs 6] [--ranks 2]
Needs torch and scikit-learn.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import tempfile

import torch
from sklearn.datasets import load_digits

from homotopt.torch import ProgPowerHP


def train(epochs: int, verbose: bool = True) -> tuple[dict, torch.Tensor]:
    """The loop (one process, or one rank of several); returns its result and the final parameters."""
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
    for e in range(epochs):
        loss, acc = epoch(model, opt, sched, e)
        if verbose:
            print(f"epoch {e}  validation loss {loss:.4f}  accuracy {acc:.3f}  lr {sched.get_last_lr()[0]:.3g}")
        if e == 1:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, checkpoint)
    model2, opt2, sched2 = fresh()
    checkpoint.seek(0)
    state = torch.load(checkpoint, weights_only=False)
    model2.load_state_dict(state["model"]), opt2.load_state_dict(state["opt"]), sched2.load_state_dict(state["sched"])
    for e in range(2, epochs):
        epoch(model2, opt2, sched2, e)
    equal = all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
    final = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    opt.load_best()
    with torch.no_grad():
        best = (model(xv).argmax(1) == yv).float().mean().item()
    return {"resumed_bitwise_equal": equal, "best_accuracy": best, "final_accuracy": acc}, final


def _rank(rank: int, ranks: int, port: int, epochs: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    try:
        result, final = train(epochs, verbose=rank == 0)
        torch.save((result, final), f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--ranks", type=int, default=1, help="processes (gloo on localhost; default 1)")
    args = parser.parse_args(argv)
    if args.ranks == 1:
        result, _ = train(args.epochs)
        print(result)
        return result
    with socket.socket() as s, tempfile.TemporaryDirectory() as tmp:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        torch.multiprocessing.spawn(_rank, args=(args.ranks, port, args.epochs, f"{tmp}/rank"), nprocs=args.ranks)
        runs = [torch.load(f"{tmp}/rank.{r}", weights_only=False) for r in range(args.ranks)]
    one, final = train(args.epochs, verbose=False)
    result = dict(runs[0][0])
    result["ranks_equal"] = all(torch.equal(runs[0][1], f) for _, f in runs[1:])
    result["max_diff_to_one_process"] = float((runs[0][1] - final).abs().max())
    print(result)
    return result


if __name__ == "__main__":
    main()
