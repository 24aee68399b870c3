"""The command line: ``homotopt reproduce EXPERIMENT``, ``homotopt list``, ``homotopt bench [SUITE]``,
``homotopt demo``, ``homotopt info`` (also as ``python -m homotopt ...``)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    import homotopt
    from homotopt import reference
    from homotopt.problems import PhaseRetrieval

    d, n, K, J, sigma = 20, 60, 8, 8, 0.1
    problem = PhaseRetrieval.random(d, n, seed=args.seed)
    mu = homotopt.random.normal(d, args.seed, stream=homotopt.random.Stream.START)
    mu *= np.sqrt(problem.y.mean()) / np.linalg.norm(mu)
    rows = homotopt.random.integers(n, J, args.seed, stream=homotopt.random.Stream.MINIBATCH)
    print(f"homotopt {homotopt.__version__}: the power gradient of phase retrieval, d = {d}, n = {n},")
    print(f"K = {K} samples x J = {J} rows, sigma = {sigma}, as the power N grows\n")
    print(f"{'N':>7} {'max N f':>10} | {'naive g':>9} {'naive dir':>9} | {'log_scale':>10} {'|g|':>9}"
          f" {'|direction|':>11} {'cos(ref)':>9} {'time':>7}")
    for power in (1.0, 1e3, 1e6, 1e9):
        t0 = time.perf_counter()
        res = problem.power_gradient(mu, sigma=sigma, power=power, num_samples=K, seed=args.seed, rows=rows)
        elapsed = time.perf_counter() - t0
        W = reference.phase_retrieval_samples(mu, sigma, K, args.seed)
        values, grads = reference.phase_retrieval_pairs(problem.A, problem.y, W, rows)
        naive = reference.naive_power_gradient(values, grads, power)
        ref = reference.power_gradient(values, grads, power)["direction"]
        cos = float(res.direction @ ref / (np.linalg.norm(res.direction) * np.linalg.norm(ref)))
        g_norm = np.exp(res.log_scale) * np.linalg.norm(res.direction)
        print(f"{power:7.0e} {power * values.max():10.3g} | {np.linalg.norm(naive['gradient']):9.3g}"
              f" {np.linalg.norm(naive['direction']):9.3g} | {res.log_scale:10.4g} {g_norm:9.3g}"
              f" {np.linalg.norm(res.direction):11.4g} {cos:9.6f} {elapsed * 1e6:5.0f}us")
    print("\nnaive g:   the literal N/(KJ) sum exp(N f) grad f; once every N f < -745 it underflows to 0.")
    print("naive dir: sum exp(N f) grad f / sum exp(N f); there it is 0/0 = nan.")
    print("homotopt:  one pass keeping (max, rescaled sum, rescaled weighted gradient); the direction")
    print("           matches the float64 reference (cos = 1) and |g| = exp(log_scale) |direction|,")
    print("           reported in log space when it is below the smallest double.")
    return 0


def _info(args: argparse.Namespace) -> int:
    import homotopt

    info = homotopt.build_info()
    info["threads"] = homotopt.get_num_threads()
    print(json.dumps(info, indent=2))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2^64), got {value}")
    return value


def _list(args: argparse.Namespace) -> int:
    from .experiments import EXPERIMENTS

    width = max(len(name) for name in EXPERIMENTS)
    for name, module in EXPERIMENTS.items():
        print(f"{name:<{width}}  {module.SUMMARY}")
    return 0


def _check_device(device: str) -> None:
    import homotopt

    if device == "cpu":
        return
    if device != "cuda" and not device.startswith("cuda:"):
        raise SystemExit(f"homotopt: error: --device {device}: expected cpu or cuda")
    if not homotopt.build_info()["cuda"]:
        raise SystemExit(f"homotopt: error: --device {device}: homotopt was built without CUDA")
    if homotopt._core.cuda_device_count() == 0:
        raise SystemExit(f"homotopt: error: --device {device}: no CUDA device is available on this machine")
    raise SystemExit(f"homotopt: error: --device {device}: the experiments' runners run on the CPU in this "
                     "version (the CUDA runner is not available yet)")


# Experiments with a homotopt.torch form: `reproduce NAME --backend torch` runs NAME-torch (also spelled so).
_TORCH_BACKENDS = {"relu": "relu-torch", "phase-retrieval": "phase-retrieval-torch"}


def _with_backend(name: str, backend: str) -> str:
    """The experiment `reproduce NAME --backend BACKEND` runs."""
    if backend == "native":
        return name
    if name in _TORCH_BACKENDS.values():
        return name
    if name not in _TORCH_BACKENDS:
        raise SystemExit(f"homotopt: error: --backend torch: experiment {name!r} has no torch form; "
                         f"those with one: {', '.join(_TORCH_BACKENDS)}")
    return _TORCH_BACKENDS[name]


def _reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    import homotopt
    from .experiments import EXPERIMENTS, Options, write

    if args.experiment not in EXPERIMENTS:
        raise SystemExit(f"homotopt: error: unknown experiment {args.experiment!r}; "
                         f"choose from {', '.join(EXPERIMENTS)} (see `homotopt list`)")
    args.experiment = _with_backend(args.experiment, args.backend)
    _check_device(args.device)
    if args.threads is not None:
        homotopt.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path("results") / args.experiment
    opts = Options(trials=args.trials, steps=args.steps, seed=args.seed, threads=args.threads, device=args.device,
                   out=out, quick=args.quick, progress=not args.no_progress)
    t0 = time.perf_counter()
    report = EXPERIMENTS[args.experiment].run(opts)
    report.settings["wall_time_s"] = time.perf_counter() - t0
    paths = write(report, out)
    from .experiments._base import markdown

    print(markdown(report))
    print(f"{args.experiment}: {time.perf_counter() - t0:.1f} s; wrote " + ", ".join(str(p) for p in paths))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import BenchError, run_bench

    try:
        run_bench([args.suite], device=args.device, threads=args.threads, quick=args.quick, out=args.out,
                  use_compile=not args.no_compile, progress=not args.no_progress)
    except BenchError as exc:
        raise SystemExit(f"homotopt bench: error: {exc}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="homotopt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run one of the papers' experiments (see `list`)")
    rep.add_argument("experiment", help="experiment name (see `homotopt list`)")
    rep.add_argument("--trials", type=_positive_int, help="trials (runs) per setting (default: the paper's)")
    rep.add_argument("--steps", type=_positive_int, help="steps per run (default: the paper's)")
    rep.add_argument("--seed", type=_seed, default=0, help="seed of the problems and the runs (default 0)")
    rep.add_argument("--threads", type=_positive_int, help="CPU threads (default: all)")
    rep.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    rep.add_argument("--backend", default="native", choices=["native", "torch"],
                     help="native (default) or torch: relu and phase-retrieval as nn.Modules trained by "
                          "homotopt.torch.ProgPowerHP, beside the native runner (= relu-torch, phase-retrieval-torch)")
    rep.add_argument("--out", help="output folder (default results/EXPERIMENT)")
    rep.add_argument("--quick", action="store_true", help="a small version that finishes in seconds")
    rep.add_argument("--no-progress", action="store_true", help="no progress bars")
    rep.set_defaults(func=_reproduce)
    lst = sub.add_parser("list", help="the experiments, one line each")
    lst.set_defaults(func=_list)
    bench = sub.add_parser("bench", help="time the kernels against PyTorch and NumPy on this machine",
                           description="Times homotopt's kernels against the same math in PyTorch (eager, "
                           "torch.compile) and NumPy, side by side, with this machine's floors; writes "
                           "results.json, table.md and ratios.png to --out.")
    bench.add_argument("suite", nargs="?", default="all", choices=["power-gradient", "estimator", "o2nc", "runner", "all"],
                       help="which kernels (default: all)")
    bench.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
    bench.add_argument("--threads", type=_positive_int, help="CPU threads (default: 1 and all cores)")
    bench.add_argument("--quick", action="store_true", help="one small case per suite, short timings, "
                       "no torch.compile: a smoke test of well under a minute")
    bench.add_argument("--out", default="bench-results", help="output folder (default bench-results)")
    bench.add_argument("--no-compile", action="store_true", help="do not try torch.compile")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.set_defaults(func=_bench)
    demo = sub.add_parser("demo", help="the power gradient where the naive formula underflows")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="build information (CUDA, OpenMP, compiler, version)")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
