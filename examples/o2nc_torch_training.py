"""A training loop as PyTorch users write one, with homotopt.torch.ExpO2NC: a small CNN on scikit-learn's
8x8 digits through a DataLoader, a OneCycleLR schedule (it cycles lr and momentum), bfloat16 parameters
(pure low-precision training; D kept in float32 with --buffer-float32), and a checkpoint saved and loaded
mid-run into a fresh model and optimizer, which then continue bit for bit as the original would have.

Run: python examples/o2nc_torch_training.py [--epochs 12] [--dtype bfloat16|float16|float32]
Needs torch and scikit-learn.
"""

from __future__ import annotations

import argparse
import io
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import homotopt.torch as ht


def make_model(dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32 * 16, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10)).to(dtype)


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--buffer-float32", action="store_true", help="keep D in float32")
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=dtype).reshape(-1, 1, 8, 8)
    y = torch.tensor(digits.target)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    buffer_dtype = torch.float32 if args.buffer_float32 else None

    def fresh():
        model = make_model(dtype)
        opt = ht.ExpO2NC(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4, seed=7,
                         buffer_dtype=buffer_dtype)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=args.epochs * len(loader))
        return model, opt, sched

    def epoch(model, opt, sched, gen_state) -> float:
        loader.generator.set_state(gen_state)
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb).float(), yb)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        return total / len(loader)

    model, opt, sched = fresh()
    half = args.epochs // 2
    start = time.perf_counter()
    checkpoint = None
    for e in range(args.epochs):
        state = loader.generator.get_state()
        if e == half:  # save mid-run (model, optimizer, scheduler, data order), as a training script would
            buf = io.BytesIO()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "data": state}, buf)
            checkpoint = buf.getvalue()
        loss = epoch(model, opt, sched, state)
        print(f"epoch {e:2d}  loss {loss:.4f}  lr {sched.get_last_lr()[0]:.4f}  momentum "
              f"{opt.param_groups[0]['momentum']:.3f}  test accuracy {accuracy(model, xte, yte):.3f}  "
              f"skipped {opt.skipped_steps}")
    seconds = time.perf_counter() - start
    # Resume from the checkpoint in a fresh process-like setting: new model, optimizer, scheduler.
    model2, opt2, sched2 = fresh()
    saved = torch.load(io.BytesIO(checkpoint), weights_only=False)
    model2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    state = saved["data"]
    for _ in range(half, args.epochs):
        epoch(model2, opt2, sched2, state)
        state = loader.generator.get_state()
    same = all(torch.equal(p, q) for p, q in zip(model.parameters(), model2.parameters()))
    result = {"dtype": args.dtype, "test_accuracy": accuracy(model, xte, yte), "resumed_bitwise_equal": same,
              "seconds": seconds, "steps": opt.step_count, "skipped": opt.skipped_steps,
              "param_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
              "buffer_dtypes": sorted({str(opt.state[p]["D"].dtype) for p in model.parameters()})}
    print(result)
    return result


if __name__ == "__main__":
    main()
