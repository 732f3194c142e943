"""Mappings from an optimiser's control vector to parameter and initial-state values (spec §2-§3): uniform and
distributed, and the regionalisation mappings from physical descriptors (multi-linear, multi-power, ANN)."""
from ._descriptors import DESCRIPTOR_TRANSFORMS, Descriptors
from ._mappings import TRANSFORMS, DistributedMapping, UniformMapping
from ._regional import ACTIVATIONS, INITIALIZERS, ANNMapping, MultiLinearMapping, MultiPowerMapping

__all__ = ["UniformMapping", "DistributedMapping", "MultiLinearMapping", "MultiPowerMapping", "ANNMapping",
           "Descriptors", "TRANSFORMS", "DESCRIPTOR_TRANSFORMS", "ACTIVATIONS", "INITIALIZERS"]
