"""skhydro: differentiable, spatially distributed hydrological modelling with a scikit-learn API."""
from . import datasets, structures
from .forcings import Forcings
from .interception import adjust_interception
from .mesh import Mesh
from .simulation import SimulationResult, simulate

__version__ = "0.1.0.dev0"

__all__ = ["Mesh", "Forcings", "simulate", "SimulationResult", "adjust_interception", "datasets", "structures"]
