"""What every experiment shares: options, the report it returns, and writing results.json, table.md and
plots to the output folder."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Options:
    """Command-line options of `homotopt reproduce` (None: the experiment's default)."""

    trials: int | None = None
    steps: int | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    out: Path = Path("results")
    quick: bool = False
    progress: bool = True


@dataclass
class Report:
    """An experiment's outcome: the table's rows (dicts), per-trial numbers and settings for the JSON,
    and plots (file name -> function drawing on a matplotlib Figure)."""

    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    data: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, Callable[[Any], None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def machine() -> dict[str, Any]:
    import homotopt

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "threads": homotopt.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__, "homotopt": homotopt.__version__,
            "build": homotopt.build_info(), "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def format_cell(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "n/a"
        if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def markdown(report: Report) -> str:
    lines = ["| " + " | ".join(report.columns) + " |", "|" + "|".join("---" for _ in report.columns) + "|"]
    lines += ["| " + " | ".join(format_cell(row.get(c, "")) for c in report.columns) + " |" for row in report.rows]
    text = "\n".join(lines) + "\n"
    if report.notes:
        text += "\n" + "\n".join(report.notes) + "\n"
    return text


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if isinstance(x, Path):
        return str(x)
    return x


def write(report: Report, out: Path) -> list[Path]:
    """Writes results.json, table.md and the plots (PNG) into `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    payload = {"experiment": report.name, "settings": report.settings, "machine": machine(),
               "table": {"columns": report.columns, "rows": report.rows}, "data": report.data}
    (out / "results.json").write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    written.append(out / "results.json")
    (out / "table.md").write_text(f"# {report.name}\n\n" + markdown(report))
    written.append(out / "table.md")
    if report.plots:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for name, draw in report.plots.items():
            fig = plt.figure(figsize=(6.4, 4.2), dpi=110)
            draw(fig)
            fig.tight_layout()
            fig.savefig(out / name)
            plt.close(fig)
            written.append(out / name)
    return written
