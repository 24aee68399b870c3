"""homotopt: a native engine for non-convex optimization by homotopy and randomized momentum.

Prog-PowerHP's fused, log-sum-exp stable power gradient and Exponentiated O2NC's fused update, in
C++17 with an optional CUDA backend, behind a thin NumPy API. ``import homotopt`` needs only NumPy.
"""

from __future__ import annotations

from . import _core
from . import baselines, problems, random, reference
from ._result import PowerGradient
from ._run import RunHistory, RunResult
from .asktell import ProgPowerHP, sigma_to
from .o2nc import ExpO2NC, O2ncStep, o2nc_scale, o2nc_update
from .power import PowerState, power_gradient, power_weights
from .runner import prog_powerhp
from .schedules import LearningRate, PowerSchedule, SigmaSchedule
from .sweep import SweepResult, sweep

__version__: str = _core.build_info()["version"]

__all__ = [
    "__version__", "build_info", "get_num_threads", "set_num_threads",
    "PowerGradient", "PowerState", "power_gradient", "power_weights",
    "PowerSchedule", "SigmaSchedule", "LearningRate",
    "prog_powerhp", "ProgPowerHP", "sigma_to", "RunResult", "RunHistory", "sweep", "SweepResult",
    "ExpO2NC", "O2ncStep", "o2nc_scale", "o2nc_update",
    "baselines", "problems", "random", "reference",
]


def __getattr__(name: str):
    # homotopt.torch (the PyTorch optimizer) is imported on first use: `import homotopt` never
    # imports torch.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_info() -> dict:
    """What this build holds: version, compiler and flags, OpenMP, whether CUDA was compiled in (and for
    which architectures), the CPU capabilities compiled in (``cpu_capabilities``) and the one this process
    runs (``cpu_capability``; the environment variable HOMOTOPT_CPU_CAPABILITY forces one)."""
    return dict(_core.build_info())


def get_num_threads() -> int:
    """Threads the CPU backend uses: set_num_threads's count, or until set, OpenMP's default for the
    calling thread (OMP_NUM_THREADS, the cores, or what torch.set_num_threads set on it)."""
    return int(_core.num_threads())


def set_num_threads(n: int) -> None:
    """Sets the CPU backend's thread count (n >= 1) for the whole process, threads started later included.

    homotopt keeps its own count and passes it to every parallel region; it does not call
    omp_set_num_threads, so torch.set_num_threads (same OpenMP runtime) and this setting do not change
    each other. Results are bitwise the same for any count.
    """
    from ._validation import integer

    _core.set_num_threads(integer(n, "n", 1))
