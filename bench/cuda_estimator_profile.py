"""Profiling aid for the CUDA phase-retrieval estimator: runs it at one shape, for a profiler.

  python bench/cuda_estimator_profile.py --n 8192 --d 2048 --K 32           # e.g. under ncu
  python bench/cuda_estimator_profile.py --n 400 --d 100 --K 10 --host      # where the host time goes

--host prints the cProfile of 300 calls (the Python wrapper, array intake, the native call and its
wait); without it, the estimator runs `--calls` times after one warm-up, so that
`ncu --kernel-name regex:rows_kernel --launch-skip 1 --launch-count 1` sees a warm kernel.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

import numpy as np
import torch

from homotopt.problems import PhaseRetrieval

sys.path.insert(0, str(Path(__file__).parent))
from _common import exit_without_cuda  # noqa: E402


def main() -> None:
    exit_without_cuda("bench/cuda_estimator_profile.py")
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--K", type=int, default=32)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--host", action="store_true")
    args = parser.parse_args()
    host = PhaseRetrieval.random(args.d, args.n, seed=0, dtype=np.float32)
    problem = PhaseRetrieval(torch.from_numpy(host.A).cuda(), torch.from_numpy(host.y).cuda())
    mu = torch.from_numpy(host.x_true.astype(np.float32) * 0.5).cuda()

    def call():
        return problem.power_gradient(mu, sigma=0.1, power=1.0, num_samples=args.K, seed=1)

    call()
    torch.cuda.synchronize()
    if args.host:
        with cProfile.Profile() as prof:
            for _ in range(300):
                call()
        pstats.Stats(prof).sort_stats("tottime").print_stats(14)
    else:
        for _ in range(args.calls):
            call()
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
