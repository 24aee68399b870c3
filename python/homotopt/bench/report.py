"""Writing a bench run: the table (terminal and table.md, with machine, versions, source, date and
settings), results.json, and the plot of ratios against PyTorch (matplotlib, optional)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ._case import Case
from ._machine import machine_label


def fmt_time(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.1f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _columns(cases: list[Case]) -> list[str]:
    names: list[str] = []
    for c in cases:
        for n in list(c.timings) + list(c.skipped):
            if n not in names:
                names.append(n)
    return names


def suite_table(cases: list[Case]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of one suite: median (+- half the interquartile range, as % of the median) of
    every candidate, the floor, homotopt's fraction of it, and homotopt's speedups over the baselines."""
    names = _columns(cases)
    baselines = [b for b in cases[0].baselines if any(b in c.timings for c in cases)]
    headers = ["case", "threads"] + names + ["floor", "homotopt of floor"] + [f"vs {b}" for b in baselines]
    rows = []
    for c in cases:
        row = [c.label, "-" if c.threads is None else str(c.threads)]
        for n in names:
            t = c.timings.get(n)
            row.append(f"{fmt_time(t.median_s)} ±{50 * t.spread:.0f}%" if t else "skipped")
        row.append(fmt_time(c.floor_s) if c.floor_s is not None else "-")
        f = c.of_floor()
        row.append(f"{100 * f:.0f}%" if f is not None else "-")
        for b in baselines:
            r = c.ratio(b)
            row.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(row)
    return headers, rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def skipped_notes(cases: list[Case]) -> list[str]:
    """One line per reason, naming the candidates skipped for it (over all the cases)."""
    by_reason: dict[str, list[str]] = {}
    for c in cases:
        for name, why in c.skipped.items():
            names = by_reason.setdefault(why, [])
            if name not in names:
                names.append(name)
    return [f"{', '.join(names)}: {why}" for why, names in by_reason.items()]


def floor_notes(cases: list[Case]) -> list[str]:
    """How each case's floor was obtained (deduplicated: usually one formula per suite)."""
    return list(dict.fromkeys(c.floor_how for c in cases))


def _rate(key: str, value: float) -> str:
    if key.startswith("copy"):
        return f"{value / 1e9:.1f} GB/s"
    if "flops" in key:
        return f"{value / 1e9:.1f} GFLOP/s"
    if key.startswith("normals"):
        return f"{value / 1e6:.0f} M/s"
    return str(value)


def measured_floors(floors: dict[str, Any]) -> str:
    """One line: every floor measured in this run, e.g. 'copy @1 thread: 8.0 GB/s (how)'."""
    parts = []
    for key, f in floors.items():
        name, _, at = key.partition("@")
        if isinstance(f["value"], bool):
            parts.append(f"O2NC C loop: {'built by ' + f['how'] if f['value'] else 'not built: ' + f['how']}")
            continue
        label = {"copy_bytes_per_s": "copy bandwidth", "sgemm_flops_per_s": "SGEMM", "dgemm_flops_per_s": "DGEMM",
                 "normals_per_s": "normals"}.get(name, name)
        where = "" if at in ("", "None") else f" at {at} thread{'s' if at != '1' else ''}"
        parts.append(f"{label}{where}: {_rate(key, f['value'])} ({f['how']})")
    return "Floors measured in this run: " + "; ".join(parts) + "."


def header(env: dict[str, Any], settings: dict[str, Any]) -> str:
    return (f"homotopt bench on {machine_label(env)}\n"
            f"{env['date']}; homotopt {env['homotopt']} ({env['source']}), NumPy {env['numpy']}, "
            f"PyTorch {env['torch'] or 'absent'}, Python {env['python']}; {env['platform']}\n"
            f"load average at start (1, 5, 15 min): {settings['load_average_start']}; at end: "
            f"{settings['load_average_end']}\n"
            f"settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if not k.startswith("load_")))


LEGEND = ("Times: medians per call over interleaved rounds (every candidate in turn, again and again; calls "
          "in the first part of each turn are not recorded, while another library's threads may still spin), "
          "± half the interquartile range as a percentage of the median. 'homotopt of floor': the floor's "
          "time over homotopt's (100% = at the floor; above 100%: the measured floor was slower than homotopt, so it is not a tight bound there). 'vs X': X's time over homotopt's (> 1: homotopt faster).")


def render(suites: dict[str, tuple[str, str, list[Case]]], env: dict[str, Any], settings: dict[str, Any],
           floors: dict[str, Any], markdown: bool, notes: Sequence[str] = ()) -> str:
    parts = [("# " if markdown else "") + header(env, settings).replace("\n", "\n\n" if markdown else "\n"), ""]
    for name, (title, doc, cases) in suites.items():
        parts.append(("## " if markdown else "== ") + f"{name}: {title}")
        parts.append("")
        if not cases:
            parts += ["(no cases)", ""]
            continue
        h, rows = suite_table(cases)
        parts.append(markdown_table(h, rows) if markdown else text_table(h, rows))
        parts.append("")
        if markdown:
            parts += ["```", doc.strip(), "```", ""]
        skipped = skipped_notes(cases)
        if skipped:
            parts.append("Skipped: " + "; ".join(skipped) + ".")
        parts.append("Floor: " + "; ".join(floor_notes(cases)) + ".")
        parts.append("")
    parts.append(measured_floors(floors))
    parts.append("")
    parts.append(LEGEND)
    parts += ["", *notes] if notes else []
    return "\n".join(parts) + "\n"


def write(out: Path, suites: dict[str, tuple[str, str, list[Case]]], env: dict[str, Any], settings: dict[str, Any],
          floors: dict[str, Any]) -> list[Path]:
    """Writes results.json, table.md and (with matplotlib) ratios.png to `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"environment": env, "settings": settings, "floors": floors,
               "suites": {name: {"title": title, "cases": [c.to_json() for c in cases]}
                          for name, (title, _, cases) in suites.items()}}
    paths = [out / "results.json", out / "table.md"]
    plot, why = plot_ratios(out / "ratios.png", suites, env)
    notes = [f"Plot: {plot.name}." if plot is not None else f"No plot: {why}."]
    payload["plot"] = plot.name if plot is not None else why
    paths[0].write_text(json.dumps(payload, indent=2, default=str) + "\n")
    paths[1].write_text(render(suites, env, settings, floors, markdown=True, notes=notes))
    if plot is not None:
        paths.append(plot)
    return paths


def plot_ratios(path: Path, suites: dict[str, tuple[str, str, list[Case]]], env: dict[str, Any]
                ) -> tuple[Path | None, str]:
    """Per suite, every candidate's time over PyTorch eager's, per case (log scale, lower is faster),
    the floor marked. Returns (the path, "") or (None, why not: matplotlib or PyTorch absent)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "matplotlib is not installed (pip install matplotlib)"
    panels = [(n, t, [c for c in cases if "PyTorch" in c.timings]) for n, (t, _, cases) in suites.items()]
    panels = [p for p in panels if p[2]]
    if not panels:
        return None, "no PyTorch timings to divide by"
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False)
    for ax, (name, title, cases) in zip(axes[:, 0], panels):
        labels = [f"{c.label}\n{c.threads}t" if c.threads is not None else c.label for c in cases]
        xs = range(len(cases))
        names = [n for n in _columns(cases) if n != "PyTorch" and any(n in c.timings for c in cases)]
        for i, n in enumerate(names):
            ys = [c.timings[n].median_s / c.timings["PyTorch"].median_s if n in c.timings else float("nan")
                  for c in cases]
            ax.plot(xs, ys, marker="o", linestyle="-" if n == "homotopt" else ":",
                    linewidth=2.5 if n == "homotopt" else 1, label=n, zorder=3 if n == "homotopt" else 2)
        floor = [c.floor_s / c.timings["PyTorch"].median_s if c.floor_s else float("nan") for c in cases]
        ax.plot(xs, floor, marker="_", markersize=18, linestyle="none", color="black", label="floor")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("time / PyTorch eager")
        ax.set_title(f"{name}: {title}", fontsize=9)
        ax.legend(fontsize=7, ncol=4)
    fig.suptitle(f"homotopt bench, {machine_label(env)}, {env['date']} (lower is faster)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, ""
