"""scikit-learn estimators of basin models: ``fit`` / ``predict`` / ``score`` on observation units."""
from ._distributed_gr4 import DistributedGR4, DistributedModel
from ._hybrid import HybridFluxCorrector
from ._regional import RegionalANNMapping, RegionalModel

__all__ = ["DistributedModel", "DistributedGR4", "RegionalModel", "RegionalANNMapping", "HybridFluxCorrector"]
