"""Plumbing of the GPU-only scripts (cuda_*.py, o2nc_cuda.py): machine facts and result files.

The CPU benchmarks and their timing core live in the installed package (homotopt.bench, the
`homotopt bench` command); bench/power_gradient.py, o2nc.py and runner.py call it (bench/_thin.py).
These scripts write JSON plus a markdown table to bench/results/ named by device, with the device,
versions, commit and date in each file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cuda_device_name(index: int = 0) -> str:
    """A file-name-safe label of a CUDA device, e.g. cuda-nvidia-h100-80gb-hbm3 (needs torch with CUDA)."""
    import torch

    slug = re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(index).lower()).strip("-")
    return f"cuda-{slug}"


def cuda_environment(index: int = 0) -> dict:
    """environment() with the GPU as the device: its name, compute capability, memory and CUDA versions."""
    import torch

    env = environment()
    props = torch.cuda.get_device_properties(index)
    env.update({"device": props.name, "host_cpu": cpu_model(), "gpu_capability": f"{props.major}.{props.minor}",
                "gpu_memory_gib": round(props.total_memory / 2**30, 1), "gpu_multiprocessors": props.multi_processor_count,
                "torch_cuda": torch.version.cuda})
    return env


def git_commit() -> str:
    """The short commit hash, with "+changes" when tracked files differ from it (the numbers are then
    of a working tree, not of that commit)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent,
                              check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "-uno") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment() -> dict:
    import homotopt

    env = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "homotopt": homotopt.__version__,
        "homotopt_build": homotopt.build_info(),
        "numpy": np.__version__,
        "commit": git_commit(),
    }
    try:
        import torch

        env["torch"] = torch.__version__
    except ImportError:
        env["torch"] = None
    return env


def write_results(name: str, device: str, payload: dict, table_md: str) -> tuple[Path, Path]:
    """Writes results/<name>_<device>.json and .md; returns both paths."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = payload["environment"]
    where = (f"compute capability {env['gpu_capability']}, {env['gpu_memory_gib']} GiB, CUDA {env['torch_cuda']}"
             if "gpu_capability" in env else f"{env['cpu_count']} cores")
    header = (f"# {name} on {env['device']} ({where})\n\n"
              f"{env['date']}, commit {env['commit']}, homotopt {env['homotopt']}, numpy {env['numpy']}, "
              f"torch {env['torch']}, Python {env['python']}.\n\n")
    jpath = RESULTS / f"{name}_{device}.json"
    mpath = RESULTS / f"{name}_{device}.md"
    jpath.write_text(json.dumps(payload, indent=2) + "\n")
    mpath.write_text(header + table_md + "\n")
    return jpath, mpath


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def exit_without_cuda(script: str) -> None:
    """Exits with status 0 and a message when there is no CUDA GPU (torch or homotopt without CUDA):
    the GPU benchmarks skip cleanly on CPU machines (CI, bench/gpu_session.sh's stages stay green)."""
    try:
        import torch

        has_torch_gpu = torch.cuda.is_available()
    except ImportError:
        has_torch_gpu = False
    import homotopt

    if not has_torch_gpu or homotopt._core.cuda_device_count() == 0:
        print(f"{script}: skipped: needs a CUDA GPU, torch with CUDA and a CUDA build of homotopt "
              f"(torch sees a GPU: {has_torch_gpu}; homotopt built with CUDA: {homotopt.build_info()['cuda']}, "
              f"devices: {homotopt._core.cuda_device_count()})")
        sys.exit(0)


def cuda_side_by_side(torch: Any, fns: dict[str, Callable[[], object]], reps: int = 40,
                      burst: int = 20) -> dict[str, dict[str, float]]:
    """Times GPU candidates side by side, interleaved (one call of each in turn, `reps` rounds, after
    three warm-up calls each). Per candidate, medians in seconds:
      event_s: the call's span on the stream by CUDA events (start recorded before the call, end after);
      host_s:  the host's time inside the call (perf_counter around it, before waiting for the end
               event): launches, checks, allocations and any synchronization the call makes itself;
      burst_s: the wall time per call of `burst` calls back to back and one final synchronize (the
               rate of a training loop that does not read results between calls).
    """
    for fn in fns.values():
        for _ in range(3):
            fn()
    torch.cuda.synchronize()
    samples: dict[str, dict[str, list[float]]] = {n: {"event_s": [], "host_s": [], "burst_s": []} for n in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            end.record()
            end.synchronize()
            samples[name]["event_s"].append(start.elapsed_time(end) / 1e3)
            samples[name]["host_s"].append(t1 - t0)
    rounds = max(3, reps // 8)
    for _ in range(rounds):
        for name, fn in fns.items():
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(burst):
                fn()
            torch.cuda.synchronize()
            samples[name]["burst_s"].append((time.perf_counter() - t0) / burst)
    return {n: {k: float(np.median(v)) for k, v in s.items()} for n, s in samples.items()}
