"""Tunes the baselines' learning rates for the phase-retrieval protocol (the numbers behind the settings
that docs/results.md and the `phase-retrieval` experiment use).

For each (d, n) below and each method, runs `TRIALS` trials (seeds disjoint from the reported runs'
problem seeds) for every value in its grid and prints the success rate at M <= 1e-3 and the median M;
the best value per method is the one reported. Prog-PowerHP is not tuned: it uses the paper study's
settings. Run: python bench/tune_baselines.py [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import homotopt
from homotopt.problems import PhaseRetrieval

GRIDS = {
    "sgd": [{"lr": v} for v in (0.002, 0.005, 0.01, 0.02, 0.05)],
    "gd": [{"lr": v} for v in (0.005, 0.01, 0.02, 0.05, 0.1)],
    "adam": [{"lr": v} for v in (1e-3, 3e-3, 1e-2, 3e-2)],
    "slgh": [{"lr": lr, "sigma": s, "gamma": g} for lr in (1e-4, 3e-4, 1e-3, 3e-3) for s in (0.1, 0.5)
             for g in (0.95, 0.999)],
}
SETTINGS = {20: dict(n=60, steps=20_000, batch_size=8), 100: dict(n=300, steps=60_000, batch_size=16)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--dims", type=int, nargs="*", default=[20, 100])
    parser.add_argument("--methods", nargs="*", default=list(GRIDS))
    args = parser.parse_args()
    out = Path(__file__).parent / "results" / "tune_baselines.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    for d in args.dims:
        s = SETTINGS[d]
        problem = PhaseRetrieval.random(d, s["n"], seed=10_000, trials=args.trials)  # not a reported seed
        mu0 = problem.random_start(args.trials, seed=10_001)
        for method in args.methods:
            for point in GRIDS[method]:
                fn = getattr(homotopt.baselines, method)
                kw = dict(point)
                if method == "slgh":
                    kw["num_samples"] = 8
                t0 = time.perf_counter()
                res = fn(problem, mu0, steps=s["steps"], batch_size=s["batch_size"], eval_every=200, progress=False,
                         **kw)
                key = f"d={d} n={s['n']} {method} {json.dumps(point)}"
                results[key] = {"success": res.success_rate(1e-3), "median_M": float(np.median(res.best_metric))}
                print(f"{key}: success {res.success_rate(1e-3):.2f}, median M {np.median(res.best_metric):.2e} "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print("wrote", out, file=sys.stderr)


if __name__ == "__main__":
    main()
