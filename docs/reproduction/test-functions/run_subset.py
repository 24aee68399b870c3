# The subset runs of docs/reproduction.md (test-functions): python run_subset.py D SEEDS PER_DIM [NAMES] [SEED]
# (the experiment's own functions: powerhp, cmaes, adam, gd; run from the repository with PYTHONPATH=python).
import sys, time, json, numpy as np
sys.path.insert(0, "python")
from homotopt.experiments import test_functions as T
from homotopt.experiments._functions import suite
d, seeds, per_dim = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]); SEED = int(sys.argv[5]) if len(sys.argv) > 5 else 0
only = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else None
rows = []
for tf in suite(d, SEED):
    if only and tf.name not in only: continue
    for m, fn in (("Prog-PowerHP", lambda: T.powerhp(tf, d, seeds, per_dim*d, SEED)), ("CMA-ES", lambda: T.cmaes(tf, d, seeds, per_dim*d, SEED)),
                  ("Adam", lambda: T.adam(tf, d, seeds, per_dim*d, SEED, 10)), ("GD", lambda: T.gd(tf, d, seeds, per_dim*d, SEED))):
        t0 = time.perf_counter(); b = fn(); w = time.perf_counter() - t0
        print(f"{tf.name:26s} d={d} {m:13s} median {np.median(b):.3g} success {np.mean(b<=1e-3):.2f} wall {w:.1f}s", flush=True)
