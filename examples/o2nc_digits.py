"""A real training check: homotopt.torch.ExpO2NC against torch.optim.SGD(momentum) on scikit-learn's
handwritten digits (see homotopt/experiments/o2nc_digits.py for the protocol and settings).

Run: python examples/o2nc_digits.py [--seeds 5] [--epochs 30] [--quick]
or the experiment with plots: python -m homotopt reproduce o2nc-digits
Needs torch and scikit-learn.
"""

from __future__ import annotations

import argparse

from homotopt.experiments import Options, o2nc_digits
from homotopt.experiments._base import markdown


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 epochs (a smoke test)")
    args = parser.parse_args(argv)
    opts = Options(trials=None if args.quick else args.seeds, steps=None if args.quick else args.epochs,
                   quick=args.quick)
    report = o2nc_digits.run(opts)
    print(markdown(report))
    return {row["optimizer"]: {"mean": row["test accuracy (mean)"], "std": row["std"]} for row in report.rows}


if __name__ == "__main__":
    main()
