"""Mappings from an optimiser's control vector to parameter and initial-state values (spec §2-§3)."""
from ._mappings import TRANSFORMS, DistributedMapping, UniformMapping

__all__ = ["UniformMapping", "DistributedMapping", "TRANSFORMS"]
