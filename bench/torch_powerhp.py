"""Benchmark: homotopt.torch.ProgPowerHP's own time per step (the closure excluded), K = 8, on the CPU
(and CUDA when available), against a hand-written PyTorch loop of the same math and the memory floor.

Models: 10 float32 tensors of n / 10 elements, n = 1e4, 1e6, 1e7. The closure is as cheap as a closure
can be, f = sum_i <p_i, c_i> (forward one read of p and c, backward writes grad = c), and its cost with
the backward (K closure calls and K autograd.grad calls, timed alone) is subtracted from each
candidate's step time, measured side by side:
  homotopt   ProgPowerHP.step(): each sample w = mu + sigma eps written into the parameters by one native
             call (Philox noise), the LSE merge on the device, u kept in p.grad (the native in-place
             rescale when the maximum moves, then autograd's accumulation of the weighted backward), the
             finiteness check and the final mu + e u
  hand loop  the same math in plain torch with its own mu and u buffers: torch.randn noise (torch's own
             generator), autograd.grad, torch._foreach_* rescale-and-accumulate with host-float weights
  floor      bytes the optimizer must move, at the machine's copy bandwidth (a large torch copy_, read +
             write), with u in p.grad: copy p to mu (8 B); per sample write p from mu (8 B) and add the
             sample's gradient into p.grad (read p.grad and g, write p.grad: 12 B; not for the first
             sample, whose gradient autograd stores as p.grad); the step p = mu + e u (12 B):
             (20 K + 8) B per float32 parameter. Not counted: generating the K D normals (arithmetic,
             not memory) and the rescales when the maximum moves (data-dependent)
  normals    the K D normals alone: K native fills of a float32 buffer of D numbers from the Philox stream
             the optimizer draws (homotopt.random's generator, the same code random_perturb runs), timed
             side by side; "(own - normals) / floor" is the rest of the step against the floor

Run: python bench/torch_powerhp.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_model, cuda_device_name, cuda_environment, environment, markdown_table, write_results  # noqa: E402

from homotopt.bench._timing import Budget, threads  # noqa: E402
from homotopt.bench._timing import compare as _compare  # noqa: E402
from homotopt.torch import ProgPowerHP  # noqa: E402


def compare(fns, budget_s: float) -> dict[str, float]:
    """Medians in seconds, measured side by side (homotopt.bench's interleaved rounds) after a warm-up."""
    for fn in fns.values():
        fn()
        fn()
    return {name: t.median_s for name, t in _compare(fns, Budget(budget_s=budget_s)).items()}


def device_name() -> str:
    """A file-name-safe device label, e.g. cpu-intel-r-xeon-r-processor-2cores."""
    import os
    import re
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")
    return f"cpu-{slug}-{os.cpu_count()}cores"

K = 8
SIZES = [10**4, 10**6, 10**7]
TENSORS = 10


def model(n: int, device: str):
    g = torch.Generator().manual_seed(0)
    ps = [torch.randn(n // TENSORS, generator=g).to(device).requires_grad_() for _ in range(TENSORS)]
    cs = [torch.randn(n // TENSORS, generator=g).to(device) * 1e-3 for _ in range(TENSORS)]
    return ps, cs


def closure_of(ps, cs):
    def closure():
        return sum((p * c).sum() for p, c in zip(ps, cs))
    return closure


def closure_cost(ps, cs):
    closure = closure_of(ps, cs)

    def run():
        for _ in range(K):
            out = closure()
            torch.autograd.grad(-out, ps)
    return run


def hand_loop(ps, cs, power=1.0, sigma=1e-3, lr=1e-3):
    closure = closure_of(ps, cs)
    mus = [torch.empty_like(p) for p in ps]
    us = [torch.empty_like(p) for p in ps]

    @torch.no_grad()
    def step():
        torch._foreach_copy_(mus, [p.detach() for p in ps])
        torch._foreach_zero_(us)
        m, s = -math.inf, 0.0
        for _ in range(K):
            for p, mu in zip(ps, mus):
                p.copy_(mu + sigma * torch.randn_like(p))
            with torch.enable_grad():
                f = -closure()
                grads = torch.autograd.grad(f, ps)
            a = power * float(f)  # one pair per sample; a host sync, as a plain loop has
            M = max(m, a)
            ca, cb = math.exp(m - M) if m != -math.inf else 0.0, math.exp(a - M)
            torch._foreach_mul_(us, ca)
            torch._foreach_add_(us, grads, alpha=cb)
            s, m = s * ca + cb, M
        torch._foreach_add_(mus, us, alpha=lr * power / s)
        torch._foreach_copy_(ps, mus)
    return step


def normals_cost(ps):
    """K fills of D float32 normals (D = the model's size) from the optimizer's Philox stream."""
    from homotopt import _core, _device
    from homotopt.random import Stream

    n = sum(p.numel() for p in ps)
    buf = torch.empty(n, dtype=torch.float32, device=ps[0].device)
    target = buf.numpy() if buf.device.type == "cpu" else _device.describe(buf, "out")

    def run():
        for k in range(K):
            _core.random_fill(target, _core.Distribution.normal, 0, int(Stream.SAMPLES), 0, 0, k * n)
    return run


def bandwidth(device: str) -> float:
    """Bytes per second of a 64 MiB-per-side copy_ (read + write)."""
    src = torch.randn(2**24, device=device)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    t = compare({"copy": lambda: (dst.copy_(src), sync())}, 1.0)["copy"]
    return 2 * src.numel() * 4 / t


def bench(device: str, sizes, budget: float):
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    bw = bandwidth(device)
    records, rows = [], []
    for n in sizes:
        ps, cs = model(n, device)
        opt = ProgPowerHP(ps, num_samples=K, power=1.0, sigma=1e-3, lr=1e-3, seed=0, nan_policy="omit")
        closure = closure_of(ps, cs)
        fns = {"homotopt": lambda: (opt.step(closure), sync()),
               "hand loop": (lambda h=hand_loop(ps, cs): (h(), sync())),
               "closure": (lambda c=closure_cost(ps, cs): (c(), sync())),
               "normals": (lambda c=normals_cost(ps): (c(), sync()))}
        t = compare(fns, budget)
        floor = (20 * K + 8) * n / bw
        own, hand = t["homotopt"] - t["closure"], t["hand loop"] - t["closure"]
        normals = t["normals"]
        rec = {"n": n, "K": K, "step_s": t["homotopt"], "hand_step_s": t["hand loop"], "closure_s": t["closure"],
               "own_s": own, "hand_own_s": hand, "floor_s": floor, "normals_s": normals, "bandwidth_gbs": bw / 1e9}
        records.append(rec)
        rows.append([f"{n:.0e}", f"{t['closure'] * 1e3:.3f}", f"{own * 1e3:.3f}", f"{hand * 1e3:.3f}",
                     f"{floor * 1e3:.3f}", f"{normals * 1e3:.3f}", f"{own / floor:.2f}",
                     f"{(own - normals) / floor:.2f}", f"{hand / own:.2f}"])
        print(rows[-1], flush=True)
    headers = ["params", "closure+backward x K (ms)", "homotopt own (ms)", "hand loop own (ms)", "floor (ms)",
               "normals (ms)", "own / floor", "(own - normals) / floor", "hand / own"]
    return records, markdown_table(headers, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1e4 and 1e5, short budgets (a smoke test)")
    ap.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                    help="where to run (default all: the CPU, and CUDA when available)")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads of homotopt and torch (default 1: on a shared 2-core machine a 2-thread "
                         "OpenMP region waits ~25 ms for a time slice)")
    args = ap.parse_args()
    sizes = [10**4, 10**5] if args.quick else SIZES
    budget = 0.5 if args.quick else 6.0
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    devices = [d for d in ("cpu", "cuda") if args.device in ("all", d)]
    if "cuda" in devices and not torch.cuda.is_available():
        print("no CUDA device: the CUDA half is skipped")
        devices.remove("cuda")
    for device in devices:
        with threads(args.threads):
            records, table = bench(device, sizes, budget)
        env = cuda_environment() if device == "cuda" else environment()
        note = (f"\nK = {K}, {TENSORS} float32 tensors; own = step - (K closures + K backwards, timed alone); "
                f"{args.threads} CPU thread(s); floor = (20 K + 8) B per parameter at the copy bandwidth "
                f"({records[0]['bandwidth_gbs']:.1f} GB/s). Load before the run: {load}\n")
        print(table + note)
        if not args.quick:
            name = cuda_device_name() if device == "cuda" else device_name()
            paths = write_results("torch_powerhp", name, {"environment": env, "load": load, "records": records},
                                  table + "\n" + note)
            print("wrote", *paths)


if __name__ == "__main__":
    main()
