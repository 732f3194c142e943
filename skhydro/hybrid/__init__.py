"""Hybrid physics-AI structures: the network that corrects a GR structure's internal fluxes."""
from ._network import FluxCorrectionNetwork

__all__ = ["FluxCorrectionNetwork"]
