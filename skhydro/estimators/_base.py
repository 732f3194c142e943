"""What every basin estimator shares: simulation of fitted maps, predict on units, score."""
import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ..simulation import Problem
from ..units import ObservationUnits, check_units


def check_X(X):
    if not isinstance(X, ObservationUnits):
        raise TypeError(f"X must be ObservationUnits (see skhydro.make_units), got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError("X has no observation unit")
    return X


def check_num_threads(num_threads):
    if not isinstance(num_threads, numbers.Integral) or isinstance(num_threads, bool) or \
            (num_threads < 1 and num_threads != -1):
        raise ValueError(f"num_threads must be a positive integer or -1, got {num_threads!r}")


def unit_series(X, q_gauge):
    """One Series per unit: the gauge discharge ``(ntime, n_mesh_gauges)`` over the unit's period."""
    index = X.forcings.index
    out = np.empty(len(X), dtype=object)
    for i, ((col, t0, t1), code) in enumerate(zip(X.step_ranges(), X.gauges)):
        out[i] = pd.Series(q_gauge[t0:t1, col], index=index[t0:t1], name=code)
    return out


def check_random_state_param(random_state):
    """Refuse a ``random_state`` that is neither None, an int nor a RandomState."""
    if random_state is not None and not isinstance(random_state, (numbers.Integral, np.random.RandomState)):
        raise ValueError(f"random_state must be None, an int or a RandomState, got {random_state!r}")


def parse_scoring(scoring):
    """Check a score name: one of :data:`skhydro.model_selection.SCORERS` (efficiencies, negated errors)."""
    from ..model_selection import SCORERS

    if not isinstance(scoring, str) or scoring.lower() not in SCORERS:
        raise ValueError(f"scoring must be one of {sorted(SCORERS)}, got {scoring!r}")
    return scoring.lower()


def mean_unit_metric(scoring, y, predictions):
    """Mean over units of the metric of a score name (negated for errors)."""
    from ..model_selection import mean_unit_score

    return mean_unit_score(parse_scoring(scoring), y, predictions)


class BasinEstimatorMixin:
    """``predict`` and ``score`` on observation units for estimators that store fitted maps.

    A subclass sets ``structure_``, ``parameters_`` and ``initial_states_`` (maps on the mesh grid) in
    ``fit`` and has ``num_threads`` and ``scoring`` hyper-parameters.
    """

    def _problem(self, X):
        check_is_fitted(self, "parameters_")
        check_X(X)
        if X.mesh.shape != self.mesh_shape_:
            raise ValueError(f"X is on a {X.mesh.shape} grid but the estimator was fitted on {self.mesh_shape_}")
        return Problem(X.mesh, X.forcings, self.structure_, self.parameters_, self.initial_states_,
                       self.num_threads, getattr(self, "network_", None))

    def simulate(self, X):
        """Simulated discharge at every gauge of the mesh over the whole window, with the fitted maps.

        Parameters
        ----------
        X : ObservationUnits

        Returns
        -------
        pandas.DataFrame
            Step end stamps x gauge codes, m³/s.
        """
        q = self._problem(X).run()[0]
        return pd.DataFrame(q, index=X.forcings.index, columns=pd.Index(X.mesh.gauge_codes, name="code"))

    def predict(self, X):
        """Simulated discharge of every unit of ``X``.

        The model runs over the whole basin and window; each unit gets its gauge's discharge over its
        period.

        Parameters
        ----------
        X : ObservationUnits

        Returns
        -------
        ndarray of object, (n_units,)
            One :class:`pandas.Series` per unit (m³/s, indexed by step end stamps).
        """
        return unit_series(X, self._problem(X).run()[0])

    def score(self, X, y):
        """Mean over units of the ``scoring`` metric (default NSE); errors are negated (greater is better).

        Parameters
        ----------
        X : ObservationUnits
        y : UnitDischarge

        Returns
        -------
        float
        """
        check_units(X, y)
        return mean_unit_metric(self.scoring, y, self.predict(X))

