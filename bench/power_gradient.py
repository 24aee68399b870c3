"""Benchmark: homotopt.power_gradient and the fused phase-retrieval estimator against NumPy, PyTorch
eager and torch.compile, with the machine's floors: `homotopt bench power-gradient` and
`homotopt bench estimator` (python/homotopt/bench/power_gradient.py and estimator.py say what each
candidate computes). Results: bench/results/power_gradient_<device>/.

Run: python bench/power_gradient.py [--device cpu|cuda] [--threads N] [--quick] [--no-compile] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _thin import main  # noqa: E402

if __name__ == "__main__":
    main("power_gradient", ["power-gradient", "estimator"], __doc__)
