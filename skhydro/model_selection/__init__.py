"""Model selection over observation units: splitters over gauges and periods, and unit scorers.

The splitters (:class:`GaugeKFold`, :class:`GaugeSplit`, :class:`PeriodSplit`,
:class:`SpatioTemporalSplit`) work as ``cv=`` and the scorer names of :data:`SCORERS` (``"nse"``,
``"kge"``, ``"neg_rmse"``, ...) as ``scoring=`` in :func:`sklearn.model_selection.cross_validate`,
:class:`~sklearn.model_selection.GridSearchCV` and friends: importing this module registers the names
with scikit-learn (:func:`register_scorers`).
"""
from ._scorers import SCORERS, UnitScorer, get_scorer, mean_unit_score, register_scorers
from ._split import GaugeKFold, GaugeSplit, PeriodSplit, SpatioTemporalSplit

register_scorers()

__all__ = ["GaugeKFold", "GaugeSplit", "PeriodSplit", "SpatioTemporalSplit", "UnitScorer", "SCORERS",
           "get_scorer", "mean_unit_score", "register_scorers"]
