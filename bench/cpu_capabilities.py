"""Benchmark: each CPU capability of the dispatched build against another build (e.g. a -march=native
build of main), side by side: interleaved rounds, one child process per (build, capability), medians
and ratios to the reference.

Times are the process's CPU time (median of repeats; wall time is recorded too): one thread, so CPU
time is the run time minus the waits for a core on a shared machine. Workloads, the issue's three:
  estimator  the fused phase-retrieval power-gradient estimator, float32, n = 4096, d = 1024, K = 32
  runner     Prog-PowerHP on phase retrieval, d = 100, n = 400, K = 8, J = 16, float64 (bench/runner.py)
  o2nc       one O2NC update of 2^20 float32 parameters in 16 tensors

Run: python bench/cpu_capabilities.py --build main-native=/path/to/main/python \
        --build dispatched=python:avx2,avx512,baseline [--rounds 5] [--reference main-native]
A build is LABEL=PYTHONPATH[:cap,cap...]; each listed capability runs with HOMOTOPT_CPU_CAPABILITY=cap.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

WORKER = r"""
import json, statistics, sys, time
import numpy as np
import homotopt
from homotopt.problems import PhaseRetrieval
homotopt.set_num_threads(1)

def median(fn, reps):
    # CPU time of this (single-threaded) process: on a shared, oversubscribed machine it excludes the time
    # spent waiting for a core, which wall time does not. Wall time is kept too.
    for _ in range(2):
        fn()
    ts, ws = [], []
    for _ in range(reps):
        t0, w0 = time.process_time(), time.perf_counter(); fn()
        ts.append(time.process_time() - t0); ws.append(time.perf_counter() - w0)
    wall[-1].append(statistics.median(ws))
    return statistics.median(ts)

pr = PhaseRetrieval.random(1024, 4096, seed=0, dtype=np.float32)
mu = pr.random_start(1, seed=1)[0]
est = lambda: pr.power_gradient(mu, sigma=0.1, power=1.0, num_samples=32, seed=3)
small = PhaseRetrieval.random(100, 400, seed=0)
mu0 = small.random_start(1, seed=1)
run = lambda: homotopt.prog_powerhp(small, mu0, steps=2000, num_samples=8, batch_size=16,
    power=homotopt.PowerSchedule(0.01, 1 / 30000, 1.0), sigma=homotopt.SigmaSchedule(0.15, 0.99983),
    lr=homotopt.LearningRate(0.7), eval_every=200, progress=False)
rng = np.random.default_rng(0)
params = [rng.standard_normal(1 << 16).astype(np.float32) for _ in range(16)]
grads = [rng.standard_normal(p.size).astype(np.float32) for p in params]
bufs = [np.zeros_like(p) for p in params]
step = [0]
def o2nc():
    step[0] += 1
    homotopt.o2nc_update(params, grads, bufs, lr=1e-3, beta=0.9, seed=1, step=step[0])
wall = [[]]
res = {"capability": homotopt.build_info().get("cpu_capability", "native (main)"),
       "estimator": median(est, 15), "runner": median(run, 5), "o2nc": median(o2nc, 51)}
res["wall"] = dict(zip(("estimator", "runner", "o2nc"), wall[-1]))
print(json.dumps(res))
"""

WORKLOADS = ("estimator", "runner", "o2nc")


def run_worker(pythonpath: str, capability: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath, OMP_NUM_THREADS="1")
    env.pop("HOMOTOPT_CPU_CAPABILITY", None)
    if capability:
        env["HOMOTOPT_CPU_CAPABILITY"] = capability
    out = subprocess.run([sys.executable, "-c", WORKER], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="append", required=True, help="LABEL=PYTHONPATH[:cap,cap]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reference", help="the label ratios are taken to (default: the first build)")
    parser.add_argument("--name", default="cpu_capabilities")
    args = parser.parse_args()
    configs: list[tuple[str, str, str | None]] = []
    for b in args.build:
        label, rest = b.split("=", 1)
        path, _, caps = rest.partition(":")
        for cap in caps.split(",") if caps else [None]:
            configs.append((f"{label} {cap}" if cap else label, path, cap))
    reference = next(c[0] for c in configs if c[0].startswith(args.reference or configs[0][0]))
    load = [os.getloadavg()]
    times: dict[str, list[dict]] = {c[0]: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]  # rotate who goes first
        for label, path, cap in order:
            times[label].append(run_worker(path, cap))
            print(f"round {r} {label}: " + ", ".join(f"{w} {times[label][-1][w] * 1e3:.2f} ms" for w in WORKLOADS),
                  flush=True)
        load.append(os.getloadavg())
    rows, summary = [], {}
    for label in times:
        med = {w: statistics.median(t[w] for t in times[label]) for w in WORKLOADS}
        # ratio per round (same round, side by side), then the median of the ratios
        ratio = {w: statistics.median(a[w] / b[w] for a, b in zip(times[label], times[reference])) for w in WORKLOADS}
        summary[label] = {"median_s": med, "ratio_to_reference": ratio, "capability": times[label][0]["capability"]}
        rows.append([label] + [f"{med[w] * 1e3:.2f} ms ({ratio[w]:.3f}x)" for w in WORKLOADS])
    from _common import cpu_model, markdown_table, write_results

    env = {"date": __import__("datetime").datetime.now(__import__("datetime").timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "device": cpu_model(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
           "loadavg_per_round": load, "builds": args.build, "reference": reference, "rounds": args.rounds}
    try:
        from _common import git_commit

        env["commit"] = git_commit()
    except Exception:  # noqa: BLE001 -- the record is still useful without it
        env["commit"] = "unknown"
    table = markdown_table(["build capability", "estimator (CPU time)", "runner, 2000 steps", "o2nc, 2^20 fp32"], rows)
    note = (f"\nOne thread. Median over {args.rounds} interleaved rounds (each a child process timing each workload"
            f" after warm-up); in parentheses the median over rounds of the time relative to `{reference}` in the "
            f"same round (< 1 is faster). 1-minute load average from {load[0][0]:.1f} to {max(x[0] for x in load):.1f}"
            " (shared machine).\n")
    print(table + note)
    env.update(homotopt="see builds", numpy=__import__("numpy").__version__, torch=None)
    device = "cpu-" + "-".join(cpu_model().lower().replace("(r)", "").replace("processor", "").split())
    write_results(args.name, device,
                  {"environment": env, "summary": summary, "rounds": times}, table + note)


if __name__ == "__main__":
    main()
