"""Benchmark: the fused Exponentiated O2NC update against PyTorch's SGD, NumPy and a plain C loop (CPU).

Every candidate does one optimizer step of SGD with momentum whose update is scaled by a fresh s, in
place, on the same float32 parameters (NumPy arrays and torch tensors share the memory), as one tensor
or as 100 equal tensors:
  homotopt        homotopt.o2nc_update(check_finite=False): one fused pass, 20 B per parameter
  +check          the same with the default check_finite=True: a read pass over the grads first (24 B)
  homotopt.torch  homotopt.torch.ExpO2NC(check_finite=False).step(): the drop-in torch optimizer
  SGD loop, SGD foreach, SGD fused
                  torch.optim.SGD(momentum=beta) with its lr set to s * lr * beta before each step (the
                  same update, papers/o2nc.md), foreach=False / foreach=True / fused=True
  hand foreach    the D form in three torch._foreach_* calls (add, mul, add)
  NumPy           in-place ufuncs with a scratch buffer, tensor by tensor
  C loop          bench/o2nc_floor.c, compiled now (cc -O3 -march=native -fopenmp): the plainest OpenMP
                  loop at 20 B per parameter, the practical memory floor
Reported: medians per step, GB/s counting 20 B per parameter, the ratio to the C loop and the speedups
over SGD foreach and fused.

Run: python bench/o2nc.py [--quick]   (needs torch: pip install ".[bench]")
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import homotopt
import homotopt.torch as ht

sys.path.insert(0, str(Path(__file__).parent))
from _common import compare, device_name, environment, markdown_table, threads, write_results  # noqa: E402

SIZES = [10**3, 10**4, 10**5, 10**6, 10**7, 5 * 10**7]
LAYOUTS = [1, 100]  # tensors per model, equal sizes
LR, BETA = 1e-3, 0.9
BYTES = 20  # per float32 parameter: read x, g, D; write x, D


def build_floor(tmp: str):
    """The C loop as a ctypes function, or None when no C compiler is found."""
    lib = os.path.join(tmp, "libo2nc_floor.so")
    cmd = [os.environ.get("CC", "cc"), "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC",
           str(Path(__file__).with_name("o2nc_floor.c")), "-o", lib]
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print("C loop skipped:", exc, file=sys.stderr)
        return None
    fn = ctypes.CDLL(lib).o2nc_floor
    fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_int]
    fn.restype = None
    return fn


def candidates(total: int, count: int, n_threads: int, floor) -> dict:
    n = total // count
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(n, dtype=np.float32) for _ in range(count)]
    g = [rng.standard_normal(n, dtype=np.float32) for _ in range(count)]
    D = [np.zeros(n, np.float32) for _ in range(count)]
    draw = random.Random(0).expovariate
    step = itertools.count()
    fns = {
        "homotopt": lambda: homotopt.o2nc_update(x, g, D, lr=LR, beta=BETA, seed=1, step=next(step) % 2**32,
                                                 check_finite=False),
        "+check": lambda: homotopt.o2nc_update(x, g, D, lr=LR, beta=BETA, seed=1, step=next(step) % 2**32),
    }
    params = [torch.nn.Parameter(torch.from_numpy(a)) for a in x]  # the same memory
    for p, a in zip(params, g):
        p.grad = torch.from_numpy(a)
    opt = ht.ExpO2NC(params, lr=LR, beta=BETA, seed=1, check_finite=False)
    fns["homotopt.torch"] = opt.step

    def sgd_step(sgd):
        def run():
            sgd.param_groups[0]["lr"] = draw(1.0) * LR * BETA
            sgd.step()
        return run

    for name, kw in (("SGD loop", dict(foreach=False)), ("SGD foreach", dict(foreach=True)),
                     ("SGD fused", dict(fused=True))):
        try:
            sgd = torch.optim.SGD(params, lr=LR * BETA, momentum=BETA, **kw)
            sgd.step()
        except (RuntimeError, ValueError) as exc:  # no fused CPU SGD in this torch build
            print(f"{name} skipped: {exc}", file=sys.stderr)
            continue
        fns[name] = sgd_step(sgd)

    tx, tg = [p.detach() for p in params], [p.grad for p in params]
    tD = [torch.zeros_like(a) for a in tx]

    def hand_foreach():
        torch._foreach_add_(tD, tg, alpha=-LR)          # D - lr g
        torch._foreach_mul_(tD, BETA)                   # b' (D - lr g)
        torch._foreach_add_(tx, tD, alpha=draw(1.0))    # x + s D

    fns["hand foreach"] = hand_foreach
    scratch = [np.empty_like(a) for a in x]
    D_np = [np.zeros_like(a) for a in x]

    def numpy_step():
        s = np.float32(draw(1.0))
        for xi, gi, Di, ti in zip(x, g, D_np, scratch):
            np.multiply(gi, np.float32(-LR), out=ti)
            Di += ti
            Di *= np.float32(BETA)
            np.multiply(Di, s, out=ti)
            xi += ti

    fns["NumPy"] = numpy_step
    if floor is not None:
        pointers = [(ctypes.c_void_p * count)(*[a.ctypes.data for a in arrays]) for arrays in (x, g, D)]
        sizes = np.full(count, n, dtype=np.int64)
        fns["C loop"] = lambda: floor(count, *pointers, sizes.ctypes.data, BETA, LR, draw(1.0), n_threads)
    return fns


def fmt(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small sizes, short timings (smoke test)")
    args = parser.parse_args()
    sizes = [10**3, 10**5] if args.quick else SIZES
    budget = 0.3 if args.quick else 2.0
    names = ["homotopt", "+check", "homotopt.torch", "SGD loop", "SGD foreach", "SGD fused", "hand foreach",
             "NumPy", "C loop"]
    rows, records = [], []
    with tempfile.TemporaryDirectory() as tmp:
        floor = build_floor(tmp)
        for n_threads in (1, 2):
            with threads(n_threads):
                for total in sizes:
                    for count in LAYOUTS:
                        times = compare(candidates(total, count, n_threads, floor), budget_s=budget)
                        gbps = {k: BYTES * total / t / 1e9 for k, t in times.items()}
                        h = times["homotopt"]
                        rec = {"threads": n_threads, "params": total, "tensors": count, "median_s": times,
                               "gb_per_s_at_20B": gbps,
                               "homotopt_over_c_loop": h / times["C loop"] if "C loop" in times else None,
                               "speedup_vs_sgd_foreach": times["SGD foreach"] / h,
                               "speedup_vs_sgd_fused": times["SGD fused"] / h if "SGD fused" in times else None,
                               "torch_optimizer_speedup_vs_sgd_foreach": times["SGD foreach"] / times["homotopt.torch"]}
                        records.append(rec)
                        row = [n_threads, f"{total:.0e}".replace("e+0", "e"), count]
                        row += [fmt(times[k]) if k in times else "-" for k in names]
                        row += [f"{gbps['homotopt']:.1f}", f"{gbps['+check']:.1f}",
                                f"{gbps['C loop']:.1f}" if "C loop" in gbps else "-",
                                f"{rec['homotopt_over_c_loop']:.2f}" if rec["homotopt_over_c_loop"] else "-",
                                f"{rec['speedup_vs_sgd_foreach']:.1f}x",
                                f"{rec['speedup_vs_sgd_fused']:.1f}x" if rec["speedup_vs_sgd_fused"] else "-",
                                f"{rec['torch_optimizer_speedup_vs_sgd_foreach']:.1f}x"]
                        rows.append(row)
                        print(" | ".join(str(c) for c in row), flush=True)
    headers = ["threads", "params", "tensors"] + names + [
        "GB/s homotopt", "GB/s +check", "GB/s C loop", "homotopt / C loop", "vs SGD foreach", "vs SGD fused",
        "homotopt.torch vs SGD foreach"]
    table = markdown_table(headers, rows)
    note = ("\nfloat32, medians per optimizer step over interleaved rounds (each round runs every candidate in "
            "turn for ~0.35 s, timing calls after the first 0.15 s). GB/s count 20 bytes per parameter (read "
            "x, g, D; write x, D) for every candidate, whatever it really moves (+check reads 24 B, SGD loop "
            "and foreach more). homotopt / C loop: time ratio, 1.00 = at the floor. vs SGD foreach/fused: "
            "how many times faster homotopt.o2nc_update is; the last column is the torch optimizer "
            "(Python gathering of the tensors' pointers included). At 1e3 parameters every time is per-call "
            "overhead.\n")
    if not args.quick:
        payload = {"environment": environment(), "lr": LR, "beta": BETA, "records": records}
        paths = write_results("o2nc", device_name(), payload, table + "\n" + note)
        print("wrote", *paths)
    print(table + "\n" + note)


if __name__ == "__main__":
    main()
