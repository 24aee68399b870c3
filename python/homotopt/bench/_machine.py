"""What the results were measured on: the machine, the versions, the commit or version, the date."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np


def cpu_model() -> str:
    try:
        m = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (as `uptime` gives them), or 'unknown'."""
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (OSError, AttributeError):
        return "unknown"


def source() -> str:
    """The git commit of the homotopt being measured when it runs from a checkout ("+changes" when
    tracked files differ from it), else "installed package"."""
    import homotopt

    here = Path(homotopt.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=here, check=True,
                              timeout=10).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel"))
        if (top / "python" / "homotopt").resolve() == here:
            dirty = "+changes" if git("status", "--porcelain", "-uno") else ""
            return f"commit {git('rev-parse', '--short', 'HEAD')}{dirty}"
    except (OSError, subprocess.SubprocessError):
        pass
    return "installed package"


def environment(device: str, torch: Any = None) -> dict[str, Any]:
    """Machine, versions, source and date; with device "cuda", the GPU's name and properties."""
    import homotopt

    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "homotopt": homotopt.__version__,
        "homotopt_build": homotopt.build_info(),
        "source": source(),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
    }
    if device == "cuda" and torch is not None:
        props = torch.cuda.get_device_properties(0)
        env.update({"gpu": props.name, "gpu_capability": f"{props.major}.{props.minor}",
                    "gpu_memory_gib": round(props.total_memory / 2**30, 1), "torch_cuda": torch.version.cuda})
    return env


def machine_label(env: dict[str, Any]) -> str:
    """A one-line name of the machine, e.g. 'AMD EPYC 7B13 (2 cores)' or 'NVIDIA H100 80GB HBM3'."""
    if env.get("gpu"):
        return f"{env['gpu']} (compute capability {env['gpu_capability']}, CUDA {env['torch_cuda']})"
    return f"{env['cpu']} ({env['cpu_count']} cores)"


def slug(env: dict[str, Any]) -> str:
    """A file-name-safe device label, e.g. cpu-amd-epyc-7b13-2cores or cuda-nvidia-h100-80gb-hbm3."""
    if env.get("gpu"):
        return "cuda-" + re.sub(r"[^a-z0-9]+", "-", env["gpu"].lower()).strip("-")
    return "cpu-" + re.sub(r"[^a-z0-9]+", "-", env["cpu"].lower()).strip("-") + f"-{env['cpu_count']}cores"
