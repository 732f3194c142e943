"""scikit-learn estimators of basin models: ``fit`` / ``predict`` / ``score`` on observation units."""
from ._distributed_gr4 import DistributedGR4

__all__ = ["DistributedGR4"]
