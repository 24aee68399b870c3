"""GPU benchmark: the fused phase-retrieval estimator on CUDA against PyTorch eager and torch.compile.

The same computation as bench/power_gradient.py (draw the K x d noise, W = mu + sigma eps, reduce the
n x K pairs to the direction), float32, at the foundation issue's shapes. Reported per shape: median
time (CUDA events after warm-up), GFLOP/s (2 n d K + 2 n d), the memory floor (A read once at the
measured device-to-device copy bandwidth) and the compute floor (the FLOPs at the measured SGEMM
rate), the fraction of the larger floor reached, and ratios. The three candidates are timed side by
side, interleaved (_common.cuda_side_by_side): CUDA events, the host's time inside the call, and the
rate of back-to-back calls. Results: bench/results/cuda_power_gradient_<gpu>.{json,md}.
(The generic reduction from given values and gradients: bench/cuda_power_ops.py.)

Run on a machine with a CUDA GPU: python bench/cuda_power_gradient.py (without one: a message, exit 0)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import (cuda_device_name, cuda_environment, cuda_side_by_side, exit_without_cuda,  # noqa: E402
                     markdown_table, write_results)

SHAPES = [(400, 100, 10), (4096, 1024, 32), (8192, 2048, 32), (4096, 1024, 256)]
SIGMA, POWER = 0.1, 1.0


def cuda_median(torch, fn, reps: int = 50) -> float:
    """Median seconds of fn() by CUDA events, after warm-up."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return float(np.median(times))


def kernel_seconds(torch, fn, reps: int = 20) -> float:
    """Device time per call of homotopt's kernels alone (CUPTI through torch.profiler): the call's
    time without the host's share (argument checks, allocation, the one copy back and its wait)."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    ours = [e for e in prof.key_averages() if "homotopt" in e.key]
    for e in sorted(ours, key=lambda e: -e.device_time_total):  # the breakdown, for the log
        print(f"    {e.device_time_total / reps:9.1f} us  {e.key[:110]}")
    return sum(e.device_time_total for e in ours) / reps / 1e6


def main() -> None:
    exit_without_cuda("bench/cuda_power_gradient.py")
    import torch

    from homotopt.problems import PhaseRetrieval

    dev = torch.device("cuda")
    name = torch.cuda.get_device_name()
    big = torch.empty(1 << 28, dtype=torch.float32, device=dev)
    copy_bw = 2 * big.numel() * 4 / cuda_median(torch, lambda: big.clone(), reps=20)
    a, b = torch.randn(8192, 8192, device=dev), torch.randn(8192, 8192, device=dev)
    sgemm = 2 * 8192**3 / cuda_median(torch, lambda: a @ b, reps=10)
    del big, a, b

    def torch_estimator(A, y, mu, K, gen):
        W = mu + SIGMA * torch.randn((K, A.shape[1]), generator=gen, device=dev)
        Z = A @ W.T
        R = Z * Z - y[:, None]
        a_ = (-POWER) * (R * R).double()
        w = torch.exp(a_ - a_.max())
        c = (w * (-4.0 * R * Z)).sum(dim=1).float()
        return (A.T @ c) / w.sum()

    compiled = torch.compile(torch_estimator)
    rows, records = [], []
    for n, d, K in SHAPES:
        host = PhaseRetrieval.random(d, n, seed=0, dtype=np.float32)
        A, y = torch.from_numpy(host.A).to(dev), torch.from_numpy(host.y).to(dev)
        problem = PhaseRetrieval(A, y)
        mu = torch.from_numpy(host.x_true.astype(np.float32) * 0.5).to(dev)
        gen = torch.Generator(device=dev).manual_seed(0)
        ours = lambda: problem.power_gradient(mu, sigma=SIGMA, power=POWER, num_samples=K, seed=1)  # noqa: E731
        print(f"(n, d, K) = ({n}, {d}, {K}): homotopt's kernels per call")
        kernels = kernel_seconds(torch, ours)
        timed = cuda_side_by_side(torch, {"homotopt": ours,
                                          "torch": lambda: torch_estimator(A, y, mu, K, gen),
                                          "torch.compile": lambda: compiled(A, y, mu, K, gen)})
        times = {who: t["event_s"] for who, t in timed.items()}
        flops = 2 * n * d * K + 2 * n * d
        floor = max(n * d * 4 / copy_bw, flops / sgemm)
        rec = {"n": n, "d": d, "K": K, "median_s": times, "timings": timed, "kernels_s": kernels,
               "kernels_fraction_of_floor": floor / kernels, "gflops": flops / times["homotopt"] / 1e9,
               "floor_s": floor, "fraction_of_floor": floor / times["homotopt"],
               "vs_torch": times["torch"] / times["homotopt"], "vs_compile": times["torch.compile"] / times["homotopt"]}
        records.append(rec)
        rows.append([f"({n}, {d}, {K})", f"{times['homotopt'] * 1e6:.1f}",
                     f"{timed['homotopt']['host_s'] * 1e6:.1f}", f"{timed['homotopt']['burst_s'] * 1e6:.1f}",
                     f"{kernels * 1e6:.1f}",
                     f"{100 * rec['kernels_fraction_of_floor']:.0f}%", f"{times['torch'] * 1e6:.1f}",
                     f"{times['torch.compile'] * 1e6:.1f}", f"{rec['gflops']:.0f}", f"{floor * 1e6:.1f}",
                     f"{100 * rec['fraction_of_floor']:.0f}%", f"{rec['vs_torch']:.2f}x", f"{rec['vs_compile']:.2f}x"])
        print(rows[-1], flush=True)
    table = markdown_table(["(n, d, K)", "homotopt us", "host us", "back-to-back us", "its kernels us",
                            "kernels of floor", "torch us",
                            "torch.compile us", "GFLOP/s", "floor us",
                            "of floor", "vs torch", "vs compile"], rows)
    note = (f"\n{name}; copy bandwidth {copy_bw / 1e9:.0f} GB/s (read + write), SGEMM {sgemm / 1e12:.1f} TFLOP/s, "
            "both measured here. Floor: max(A read once at the copy bandwidth, the FLOPs at the SGEMM rate). "
            "'homotopt us': the whole call by CUDA events (Python, checks, one copy back and its wait included); "
            "'host us': the host's time inside the call; 'back-to-back us': wall time per call of 20 calls in a "
            "row; 'its kernels us': the device time of its kernels alone (torch.profiler). Medians, interleaved.\n")
    payload = {"environment": cuda_environment(), "records": records, "copy_bandwidth": copy_bw, "sgemm": sgemm}
    write_results("cuda_power_gradient", cuda_device_name(), payload, table + note)
    print(table + note)


if __name__ == "__main__":
    main()
