"""Bound-constrained optimisers of a control vector: SBS, L-BFGS-B and adaptive methods (spec §7)."""
from ._optimizers import (
    ADAPTIVE_METHODS,
    DEFAULT_LEARNING_RATES,
    METHODS,
    minimize,
    minimize_adaptive,
    minimize_lbfgsb,
    minimize_sbs,
)

__all__ = ["minimize", "minimize_sbs", "minimize_lbfgsb", "minimize_adaptive", "METHODS", "ADAPTIVE_METHODS",
           "DEFAULT_LEARNING_RATES"]
