"""The sweep behind docs/tuning.md: Prog-PowerHP's scale-free ask/tell settings on the six test functions.

    PYTHONPATH=python python bench/tune_asktell.py --d 10 --seeds 8 --per-dim 1000 --seed 0

For each setting (K, N, sigma0 as a fraction of the domain width, lr in sampling radii), the median over
seeds of f(best point) - f* per function, with step_rule="sigma", scale_free=True, sigma decaying to
1e-7 x width over the budget (per_dim x d evaluations per seed). Prints one row per setting.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from homotopt.experiments import test_functions as T
from homotopt.experiments._functions import suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--per-dim", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--K", type=int, nargs="+", default=[16])
    ap.add_argument("--N", type=float, nargs="+", default=[0.3, 1.0, 3.0, 10.0])
    ap.add_argument("--sigma0", type=float, nargs="+", default=[0.1, 0.3])
    ap.add_argument("--lr", type=float, nargs="+", default=[0.2, 0.5, 1.0])
    a = ap.parse_args()
    fns = suite(a.d, a.seed)
    print("| K | N | sigma0 | lr | " + " | ".join(f.name for f in fns) + " | wall s |")
    print("|" + "---|" * (len(fns) + 5))
    for K, N, s0, lr in itertools.product(a.K, a.N, a.sigma0, a.lr):
        T.K, T.POWER, T.SIGMA0, T.LR = K, N, s0, lr
        t0 = time.perf_counter()
        meds = [np.median(T.powerhp(tf, a.d, a.seeds, a.per_dim * a.d, a.seed)) for tf in fns]
        print(f"| {K} | {N:g} | {s0:g} | {lr:g} | " + " | ".join(f"{m:.3g}" for m in meds)
              + f" | {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
