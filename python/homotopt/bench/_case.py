"""What every suite shares: the run's context (device, threads, torch, budget, floors) and the Case a
measurement returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ._timing import QUICK, Budget, Timing, compare, warm_up
from .floors import Floors


@dataclass
class Context:
    """Settings of one `homotopt bench` run, and what it found on the machine."""

    device: str                      # "cpu" or "cuda"
    threads: list[int]               # CPU thread counts to measure at ([None]-like: [0] on cuda)
    quick: bool
    compile: bool                    # try torch.compile
    torch: Any                       # the torch module, or None
    torch_missing: str | None        # why PyTorch columns are skipped, or None
    floors: Floors
    budget: Budget = field(default_factory=Budget)

    def __post_init__(self) -> None:
        if self.quick:
            self.budget = QUICK

    @property
    def sync(self) -> Callable[[], None] | None:
        return self.torch.cuda.synchronize if self.device == "cuda" else None

    def compile_skipped(self) -> str | None:
        """Why torch.compile is not tried in this run, or None."""
        if self.torch is None:
            return self.torch_missing
        if self.quick:
            return "not run with --quick (compiling takes tens of seconds per shape)"
        if not self.compile:
            return "not run (--no-compile)"
        return None


@dataclass
class Case:
    """One shape of one suite at one thread count: every candidate's timing, or why it was skipped,
    and the floor (seconds per call the machine cannot beat, and how it was obtained)."""

    suite: str
    label: str
    threads: int | None
    params: dict[str, Any]
    timings: dict[str, Timing]
    skipped: dict[str, str]
    floor_s: float | None
    floor_how: str
    baselines: list[str] = field(default_factory=list)  # the columns "homotopt vs X" are given for

    def ratio(self, other: str) -> float | None:
        """How many times faster homotopt is than `other` (its median time over homotopt's)."""
        if other in self.timings and "homotopt" in self.timings:
            return self.timings[other].median_s / self.timings["homotopt"].median_s
        return None

    def of_floor(self) -> float | None:
        """The floor's time over homotopt's: 1.0 is at the floor."""
        if self.floor_s is None or "homotopt" not in self.timings:
            return None
        return self.floor_s / self.timings["homotopt"].median_s

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "case": self.label, "threads": self.threads, "params": self.params,
                "timings": {k: {"median_s": t.median_s, "p25_s": t.p25_s, "p75_s": t.p75_s, "calls": t.calls}
                            for k, t in self.timings.items()},
                "skipped": self.skipped, "floor_s": self.floor_s, "floor": self.floor_how,
                "of_floor": self.of_floor(), "speedups": {b: self.ratio(b) for b in self.baselines}}


def measure(ctx: Context, fns: dict[str, Callable[[], object]], skipped: dict[str, str]
            ) -> tuple[dict[str, Timing], dict[str, str]]:
    """Warms every candidate up (dropping, with the reason, any that fails) and times the rest."""
    ok, failed = warm_up(fns, ctx.sync)
    return compare(ok, ctx.budget, ctx.sync), {**skipped, **failed}


def add_torch(ctx: Context, fns: dict[str, Callable[[], object]], skipped: dict[str, str],
              eager: Callable[[], object] | None, compiled: Callable[[], object] | None = None,
              compile_reason: str | None = None) -> None:
    """Adds the "PyTorch" (eager) and "torch.compile" candidates, or the reasons they are skipped.

    `compiled` is a zero-argument call of a torch.compile'd function; it is built only when compile is
    tried. `compile_reason` overrides with a suite's own reason not to compile."""
    if ctx.torch is None or eager is None:
        skipped["PyTorch"] = ctx.torch_missing or "not available"
        skipped["torch.compile"] = ctx.torch_missing or "not available"
        return
    fns["PyTorch"] = eager
    reason = compile_reason or ctx.compile_skipped()
    if reason is not None or compiled is None:
        skipped["torch.compile"] = reason or "not applicable"
    else:
        fns["torch.compile"] = compiled
