"""The papers' experiments, reproducible in one command each: ``python -m homotopt reproduce NAME``.

Each experiment module has NAME, SUMMARY and run(Options) -> Report; results are written by
:func:`homotopt.experiments._base.write` (results.json, table.md, PNG plots).
"""

from __future__ import annotations

from types import ModuleType

from . import (digits_powerhp, figure1, k_ablation, o2nc_digits, phase_retrieval, phase_retrieval_torch, relu,
               relu_torch)
from ._base import Options, Report, write

EXPERIMENTS: dict[str, ModuleType] = {m.NAME: m for m in (phase_retrieval, relu, figure1, k_ablation, o2nc_digits,
                                                           relu_torch, phase_retrieval_torch, digits_powerhp)}

__all__ = ["EXPERIMENTS", "Options", "Report", "write"]
