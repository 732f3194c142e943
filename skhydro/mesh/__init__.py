"""Gridded river basins: D8 flow directions, routing order, gauges."""
from ._mesh import Mesh

__all__ = ["Mesh"]
