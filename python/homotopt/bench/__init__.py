"""``homotopt bench``: homotopt's kernels against the same math in PyTorch (eager and torch.compile) and
NumPy, on this machine, with the machine's own floors measured in the same run.

Suites (one module each): power-gradient, estimator, o2nc, runner. Every case times all its candidates
side by side in one process (interleaved rounds, medians with their spread), then reports each as a
fraction of its floor. torch, torch.compile, matplotlib and threadpoolctl are optional: what cannot
run is reported as skipped, with the reason. Nothing here is imported by ``import homotopt``.

From Python::

    from homotopt.bench import run_bench
    paths = run_bench(["estimator"], quick=True, out="bench-out")
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import estimator, o2nc, power_gradient, runner

SUITES = {m.NAME: m for m in (power_gradient, estimator, o2nc, runner)}

__all__ = ["SUITES", "BenchError", "run_bench"]


class BenchError(RuntimeError):
    """A setting this machine cannot run (e.g. --device cuda without a GPU)."""


def _torch(device: str) -> tuple[Any, str | None]:
    """(the torch module or None, why the PyTorch columns are skipped)."""
    try:
        import torch
    except ImportError as exc:
        if device == "cuda":
            raise BenchError("--device cuda: needs PyTorch with CUDA (pip install torch); "
                             f"importing torch failed: {exc}") from None
        return None, f"PyTorch is not installed ({exc}; pip install torch)"
    return torch, None


def check_device(device: str, torch: Any) -> None:
    """Raises BenchError unless `device` can run here."""
    import homotopt

    if device == "cpu":
        return
    if device != "cuda":
        raise BenchError(f"--device {device}: expected cpu or cuda")
    if not homotopt.build_info()["cuda"]:
        raise BenchError("--device cuda: this homotopt was built without CUDA (build with a CUDA toolkit)")
    if not torch.cuda.is_available():
        raise BenchError(f"--device cuda: PyTorch {torch.__version__} sees no CUDA device on this machine")
    if homotopt._core.cuda_device_count() == 0:
        raise BenchError("--device cuda: homotopt sees no CUDA device on this machine")


def run_bench(suites: Sequence[str] = ("all",), *, device: str = "cpu", threads: int | None = None,
              quick: bool = False, out: str | os.PathLike | None = "bench-results", use_compile: bool = True,
              progress: bool = True) -> list[Path]:
    """Runs the suites, prints the table and writes results.json, table.md and ratios.png to `out`.

    Args:
        suites: names from SUITES, or "all".
        device: "cpu" or "cuda" (BenchError without a usable GPU).
        threads: the CPU thread count to measure at; None: 1 and all cores (--quick: all cores).
        quick: one small case per suite, short timings, no torch.compile (a smoke test).
        out: output folder (None: print only).
        use_compile: try torch.compile (where it fails, e.g. without a C++ compiler, it is skipped).
        progress: a tqdm progress bar on stderr.

    Returns:
        The paths written.
    """
    from ._case import Context
    from ._machine import environment, load_average
    from ._timing import threads as thread_count
    from .floors import Floors
    from .report import render, write

    names = list(SUITES) if "all" in suites else list(dict.fromkeys(suites))
    for n in names:
        if n not in SUITES:
            raise BenchError(f"unknown suite {n!r}; choose from {', '.join(SUITES)} or all")
    torch, missing = _torch(device)
    check_device(device, torch)
    cores = os.cpu_count() or 1
    counts = [threads] if threads else ([cores] if quick else sorted({1, cores}))
    if device == "cuda":
        counts = [threads or cores]
    ctx = Context(device=device, threads=counts, quick=quick, compile=use_compile, torch=torch, torch_missing=missing,
                  floors=Floors(device, torch, quick))
    try:
        import threadpoolctl  # noqa: F401
        blas = "set to the thread count (threadpoolctl)"
    except ImportError:
        blas = "not controlled (threadpoolctl absent: NumPy's BLAS uses its default)"
    settings = {"suites": names, "device": device, "threads": counts, "quick": quick,
                "torch.compile": ctx.compile_skipped() or "tried", "blas_threads": blas,
                "budget_per_case_s": ctx.budget.budget_s, "block_s": ctx.budget.block_s,
                "settle_s": ctx.budget.settle_s, "load_average_start": load_average()}
    work = [(n, spec) for n in names for spec in SUITES[n].specs(ctx)]
    results: dict[str, list] = {n: [] for n in names}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(work), desc="homotopt bench", unit="case", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        for n, spec in work:
            if bar is not None:
                bar.set_postfix_str(f"{n} " + " ".join(f"{k}={v}" for k, v in spec.items()))
            with thread_count(spec.get("threads") or counts[0]):
                results[n].append(SUITES[n].run(ctx, spec))
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    settings["wall_s"] = round(time.perf_counter() - t0, 1)
    settings["load_average_end"] = load_average()
    env = environment(device, torch)
    suites_out = {n: (SUITES[n].TITLE, SUITES[n].__doc__ or "", results[n]) for n in names}
    print(render(suites_out, env, settings, ctx.floors.measured, markdown=False))
    if out is None:
        return []
    paths = write(Path(out), suites_out, env, settings, ctx.floors.measured)
    print("wrote " + ", ".join(str(p) for p in paths))
    return paths
