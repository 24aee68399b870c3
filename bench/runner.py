"""Benchmark: the native Prog-PowerHP runner against the same loop in NumPy, PyTorch eager and
torch.compile, batched over trials, with its floor: `homotopt bench runner`
(python/homotopt/bench/runner.py says what each candidate computes). Results: bench/results/runner_<device>/.

Run: python bench/runner.py [--device cpu|cuda] [--threads N] [--quick] [--no-compile] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _thin import main  # noqa: E402

if __name__ == "__main__":
    main("runner", ["runner"], __doc__)
