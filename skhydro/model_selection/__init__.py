"""Cross-validation over observation units: splitters over gauges and periods, scorers by name."""
from ._scorers import SCORERS, UnitScorer, get_scorer, register_scorers
from ._split import GaugeKFold, GaugeSplit, PeriodSplit, SpatioTemporalSplit

register_scorers()

__all__ = ["GaugeKFold", "GaugeSplit", "PeriodSplit", "SpatioTemporalSplit", "UnitScorer", "SCORERS",
           "get_scorer", "register_scorers"]
