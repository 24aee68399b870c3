"""homotopt's optimizers as ``torch.optim.Optimizer`` subclasses.

- ``ExpO2NC``: Exponentiated O2NC on the fused multi-tensor native kernel (``o2nc.py``).
- ``ProgPowerHP``: Prog-PowerHP for any model through a closure called K times a step (``progpowerhp.py``).

Importing this package imports torch; ``import homotopt`` does not.
"""

from __future__ import annotations

from .o2nc import ExpO2NC
from .progpowerhp import ProgPowerHP

__all__ = ["ExpO2NC", "ProgPowerHP"]
