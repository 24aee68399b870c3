"""GPU benchmark: the generic power-gradient reduction on CUDA (homotopt.power_gradient and
PowerState.update on torch tensors) against the same math in PyTorch eager and torch.compile.

(K, J, d) from 8 x 16 x 1e3 to 64 x 64 x 1e5, float32 values and gradients, N = 1e3 (the math of
homotopt.bench.power_gradient's torch_direction: w = exp(N f - max), w @ grads / sum w). Each candidate
is timed side by side, interleaved, by CUDA events (the call's span on the stream) AND by a host
timer (the host's time inside the call), plus the rate of back-to-back calls, so that the per-call
host overhead (issue 15) is visible next to the device time. Floor: the gradients read once at the
measured device-to-device copy bandwidth. power_weights (softmax(N f) of the K x J values, one wait
for log_sum_exp) against torch.softmax(N f) eager and compiled, for K x J from 128 to 2^20 values.
Results: bench/results/cuda_power_ops_<gpu>.{json,md}, rewritten after every shape (a run cut short
keeps what it measured).

Run on a machine with a CUDA GPU: python bench/cuda_power_ops.py [--quick] [--reps 40]
Without one it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import (cuda_device_name, cuda_environment, cuda_side_by_side, exit_without_cuda,  # noqa: E402
                     markdown_table, write_results)

WEIGHT_SHAPES = [(8, 16), (64, 64), (256, 256), (1024, 1024)]  # (K, J) of power_weights
SHAPES = [(8, 16, 1_000), (8, 16, 10_000), (8, 16, 100_000), (32, 32, 10_000), (64, 64, 1_000),
          (64, 64, 10_000), (64, 64, 100_000)]  # (K, J, d)
QUICK_SHAPES = [(8, 16, 1_000), (64, 64, 100_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes, fewer repetitions")
    parser.add_argument("--reps", type=int, default=40)
    args = parser.parse_args()
    exit_without_cuda("bench/cuda_power_ops.py")
    import torch

    import homotopt
    from homotopt.bench.power_gradient import POWER, torch_direction

    reps = min(args.reps, 15) if args.quick else args.reps
    dev = torch.device("cuda")
    big = torch.empty(1 << 28, dtype=torch.float32, device=dev)
    copy_bw = 2 * big.numel() * 4 / cuda_side_by_side(torch, {"copy": lambda: big.clone()}, reps=10)["copy"]["event_s"]
    del big
    compiled_fn = torch.compile(torch_direction, dynamic=False)
    names = ["homotopt", "PowerState.update", "PyTorch", "torch.compile"]
    rows, records, wrows, wrecords = [], [], [], []
    softmax = lambda f: torch.softmax(POWER * f.reshape(-1), 0)  # noqa: E731
    compiled_softmax = torch.compile(softmax, dynamic=False)
    wtable = ""
    for K, J in WEIGHT_SHAPES[::3] if args.quick else WEIGHT_SHAPES:
        tv = (-torch.rand((K, J), device=dev) * 0.01).float()
        t = cuda_side_by_side(torch, {"homotopt": lambda: homotopt.power_weights(tv, POWER),
                                      "PyTorch": lambda: softmax(tv), "torch.compile": lambda: compiled_softmax(tv)},
                              reps=reps)
        floor = 2 * K * J * 4 / copy_bw  # read f, write w
        wrecords.append({"K": K, "J": J, "floor_s": floor, "timings": t})
        wrows.append([f"({K}, {J})"] + [f"{t[n]['event_s'] * 1e6:.1f} / {t[n]['host_s'] * 1e6:.1f} / "
                                        f"{t[n]['burst_s'] * 1e6:.1f}" for n in t]
                     + [f"{floor * 1e6:.2f}", f"{t['PyTorch']['event_s'] / t['homotopt']['event_s']:.2f}x"])
        print(wrows[-1], flush=True)
        wtable = markdown_table(["(K, J)", "power_weights us", "torch.softmax us", "torch.compile us", "floor us",
                                 "vs torch"], wrows)
    for K, J, d in QUICK_SHAPES if args.quick else SHAPES:
        rng = np.random.default_rng(0)
        values = -np.abs(rng.standard_normal((K, J))).astype(np.float32) * np.float32(0.01)
        tv = torch.from_numpy(values).to(dev)
        tg = torch.randn((K, J, d), dtype=torch.float32, device=dev)
        state = homotopt.PowerState(d, dtype=np.float32)
        fns = {"homotopt": lambda: homotopt.power_gradient(tv, tg, POWER),
               "PowerState.update": lambda: state.update(tv, tg, POWER),
               "PyTorch": lambda: torch_direction(tv, tg),
               "torch.compile": lambda: compiled_fn(tv, tg)}
        t = cuda_side_by_side(torch, fns, reps=reps)
        floor = K * J * d * 4 / copy_bw
        rec = {"K": K, "J": J, "d": d, "power": POWER, "grad_bytes": K * J * d * 4, "floor_s": floor, "timings": t,
               "homotopt_of_copy_bandwidth": floor / t["homotopt"]["event_s"],
               "vs_torch": t["PyTorch"]["event_s"] / t["homotopt"]["event_s"],
               "vs_compile": t["torch.compile"]["event_s"] / t["homotopt"]["event_s"]}
        records.append(rec)
        row = [f"({K}, {J}, {d})"]
        for n in names:
            row.append(f"{t[n]['event_s'] * 1e6:.1f} / {t[n]['host_s'] * 1e6:.1f} / {t[n]['burst_s'] * 1e6:.1f}")
        row += [f"{floor * 1e6:.1f}", f"{100 * rec['homotopt_of_copy_bandwidth']:.0f}%", f"{rec['vs_torch']:.2f}x",
                f"{rec['vs_compile']:.2f}x"]
        rows.append(row)
        print(row, flush=True)
        table = markdown_table(["(K, J, d)"] + [f"{n} us" for n in names]
                               + ["floor us", "homotopt of floor", "vs torch", "vs compile"], rows)
        note = (f"\n{torch.cuda.get_device_name()}; copy bandwidth {copy_bw / 1e9:.0f} GB/s (read + write, measured "
                f"here); float32, N = {POWER}, {reps} interleaved rounds. Each cell: CUDA-event span / host time "
                "inside the call / wall time per call of 20 back-to-back calls, medians in us. Floor: the "
                "gradients read once at the copy bandwidth. 'vs': torch's event span over homotopt's (> 1: "
                "homotopt faster). homotopt.power_gradient also returns log_scale (a Python float: the one "
                "synchronization) and the literal gradient; the torch code computes the direction only.\n\n"
                "power_weights (same cells; floor: the values read and the weights written once; it also "
                "returns log_sum_exp, a Python float: its one synchronization):\n\n" + wtable + "\n")
        payload = {"environment": cuda_environment(), "records": records, "copy_bandwidth": copy_bw,
                   "power_weights": wrecords}
        write_results("cuda_power_ops", cuda_device_name(), payload, table + note)
    print(table + note)


if __name__ == "__main__":
    main()
