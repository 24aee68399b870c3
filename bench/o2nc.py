"""Benchmark: the fused Exponentiated O2NC update against torch.optim.SGD (loop, foreach, fused), the
same update by hand in torch (eager and torch.compile), NumPy and a plain C loop (the memory floor,
compiled at run time where a C compiler is found): `homotopt bench o2nc` (python/homotopt/bench/o2nc.py
says what each candidate computes). Results: bench/results/o2nc_<device>/.

Run: python bench/o2nc.py [--device cpu|cuda] [--threads N] [--quick] [--no-compile] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _thin import main  # noqa: E402

if __name__ == "__main__":
    main("o2nc", ["o2nc"], __doc__)
