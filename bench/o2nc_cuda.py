"""Benchmark: the CUDA Exponentiated O2NC update against PyTorch's SGD and a device-to-device copy.

Every candidate does one optimizer step of SGD with momentum whose update is scaled by a fresh s, in
place, on the same float32 CUDA parameters, as one tensor or as a ResNet-like list of 98 tensors
(32 conv weights doubling every 8, a BatchNorm weight and bias after each, a classifier):
  copy              dst.copy_(src) of 10 B per parameter: 20 B of traffic, the update's floor
  homotopt          homotopt.torch.ExpO2NC(check_finite=False).step(): 20 B per parameter, eager
  +check            the same with check_finite=True (the finiteness pass first: 24 B)
  homotopt graph    that step() captured once in a CUDA graph and replayed (s drawn on the device)
  +check graph      the same with check_finite=True
  SGD foreach       torch.optim.SGD(momentum=beta, foreach=True), lr set to s * lr * beta before each
                    step (papers/o2nc.md: the same update), s drawn on the host
  SGD fused         the same with fused=True
  SGD fused graph   fused SGD with a tensor lr, captured with lr.exponential_().mul_(lr * beta) in front
                    (s drawn by torch's RNG inside the graph); skipped where this torch cannot
Times: CUDA events around `inner` back-to-back calls (so launch-bound sizes report the sustained time
per call, host overhead included for eager candidates), interleaved rounds after warm-up, medians.
Reported: the median per step, GB/s counting 20 B per parameter for every candidate, homotopt's share
of the copy's bandwidth (copy time / homotopt time), and its speedups over SGD foreach and fused.
Targets (issue 6): >= 85% of the copy at >= 1e8 parameters, >= 1.5x SGD foreach, >= 1.0x SGD fused.

Run: python bench/o2nc_cuda.py [--quick] [--max-params 1e9]   (needs a CUDA GPU, a CUDA build of
homotopt and torch with CUDA: pip install ".[bench]")
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import torch

import homotopt.torch as ht

sys.path.insert(0, str(Path(__file__).parent))
from _common import cuda_device_name, cuda_environment, exit_without_cuda, markdown_table, write_results  # noqa: E402

SIZES = [10**4, 10**5, 10**6, 10**7, 10**8, 10**9]
LR, BETA = 1e-3, 0.9
BYTES = 20  # per float32 parameter: read x, g, D; write x, D
NAMES = ["copy", "homotopt", "+check", "homotopt graph", "+check graph", "SGD foreach", "SGD fused",
         "SGD fused graph"]


def resnet_like(total: int) -> list[int]:
    """98 tensor sizes adding up to `total`: BatchNorm vectors and a classifier bias, the rest in 32
    conv weights whose sizes double every 8 (ResNet stages) and a classifier weight."""
    channels = [max(1, min(64 * 2 ** (k // 8), total // 1000)) for k in range(32)]
    small = [c for c in channels for _ in range(2)] + [max(1, min(1000, total // 1000))]
    weights = [2 ** (k // 8) for k in range(32)] + [4]
    rest = total - sum(small)
    big = [max(1, rest * w // sum(weights)) for w in weights]
    big[-2] += total - sum(small) - sum(big)  # the rounding goes to the largest conv
    sizes = [x for k in range(32) for x in (big[k], small[2 * k], small[2 * k + 1])] + [big[32], small[64]]
    assert sum(sizes) == total and len(sizes) == 98
    return sizes


def capture(step) -> torch.cuda.CUDAGraph:
    """step() captured in a CUDA graph after a warm-up on a side stream, as torch.cuda.graph asks."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph


def candidates(sizes: list[int]) -> dict:
    gen = torch.Generator(device="cuda").manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(n, device="cuda", generator=gen)) for n in sizes]
    for p in params:
        p.grad = torch.randn(p.shape, device="cuda", generator=gen)
    total = sum(sizes)
    src = torch.empty(10 * total, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    fns = {"copy": lambda: dst.copy_(src)}
    fast = ht.ExpO2NC(params, lr=LR, beta=BETA, seed=1, check_finite=False)
    checked = ht.ExpO2NC(params, lr=LR, beta=BETA, seed=1)
    fns["homotopt"], fns["+check"] = fast.step, checked.step
    fns["homotopt graph"], fns["+check graph"] = capture(fast.step).replay, capture(checked.step).replay
    draw = random.Random(0).expovariate

    def with_s(sgd):
        def run():
            sgd.param_groups[0]["lr"] = draw(1.0) * LR * BETA
            sgd.step()
        return run

    fns["SGD foreach"] = with_s(torch.optim.SGD(params, lr=LR * BETA, momentum=BETA, foreach=True))
    fns["SGD fused"] = with_s(torch.optim.SGD(params, lr=LR * BETA, momentum=BETA, fused=True))
    try:
        lr = torch.tensor(LR * BETA, device="cuda")
        sgd = torch.optim.SGD(params, lr=lr, momentum=BETA, fused=True)

        def graphed_sgd():
            lr.exponential_().mul_(LR * BETA)
            sgd.step()

        fns["SGD fused graph"] = capture(graphed_sgd).replay
    except (RuntimeError, ValueError, TypeError) as exc:  # a torch without tensor lr in fused SGD
        print(f"SGD fused graph skipped: {exc}", file=sys.stderr)
    return fns


def time_per_call(fn, inner: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(inner):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / inner


def compare(fns: dict, total: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate, in interleaved rounds of ~20 ms each."""
    inner = max(1, min(500, int(0.02 / (BYTES * total / 2e12 + 5e-6))))
    for fn in fns.values():
        time_per_call(fn, inner)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(time_per_call(fn, inner))
    return {name: statistics.median(ts) for name, ts in samples.items()}


def fmt(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small sizes, few rounds (smoke test)")
    parser.add_argument("--max-params", type=float, default=1e9, help="largest size to run (default 1e9)")
    args = parser.parse_args()
    exit_without_cuda("bench/o2nc_cuda.py")
    sizes = [10**4, 10**6] if args.quick else [n for n in SIZES if n <= args.max_params]
    rounds = 3 if args.quick else 15
    rows, records = [], []
    for total in sizes:
        for layout in ("1 tensor", "ResNet-like"):
            shape = [total] if layout == "1 tensor" else resnet_like(total)
            times = compare(candidates(shape), total, rounds)
            torch.cuda.empty_cache()
            gbps = {k: BYTES * total / t / 1e9 for k, t in times.items()}
            best_torch = min(t for k, t in times.items() if k.startswith("SGD"))
            rec = {"params": total, "tensors": len(shape), "median_s": times, "gb_per_s_at_20B": gbps,
                   "copy_share": {k: times["copy"] / times[k] for k in ("homotopt", "homotopt graph")},
                   "speedup_vs_sgd_foreach": times["SGD foreach"] / times["homotopt"],
                   "speedup_vs_sgd_fused": times["SGD fused"] / times["homotopt"],
                   "graph_speedup_vs_best_torch": best_torch / times["homotopt graph"]}
            records.append(rec)
            row = [f"{total:.0e}".replace("e+0", "e"), len(shape)] + [fmt(times[k]) if k in times else "-" for k in NAMES]
            row += [f"{gbps['homotopt graph']:.0f}", f"{gbps['copy']:.0f}", f"{rec['copy_share']['homotopt']:.0%}",
                    f"{rec['copy_share']['homotopt graph']:.0%}", f"{rec['speedup_vs_sgd_foreach']:.1f}x",
                    f"{rec['speedup_vs_sgd_fused']:.1f}x", f"{rec['graph_speedup_vs_best_torch']:.1f}x"]
            rows.append(row)
            print(" | ".join(str(c) for c in row), flush=True)
    headers = ["params", "tensors"] + NAMES + ["GB/s homotopt graph", "GB/s copy", "homotopt / copy bw",
                                              "graph / copy bw", "vs SGD foreach", "vs SGD fused",
                                              "graph vs best torch"]
    table = markdown_table(headers, rows)
    note = ("\nfloat32, medians per optimizer step (CUDA events around back-to-back calls, interleaved rounds). "
            "GB/s count 20 bytes per parameter for every candidate, whatever it really moves (+check 24 B, SGD "
            "more). 'homotopt / copy bw': copy time / homotopt time, 100% = at the copy's bandwidth. 'vs SGD "
            "foreach/fused': SGD time / homotopt eager time (Python gathering of the pointers included). 'graph "
            "vs best torch': the fastest SGD variant's time / homotopt graph's. Targets: >= 85% of the copy at "
            ">= 1e8 parameters, >= 1.5x SGD foreach, >= 1.0x SGD fused.\n")
    if not args.quick:
        payload = {"environment": cuda_environment(), "lr": LR, "beta": BETA, "records": records}
        paths = write_results("o2nc_cuda", cuda_device_name(), payload, table + "\n" + note)
        print("wrote", *paths)
    print(table + "\n" + note)


if __name__ == "__main__":
    main()
