"""Benchmark: homotopt.torch.ExpO2NC.step() against torch's own optimizers, as a training loop calls them.

Two parameter lists, float32, on the CPU:
  resnet18  the 62 parameter tensors of torchvision's ResNet-18 (11,689,512 parameters; built here from
            their shapes, no torchvision needed)
  small200  200 small tensors (64 to 4096 elements, 412,416 parameters): per-tensor overhead dominates
Candidates, each one optimizer step on its own copy of the parameters with fixed gradients:
  ExpO2NC default    homotopt.torch.ExpO2NC(params, lr=1e-3, momentum=0.9, seed=1): default settings
                     (check_finite=True: every gradient read once before the update, in the same native
                     call; nan_policy="skip")
  ExpO2NC found_inf  the same with step(found_inf=<a 0-dim tensor>): the caller (GradScaler) already knows
  ExpO2NC nocheck    check_finite=False
  SGD fused          torch.optim.SGD(momentum=0.9, fused=True)
  SGD foreach        torch.optim.SGD(momentum=0.9, foreach=True)
  Adam fused         torch.optim.Adam(fused=True)
Medians per step over interleaved rounds (bench/_common.compare); the ratios are time / SGD fused's time.
`uptime` is recorded before and after (the dev machine is shared).

Run: python bench/o2nc_torch.py [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import torch

import homotopt.torch as ht
from homotopt.bench._timing import Budget, compare, threads

sys.path.insert(0, str(Path(__file__).parent))
from _common import environment, markdown_table, write_results  # noqa: E402


def resnet18_shapes() -> list[tuple[int, ...]]:
    """torchvision.models.resnet18()'s parameter shapes, in its parameters() order."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            first_in = cin if block == 0 else cout
            shapes += [(cout, first_in, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (stride != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
        cin = cout
    return shapes + [(1000, 512), (1000,)]


def small_shapes() -> list[tuple[int, ...]]:
    return [(64 * (1 + (7 * k) % 64),) for k in range(200)]


def make_params(shapes, seed: int) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 1e-3
    return params


def candidates(shapes) -> dict:
    def step_of(opt, **kw):
        return lambda: opt.step(**kw)

    fns = {}
    fns["ExpO2NC default"] = step_of(ht.ExpO2NC(make_params(shapes, 0), lr=1e-3, momentum=0.9, seed=1))
    fns["ExpO2NC found_inf"] = step_of(ht.ExpO2NC(make_params(shapes, 0), lr=1e-3, momentum=0.9, seed=1),
                                       found_inf=torch.zeros(()))
    fns["ExpO2NC nocheck"] = step_of(ht.ExpO2NC(make_params(shapes, 0), lr=1e-3, momentum=0.9, seed=1,
                                                check_finite=False))
    fns["SGD fused"] = step_of(torch.optim.SGD(make_params(shapes, 0), lr=1e-3, momentum=0.9, fused=True))
    fns["SGD foreach"] = step_of(torch.optim.SGD(make_params(shapes, 0), lr=1e-3, momentum=0.9, foreach=True))
    fns["Adam fused"] = step_of(torch.optim.Adam(make_params(shapes, 0), lr=1e-3, fused=True))
    return fns


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="short timings, no results written")
    args = parser.parse_args()
    budget = Budget(budget_s=2.0 if args.quick else 12.0)
    lists = {"resnet18": resnet18_shapes(), "small200": small_shapes()}
    load_before = uptime()
    rows, records = [], []
    with threads(args.threads):
        for name, shapes in lists.items():
            fns = candidates(shapes)
            for fn in fns.values():  # warm-up: builds each optimizer's state and table
                fn()
            times = {k: t.median_s for k, t in compare(fns, budget).items()}
            ref = times["SGD fused"]
            count = sum(torch.Size(s).numel() for s in shapes)
            records.append({"params": name, "tensors": len(shapes), "numel": count, "median_s": times,
                            "over_sgd_fused": {k: t / ref for k, t in times.items()},
                            "over_sgd_foreach": {k: t / times["SGD foreach"] for k, t in times.items()},
                            "over_adam_fused": {k: t / times["Adam fused"] for k, t in times.items()}})
            for k, t in times.items():
                rows.append([name, k, f"{t * 1e6:.1f} us", f"{t / ref:.2f}", f"{t / times['SGD foreach']:.2f}",
                             f"{t / times['Adam fused']:.2f}"])
                print(" | ".join(rows[-1]), flush=True)
    load_after = uptime()
    table = markdown_table(["params", "optimizer", "median step", "/ SGD fused", "/ SGD foreach", "/ Adam fused"],
                           rows)
    note = (f"\nfloat32 on the CPU, {args.threads} thread(s) (torch and homotopt), lr 1e-3, momentum 0.9, "
            "medians per step() over interleaved rounds; ratios are time over the named optimizer's time "
            f"(< 1: ExpO2NC is faster). Load: before `{load_before}`, after `{load_after}`.\n")
    print(table + "\n" + note)
    if not args.quick:
        payload = {"environment": environment(), "threads": args.threads, "uptime_before": load_before,
                   "uptime_after": load_after, "records": records}
        device = "cpu-" + re.sub(r"[^a-z0-9]+", "-", payload["environment"]["device"].lower()).strip("-")
        device += f"-{payload['environment']['cpu_count']}cores"
        print("wrote", *write_results(f"o2nc_torch_{args.threads}t", device, payload, table + "\n" + note))


if __name__ == "__main__":
    main()
