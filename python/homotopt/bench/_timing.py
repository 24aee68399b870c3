"""The timing core: interleaved rounds after warm-up, medians with their spread, thread control.

Every candidate of one case is timed in the same process, in turn, round after round, so that all of
them see the same background load (a shared machine drifts by tens of percent over seconds).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and the quartiles of the recorded calls, and how many there were."""

    median_s: float
    p25_s: float
    p75_s: float
    calls: int

    @property
    def spread(self) -> float:
        """The interquartile range as a fraction of the median."""
        return (self.p75_s - self.p25_s) / self.median_s if self.median_s > 0 else 0.0

    @classmethod
    def of(cls, samples: list[float]) -> "Timing":
        q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
        return cls(statistics.median(samples), q[0], q[2], len(samples))


@dataclass(frozen=True)
class Budget:
    """How long to time one case: rounds of `block_s` per candidate until `budget_s` has passed (at
    least `min_rounds`); calls starting in the first `settle_s` of a block are not recorded."""

    budget_s: float = 4.0
    block_s: float = 0.35
    settle_s: float = 0.15
    min_rounds: int = 3


QUICK = Budget(budget_s=0.2, block_s=0.06, settle_s=0.02, min_rounds=2)


def warm_up(fns: dict[str, Callable[[], object]], sync: Callable[[], None] | None = None
            ) -> tuple[dict[str, Callable[[], object]], dict[str, str]]:
    """Calls each candidate twice; returns those that ran and, for the others, why not (the error).

    This is where torch.compile compiles (and fails, without a C++ compiler on CPU)."""
    ok: dict[str, Callable[[], object]] = {}
    skipped: dict[str, str] = {}
    for name, fn in fns.items():
        try:
            fn()
            fn()
            if sync is not None:
                sync()
        except Exception as exc:  # any failure of a candidate is reported, never fatal
            first_line = (str(exc).strip().splitlines() or [""])[0][:160]
            skipped[name] = f"failed: {type(exc).__name__}: {first_line}"
            continue
        ok[name] = fn
    return ok, skipped


def compare(fns: dict[str, Callable[[], object]], budget: Budget = Budget(),
            sync: Callable[[], None] | None = None) -> dict[str, Timing]:
    """Timing of each (already warmed-up) function, measured side by side.

    Rounds run each function in turn for a block of about `block_s`. Calls that start in the first
    `settle_s` of a block are not recorded: the previous library's thread pool may still be spinning
    on the cores (OpenBLAS and OpenMP idle busy for ~0.1 s after a call), which would bill one library
    for another's threads. At least two calls per block are recorded. `sync` (e.g.
    torch.cuda.synchronize) is called after every call, inside the timed interval.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < budget.min_rounds or time.perf_counter() - start < budget.budget_s:
        for name, fn in fns.items():
            block_start = time.perf_counter()
            recorded = 0
            while recorded < 2 or time.perf_counter() - block_start < budget.block_s:
                t0 = time.perf_counter()
                fn()
                if sync is not None:
                    sync()
                t1 = time.perf_counter()
                if t0 - block_start >= budget.settle_s:
                    samples[name].append(t1 - t0)
                    recorded += 1
        rounds += 1
    return {name: Timing.of(ts) for name, ts in samples.items()}


def best_time(fn: Callable[[], object], runs: int = 5, sync: Callable[[], None] | None = None) -> float:
    """The fastest of `runs` calls after one warm-up call: for floors (the most the machine does)."""
    fn()
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Sets homotopt's, torch's and (with threadpoolctl) BLAS's CPU thread counts to n for the block."""
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

        ctx: contextlib.AbstractContextManager = threadpool_limits(limits=n)
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
