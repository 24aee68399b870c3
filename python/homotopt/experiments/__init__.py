"""The papers' experiments, reproducible in one command each: ``python -m homotopt reproduce NAME``.

Each experiment module has NAME, SUMMARY and run(Options) -> Report; results are written by
:func:`homotopt.experiments._base.write` (results.json, table.md, PNG plots).
"""

from __future__ import annotations

from types import ModuleType

from . import (alignment, digits_powerhp, figure1, k_ablation, matrix_completion, o2nc_digits, o2nc_scaling,
               phase_retrieval, phase_retrieval_torch, relu, relu_torch, sensitivity, test_functions)
from ._base import Options, Report, write

EXPERIMENTS: dict[str, ModuleType] = {m.NAME: m for m in (phase_retrieval, relu, figure1, k_ablation, o2nc_digits,
                                                           relu_torch, phase_retrieval_torch, digits_powerhp,
                                                           sensitivity, test_functions, alignment, matrix_completion,
                                                           o2nc_scaling)}

__all__ = ["EXPERIMENTS", "Options", "Report", "write"]
