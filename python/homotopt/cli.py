"""The command line: ``python -m homotopt demo`` and ``python -m homotopt info``."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    import homotopt
    from homotopt import reference
    from homotopt.problems import PhaseRetrieval

    d, n, K, J, sigma = 20, 60, 8, 8, 0.1
    problem = PhaseRetrieval.random(d, n, seed=args.seed)
    mu = homotopt.random.normal(d, args.seed, stream=homotopt.random.Stream.START)
    mu *= np.sqrt(problem.y.mean()) / np.linalg.norm(mu)
    rows = homotopt.random.integers(n, J, args.seed, stream=homotopt.random.Stream.MINIBATCH)
    print(f"homotopt {homotopt.__version__}: the power gradient of phase retrieval, d = {d}, n = {n},")
    print(f"K = {K} samples x J = {J} rows, sigma = {sigma}, as the power N grows\n")
    print(f"{'N':>7} {'max N f':>10} | {'naive g':>9} {'naive dir':>9} | {'log_scale':>10} {'|g|':>9}"
          f" {'|direction|':>11} {'cos(ref)':>9} {'time':>7}")
    for power in (1.0, 1e3, 1e6, 1e9):
        t0 = time.perf_counter()
        res = problem.power_gradient(mu, sigma=sigma, power=power, num_samples=K, seed=args.seed, rows=rows)
        elapsed = time.perf_counter() - t0
        W = reference.phase_retrieval_samples(mu, sigma, K, args.seed)
        values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
        naive = reference.naive_power_gradient(values, grads, power)
        ref = reference.power_gradient(values, grads, power)["direction"]
        cos = float(res.direction @ ref / (np.linalg.norm(res.direction) * np.linalg.norm(ref)))
        g_norm = np.exp(res.log_scale) * np.linalg.norm(res.direction)
        print(f"{power:7.0e} {power * values.max():10.3g} | {np.linalg.norm(naive['gradient']):9.3g}"
              f" {np.linalg.norm(naive['direction']):9.3g} | {res.log_scale:10.4g} {g_norm:9.3g}"
              f" {np.linalg.norm(res.direction):11.4g} {cos:9.6f} {elapsed * 1e6:5.0f}us")
    print("\nnaive g:   the literal N/(KJ) sum exp(N f) grad f; once every N f < -745 it underflows to 0.")
    print("naive dir: sum exp(N f) grad f / sum exp(N f); there it is 0/0 = nan.")
    print("homotopt:  one pass keeping (max, rescaled sum, rescaled weighted gradient); the direction")
    print("           matches the float64 reference (cos = 1) and |g| = exp(log_scale) |direction|,")
    print("           reported in log space when it is below the smallest double.")
    return 0


def _info(args: argparse.Namespace) -> int:
    import homotopt

    info = homotopt.build_info()
    info["threads"] = homotopt.get_num_threads()
    print(json.dumps(info, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="homotopt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the power gradient where the naive formula underflows")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="build information (CUDA, OpenMP, compiler, version)")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
