"""Shared benchmark plumbing: medians after warm-up, thread control, machine facts, result files.

Every benchmark times the real call, reports medians of repeated runs measured side by side in one
process, and writes JSON plus a markdown table to bench/results/ named by device, with the device,
versions, commit and date in each file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn: Callable[[], object], *, min_runs: int = 5, max_runs: int = 200, budget_s: float = 1.0,
                warmup: int = 2) -> float:
    """Median wall time of fn() in seconds over runs filling about `budget_s` (at least min_runs)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare(fns: dict[str, Callable[[], object]], *, budget_s: float = 4.0, settle_s: float = 0.15,
            block_s: float = 0.35, min_rounds: int = 3) -> dict[str, float]:
    """Median wall time in seconds of each function, measured side by side.

    Rounds run each function in turn, for a block of about `block_s`, so that all of them see the same
    background load (shared machines drift by tens of percent over seconds). Calls that start in the
    first `settle_s` of a block are not recorded: the previous function's thread pools may still be
    spinning on the cores (OpenBLAS idles busy for ~0.1 s after a call), which would bill one
    library for another's threads. At least two calls per block are recorded.
    """
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or time.perf_counter() - start < budget_s:
        for name, fn in fns.items():
            block_start = time.perf_counter()
            recorded = 0
            while recorded < 2 or time.perf_counter() - block_start < block_s:
                t0 = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                if t0 - block_start >= settle_s:
                    samples[name].append(t1 - t0)
                    recorded += 1
        rounds += 1
    return {name: statistics.median(ts) for name, ts in samples.items()}


@contextlib.contextmanager
def threads(n: int):
    """Sets homotopt's, BLAS's and torch's CPU thread counts to n for the block."""
    import homotopt

    before = homotopt.get_num_threads()
    homotopt.set_num_threads(n)
    torch_before = None
    try:
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        ctx = threadpool_limits(limits=n)
    except ImportError:
        ctx = contextlib.nullcontext()
    with ctx:
        try:
            yield
        finally:
            homotopt.set_num_threads(before)
            if torch_before is not None:
                import torch

                torch.set_num_threads(torch_before)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name() -> str:
    """A file-name-safe device label, e.g. cpu-amd-epyc-2cores."""
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")
    return f"cpu-{slug}-{os.cpu_count()}cores"


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
