"""Sweeps of independent runs on Dask: a grid of settings x seeds, one task per native runner call.

A `LocalCluster` on this machine by default, or any Dask scheduler (``address="tcp://host:8786"``) to
spread the tasks over many machines; Dask does the scheduling (no home-made scheduler). Needs the
optional `distributed` package (``pip install "homotopt[sweep]"``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

from .experiments import EXPERIMENTS
from .experiments._base import format_cell

__all__ = ["sweep", "SweepResult"]


@dataclass(frozen=True)
class SweepResult:
    """One row per task: its grid point, seed and the numbers the experiment's task returned."""

    experiment: str
    rows: list[dict[str, Any]]

    def markdown(self) -> str:
        columns = list(self.rows[0]) if self.rows else []
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(format_cell(r[c]) for c in columns) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"


def _run_task(experiment: str, params: dict[str, Any], seed: int, threads: int) -> dict[str, Any]:
    import homotopt

    homotopt.set_num_threads(threads)
    return EXPERIMENTS[experiment].task(seed=seed, **params)


def sweep(experiment: str, grid: dict[str, Sequence[Any]], *, seeds: Sequence[int] = (0,), address: str | None = None,
          n_workers: int = 2, threads_per_worker: int = 1, **fixed: Any) -> SweepResult:
    """Runs experiment `experiment`'s task for every point of `grid` (a dict of lists: their product)
    and every seed, as Dask tasks; returns the rows in grid order.

    Args:
        experiment: an experiment with a task (phase-retrieval, relu, k-ablation).
        grid: parameter name -> values, e.g. {"n": [40, 60, 80], "method": ["powerhp", "sgd"]}.
        seeds: seeds of the problems and runs.
        address: a Dask scheduler's address; None starts a LocalCluster of `n_workers` processes.
        threads_per_worker: homotopt's CPU threads in each task.
        fixed: parameters common to every task (e.g. d=20, trials=100, steps=20_000).
    """
    if experiment not in EXPERIMENTS or not hasattr(EXPERIMENTS[experiment], "task"):
        sweepable = [name for name, m in EXPERIMENTS.items() if hasattr(m, "task")]
        raise ValueError(f"experiment: expected one of {', '.join(sweepable)}, got {experiment!r}")
    if not grid or any(len(v) == 0 for v in grid.values()):
        raise ValueError("grid: expected a non-empty list of values for each parameter")
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("sweep needs Dask's distributed scheduler: pip install 'homotopt[sweep]'") from exc
    names = list(grid)
    points = [dict(zip(names, values), **fixed) for values in itertools.product(*(grid[n] for n in names))]
    cluster = None if address else LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None)
    try:
        with Client(address or cluster) as client:
            futures = [client.submit(_run_task, experiment, point, int(seed), threads_per_worker, pure=False)
                       for point in points for seed in seeds]
            results = client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
    rows = []
    for (point, seed), result in zip(((p, s) for p in points for s in seeds), results):
        rows.append({**{n: point[n] for n in names}, "seed": int(seed), **result})
    return SweepResult(experiment, rows)
