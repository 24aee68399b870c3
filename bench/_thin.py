"""What bench/power_gradient.py, bench/o2nc.py and bench/runner.py share: each runs suites of the
installed benchmark module homotopt.bench (the `homotopt bench` command) with the same options, so
bench/results and what a user runs are one measurement, and writes to bench/results/<name>_<device>/
(results.json, table.md, ratios.png). With --quick they print only, unless --out is given."""

from __future__ import annotations

import argparse
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(name: str, suites: list[str], doc: str) -> None:
    from homotopt.bench import BenchError, run_bench
    from homotopt.bench._machine import environment, slug

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, help="CPU threads (default: 1 and all cores)")
    parser.add_argument("--quick", action="store_true", help="smoke test; prints only unless --out is given")
    parser.add_argument("--no-compile", action="store_true", help="do not try torch.compile")
    parser.add_argument("--out", help=f"output folder (default {RESULTS}/{name}_<device>)")
    args = parser.parse_args()
    out = args.out
    if out is None and not args.quick:
        try:
            import torch
        except ImportError:
            torch = None
        out = RESULTS / f"{name}_{slug(environment(args.device, torch))}"
    try:
        run_bench(suites, device=args.device, threads=args.threads, quick=args.quick, out=out,
                  use_compile=not args.no_compile)
    except BenchError as exc:
        raise SystemExit(f"{name}: error: {exc}") from None
