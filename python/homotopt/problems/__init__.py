"""The papers' problems, with fused native estimators (papers/prog_powerhp.md)."""

from .phase_retrieval import PhaseRetrieval
from .toy1d import Toy1D
from .two_layer_relu import TwoLayerReLU

__all__ = ["PhaseRetrieval", "TwoLayerReLU", "Toy1D"]
