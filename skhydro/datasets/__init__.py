"""Embedded example data."""
from ._synthetic import SyntheticBasin, make_synthetic_basin

__all__ = ["make_synthetic_basin", "SyntheticBasin"]
