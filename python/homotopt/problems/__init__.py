"""The papers' problems, with fused native estimators (papers/prog_powerhp.md)."""

from .phase_retrieval import PhaseRetrieval

__all__ = ["PhaseRetrieval"]
