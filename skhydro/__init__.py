"""skhydro: differentiable, spatially distributed hydrological modelling with a scikit-learn API."""
from . import datasets, structures
from .cost import DischargeCost
from .forcings import Forcings
from .gradient import value_and_gradient
from .interception import adjust_interception
from .mesh import Mesh
from .simulation import SimulationResult, simulate
from .units import ObservationUnits, UnitDischarge, make_units

__version__ = "0.1.0.dev0"

__all__ = ["Mesh", "Forcings", "simulate", "SimulationResult", "adjust_interception", "DischargeCost", "value_and_gradient", "ObservationUnits", "UnitDischarge", "make_units", "datasets", "structures"]
