"""GPU benchmark: the paper's phase-retrieval protocol (d = 100, n = 400, 100 trials, 60,000 steps,
K = 8, J = 16) on the CUDA runner (one block per trial) against the CPU runner, float32 and float64.

The CPU wall time is measured on a slice (2,000 steps) and scaled; the GPU runs the whole protocol.
Also checks that CPU and GPU agree on the success rate. Results: bench/results/cuda_runner_<gpu>.{json,md}.
Run on a machine with a CUDA GPU: python bench/cuda_runner.py [--steps 60000] (without one: a message, exit 0)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import cuda_device_name, cuda_environment, exit_without_cuda, markdown_table, write_results  # noqa: E402

D, N_ROWS, TRIALS = 100, 400, 100


def main() -> None:
    exit_without_cuda("bench/cuda_runner.py")
    import torch

    import homotopt
    from homotopt.experiments.phase_retrieval import PROTOCOL, scaled
    from homotopt.problems import PhaseRetrieval

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60_000)
    args = parser.parse_args()
    name = torch.cuda.get_device_name()
    p = scaled(PROTOCOL[100], args.steps)
    kw = dict(num_samples=p["K"], batch_size=p["J"], power=p["power"], sigma=p["sigma"], lr=p["lr"],
              eval_every=p["eval_every"], progress=False)
    rows, records = [], []
    for dtype in (np.float32, np.float64):
        host = PhaseRetrieval.random(D, N_ROWS, seed=0, dtype=dtype, trials=TRIALS)
        mu0 = host.random_start(TRIALS, seed=1)
        gpu = PhaseRetrieval(torch.from_numpy(host.A).cuda(), torch.from_numpy(host.y).cuda(), host.x_true)
        t0 = time.perf_counter()
        res_gpu = homotopt.prog_powerhp(gpu, mu0, steps=args.steps, **kw)
        gpu_s = time.perf_counter() - t0
        slice_steps = min(2000, args.steps)
        t0 = time.perf_counter()
        homotopt.prog_powerhp(host, mu0, steps=slice_steps, **dict(kw, eval_every=max(1, p["eval_every"])))
        cpu_s = (time.perf_counter() - t0) * args.steps / slice_steps
        res_cpu = homotopt.prog_powerhp(host, mu0, steps=args.steps, **kw) if args.steps <= 6000 else None
        rec = {"dtype": np.dtype(dtype).name, "gpu_s": gpu_s, "cpu_s_estimated": cpu_s, "speedup": cpu_s / gpu_s,
               "gpu_success_1e-3": res_gpu.success_rate(1e-3),
               "cpu_success_1e-3": None if res_cpu is None else res_cpu.success_rate(1e-3)}
        records.append(rec)
        rows.append([rec["dtype"], f"{gpu_s:.2f} s", f"{cpu_s:.1f} s", f"{rec['speedup']:.1f}x",
                     f"{rec['gpu_success_1e-3']:.2f}"])
        print(rows[-1], flush=True)
    table = markdown_table(["dtype", "GPU wall (100 x steps)", "CPU wall (est.)", "speedup", "GPU success M<=1e-3"], rows)
    note = f"\n{name}; {args.steps} steps; target: under 5 s for the full protocol on one H100-class GPU.\n"
    payload = {"environment": cuda_environment(), "records": records, "steps": args.steps}
    write_results("cuda_runner", cuda_device_name(), payload, table + note)
    print(table + note)


if __name__ == "__main__":
    main()
