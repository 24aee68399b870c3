"""Tunes the two-layer ReLU teacher-student settings (the numbers behind the `relu` experiment).

k = n = 10, 20 trials on problem seeds disjoint from the reported runs, 35,000 steps, J = 30, K = 1 for
Prog-PowerHP and SLGH_r. Prints the mean final test loss (at the best iterate by validation) and the
share of runs below 1e-3 for each grid point. Run: python bench/tune_relu.py [--trials 20] [--k 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

import homotopt
from homotopt.problems import TwoLayerReLU

STEPS, J = 35_000, 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--only-powerhp", action="store_true", help="skip the baselines")
    parser.add_argument("--small", action="store_true", help="a smaller Prog-PowerHP grid, powers scaled by 10 / k")
    args = parser.parse_args()
    R, k = args.trials, args.k
    problem = TwoLayerReLU(k, k, seed=20_000, trials=R)
    mu0 = problem.random_start(R, seed=20_001)
    results = {}

    def report(name, res):
        loss = res.best_metric
        results[name] = {"mean": float(loss.mean()), "median": float(np.median(loss)),
                         "below_1e-3": float(np.mean(loss < 1e-3))}
        print(f"{name}: mean {loss.mean():.4f} median {np.median(loss):.2e} share<1e-3 {np.mean(loss < 1e-3):.2f}",
              flush=True)

    common = dict(steps=STEPS, batch_size=J, eval_every=500, progress=False)
    baselines = not args.only_powerhp
    for lr in (0.002, 0.005, 0.01, 0.02) if baselines else ():
        report(f"sgd lr={lr}", homotopt.baselines.sgd(problem, mu0, lr=lr, **common))
    for lr in (3e-4, 1e-3, 3e-3) if baselines else ():
        report(f"adam lr={lr}", homotopt.baselines.adam(problem, mu0, lr=lr, **common))
    for lr in (1e-4, 3e-4, 1e-3) if baselines else ():
        report(f"slgh lr={lr}", homotopt.baselines.slgh(problem, mu0, lr=lr, num_samples=1, sigma=0.1, gamma=0.999,
                                                       **common))
    grid = (itertools.product((0.05, 0.5, 2.0), (1.0, 5.0), (0.02, 0.1, 0.3), (0.3, 1.0, 3.0, 10.0)) if not args.small
            else itertools.product((0.5 * 10 / k,), (1.0 * 10 / k, 5.0 * 10 / k), (0.1, 0.3), (0.1, 0.3, 1.0, 3.0)))
    for n0, nmax, s0, base in grid:
        if n0 > nmax:
            continue
        power = homotopt.PowerSchedule(n0, (nmax - n0) / STEPS, nmax)
        sigma = homotopt.SigmaSchedule(s0, (1e-4 / s0) ** (1 / STEPS))
        res = homotopt.prog_powerhp(problem, mu0, num_samples=1, power=power, sigma=sigma,
                                    lr=homotopt.LearningRate(base), **common)
        report(f"powerhp N0={n0} Nmax={nmax} sigma0={s0} lr={base}", res)
    out = Path(__file__).parent / "results" / f"tune_relu_k{k}.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps(previous | results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
