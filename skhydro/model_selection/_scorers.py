"""Scorers over observation units, usable by name as ``scoring=`` in scikit-learn.

A unit score is the mean over the units of ``X`` of a :mod:`skhydro.metrics` metric of the observed
discharge of the unit (``y.series(i)``) against the predicted one (``estimator.predict(X)[i]``). As
scikit-learn expects, greater is always better: error metrics are negated (``"neg_rmse"``, ...).

Importing :mod:`skhydro.model_selection` registers the names of :data:`SCORERS` with scikit-learn
(:func:`register_scorers`), so that ``cross_validate(..., scoring="nse")``,
``scoring=["nse", "kge"]`` or ``GridSearchCV(..., scoring="kge")`` work.
"""
import copy
import sys
import warnings

import numpy as np
import pandas as pd

from ..metrics import METRICS
from ..units import UnitDischarge, check_units

__all__ = ["UnitScorer", "SCORERS", "get_scorer", "register_scorers", "mean_unit_score"]


def _score_names():
    return [m if eff else f"neg_{m}" for m, (_, _, eff) in METRICS.items()]


def _metric_function(metric):
    """``(function, greater_is_better)`` of a metric name of :data:`skhydro.metrics.METRICS` or a callable."""
    if callable(metric):
        return metric, True
    if isinstance(metric, str) and metric.lower() in METRICS:
        fn, _, efficiency = METRICS[metric.lower()]
        return fn, efficiency
    raise ValueError(f"metric must be one of {list(METRICS)} or a callable metric(observed, simulated), "
                     f"got {metric!r}")


def _unit_values(fn, y, predictions):
    """Metric ``fn`` of every unit: observed ``y.series(i)`` against ``predictions[i]``."""
    if not isinstance(y, UnitDischarge):
        raise TypeError(f"y must be UnitDischarge (see skhydro.make_units), got {type(y).__name__}")
    if isinstance(predictions, (pd.Series, pd.DataFrame)) or not hasattr(predictions, "__len__"):
        raise TypeError("predictions must be a sequence of one discharge series per unit (what predict "
                        f"returns), got {type(predictions).__name__}")
    if len(predictions) != len(y):
        raise ValueError(f"{len(predictions)} predicted series for {len(y)} units")
    if len(y) == 0:
        raise ValueError("no observation unit to score")
    values = np.empty(len(y))
    for i, simulated in enumerate(predictions):
        observed = y.series(i)
        if isinstance(simulated, pd.Series) and isinstance(simulated.index, pd.DatetimeIndex):
            observed = observed.reindex(simulated.index)  # stamps without observation are missing ones
        simulated = np.asarray(simulated, dtype=float)
        unit = {k: v.item() if isinstance(v, np.generic) else v for k, v in y.units.iloc[i].items()}
        if simulated.shape != observed.shape:
            raise ValueError(f"the prediction of unit {i} (gauge {unit['gauge']}, period {unit['period']!r}) has "
                             f"shape {simulated.shape}, its observed series {observed.shape}")
        try:
            values[i] = fn(observed.to_numpy(), simulated)
        except ValueError as err:
            raise ValueError(f"unit {i} (gauge {unit['gauge']}, period {unit['period']!r}): {err}") from None
    return values


def mean_unit_score(metric, y, predictions):
    """Mean over units of a metric of the predicted against the observed discharge.

    Parameters
    ----------
    metric : str or callable
        A metric of :data:`skhydro.metrics.METRICS` (``"nse"``, ``"rmse"``, ...: the mean of its values),
        a score name ``"neg_<error>"`` (``"neg_rmse"``, ...: the negated mean of the error, so that
        greater is better; every name of :data:`SCORERS` works), or a callable
        ``metric(observed, simulated) -> float`` on 1-D arrays.
    y : UnitDischarge
        Observed discharge of the units.
    predictions : sequence of pandas.Series or array_like
        One simulated series per unit of ``y``, as ``estimator.predict(X)`` returns. A Series indexed by
        timestamps is matched to the observations by stamp (stamps without observation count as
        missing); anything else must have the length of the unit's observed series.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unknown metric, wrong number or length of predictions, or a unit without any valid observation.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import mean_unit_score
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, noise=0.0)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=2, warmup=50)
    >>> truth = [basin.true_discharge[g].loc[a:b] for g, a, b in X.units[["gauge", "start", "end"]].values]
    >>> mean_unit_score("nse", y, truth)
    1.0
    >>> mean_unit_score("neg_rmse", y, [2 * q for q in truth]) < 0
    True
    """
    if isinstance(metric, str):
        name = metric.lower()
        if name.startswith("neg_") and name[4:] in METRICS and not METRICS[name[4:]][2]:
            return -float(np.mean(_unit_values(METRICS[name[4:]][0], y, predictions)))
        if name not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {list(METRICS)} or a score name "
                             f"{_score_names()}")
    fn, _ = _metric_function(metric)
    return float(np.mean(_unit_values(fn, y, predictions)))


class UnitScorer:
    """Scorer ``scorer(estimator, X, y)``: mean over units of a metric of ``estimator.predict(X)``.

    The score is ``sign * mean_i metric(y.series(i), estimator.predict(X)[i])`` over the units of ``X``,
    with ``sign = -1`` when ``greater_is_better`` is False (scikit-learn's convention: greater is better).

    Parameters
    ----------
    metric : str or callable
        A metric of :data:`skhydro.metrics.METRICS` (``"nse"``, ``"kge"``, ``"rmse"``, ...) or a callable
        ``metric(observed, simulated) -> float`` on 1-D arrays (a module-level function keeps the scorer
        picklable).
    greater_is_better : bool, optional
        Whether greater metric values are better; when False the score is the negated mean. Default: True
        for the efficiencies (nse, nnse, kge) and callables, False for the errors (mae, mape, mse, rmse,
        lgrm).

    Attributes
    ----------
    metric : str or callable
    greater_is_better : bool

    See Also
    --------
    SCORERS : the unit scorers by scikit-learn name.
    mean_unit_score : the same score from predictions.

    Examples
    --------
    >>> from skhydro.model_selection import UnitScorer
    >>> UnitScorer("rmse")
    UnitScorer('rmse', greater_is_better=False)

    A scorer is what ``scoring=`` takes in scikit-learn:

    >>> import skhydro
    >>> from sklearn.base import BaseEstimator
    >>> class Truth(BaseEstimator):  # predicts the noise-free discharge of the synthetic basin
    ...     def __init__(self, discharge=None):
    ...         self.discharge = discharge
    ...     def fit(self, X, y):
    ...         return self
    ...     def predict(self, X):
    ...         return [self.discharge[g].loc[a:b] for g, a, b in X.units[["gauge", "start", "end"]].values]
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, noise=0.0)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=2, warmup=50)
    >>> model = Truth(basin.true_discharge).fit(X, y)
    >>> UnitScorer("nse")(model, X, y)
    1.0
    >>> model.set_params(discharge=2 * basin.true_discharge)
    Truth(discharge=...)
    >>> UnitScorer("nse")(model, X, y) < 1.0, UnitScorer("rmse")(model, X, y) < 0.0
    (True, True)
    """

    def __init__(self, metric, greater_is_better=None):
        _, default = _metric_function(metric)
        self.metric = metric.lower() if isinstance(metric, str) else metric
        self.greater_is_better = default if greater_is_better is None else bool(greater_is_better)

    def __call__(self, estimator, X, y, **kwargs):
        """Score of ``estimator`` on the units ``X`` against ``y``.

        Parameters
        ----------
        estimator : object
            Fitted estimator with ``predict(X)`` returning one discharge series per unit.
        X : ObservationUnits
        y : UnitDischarge

        Returns
        -------
        float
        """
        if kwargs:
            raise TypeError(f"{self!r} takes no extra argument, got {sorted(kwargs)}")
        check_units(X, y)
        fn, _ = _metric_function(self.metric)
        mean = float(np.mean(_unit_values(fn, y, estimator.predict(X))))
        return mean if self.greater_is_better else -mean

    def _name(self):
        return self.metric if isinstance(self.metric, str) else getattr(self.metric, "__name__", repr(self.metric))

    def __repr__(self):
        return f"UnitScorer({self._name()!r}, greater_is_better={self.greater_is_better})"

    def __eq__(self, other):
        return (type(other) is type(self) and self.metric == other.metric
                and self.greater_is_better == other.greater_is_better)

    def __hash__(self):
        return hash((type(self).__name__, self._name(), self.greater_is_better))


#: Unit scorers by name: ``"nse"``, ``"nnse"``, ``"kge"`` and the negated errors ``"neg_mae"``,
#: ``"neg_mape"``, ``"neg_mse"``, ``"neg_rmse"``, ``"neg_lgrm"``.
SCORERS = {name: UnitScorer(name.removeprefix("neg_")) for name in _score_names()}


def get_scorer(scoring):
    """The unit scorer of a name of :data:`SCORERS` (a callable is returned as it is).

    Parameters
    ----------
    scoring : str or callable
        ``"nse"``, ``"nnse"``, ``"kge"``, ``"neg_mae"``, ``"neg_mape"``, ``"neg_mse"``, ``"neg_rmse"`` or
        ``"neg_lgrm"``.

    Returns
    -------
    UnitScorer or callable
        A copy of the registered scorer (as :func:`sklearn.metrics.get_scorer` returns).

    Raises
    ------
    ValueError
        Unknown name.

    Examples
    --------
    >>> from skhydro.model_selection import get_scorer
    >>> get_scorer("kge")
    UnitScorer('kge', greater_is_better=True)
    >>> get_scorer("neg_mse")
    UnitScorer('mse', greater_is_better=False)
    """
    if callable(scoring):
        return scoring
    if scoring not in SCORERS:
        raise ValueError(f"unknown scorer {scoring!r}; use one of {list(SCORERS)}")
    return copy.deepcopy(SCORERS[scoring])


def register_scorers():
    """Make the names of :data:`SCORERS` usable as ``scoring=`` in scikit-learn.

    Each name is added to scikit-learn's scorer registry (so :func:`sklearn.metrics.get_scorer` and
    :func:`sklearn.metrics.get_scorer_names` know it) unless scikit-learn already has a scorer of that name,
    which is never overwritten (a warning says so). scikit-learn checks a ``scoring`` string against the
    names registered when each of its modules was imported; the names are also added to those checks in
    the modules already imported, modules imported later read the updated registry. Called when
    :mod:`skhydro.model_selection` is imported; calling it again does nothing more.

    This relies on private parts of scikit-learn (the registry ``sklearn.metrics._scorer._SCORERS``); if
    they are missing, nothing is registered and scorer objects must be passed instead of names
    (``scoring=SCORERS["nse"]``, or a dict ``{"nse": SCORERS["nse"]}``).

    Returns
    -------
    list of str
        The names of :data:`SCORERS` that scikit-learn now resolves to these unit scorers.

    Examples
    --------
    >>> from sklearn.metrics import get_scorer, get_scorer_names
    >>> from skhydro.model_selection import register_scorers
    >>> register_scorers()
    ['nse', 'nnse', 'kge', 'neg_mae', 'neg_mape', 'neg_mse', 'neg_rmse', 'neg_lgrm']
    >>> "kge" in get_scorer_names(), get_scorer("neg_rmse")
    (True, UnitScorer('rmse', greater_is_better=False))
    """
    try:
        from sklearn.metrics import _scorer
    except ImportError:  # pragma: no cover - a scikit-learn without the private module
        return []
    registry = getattr(_scorer, "_SCORERS", None)
    if not isinstance(registry, dict):  # pragma: no cover
        return []
    ours = []
    for name, scorer in SCORERS.items():
        existing = registry.setdefault(name, scorer)
        if existing is scorer or isinstance(existing, UnitScorer):
            ours.append(name)
        else:
            warnings.warn(f"scikit-learn already has a scorer named {name!r}: it is kept, so scoring={name!r} "
                          f"is not the unit scorer; pass skhydro.model_selection.SCORERS[{name!r}] instead",
                          UserWarning, stacklevel=2)
    try:
        _allow_in_parameter_validation(ours)
    except Exception as err:  # pragma: no cover - private scikit-learn internals changed
        warnings.warn(f"could not add the unit scorer names to scikit-learn's parameter checks ({err}); pass "
                      "scorer objects (skhydro.model_selection.SCORERS[name]) if a name is refused",
                      UserWarning, stacklevel=2)
    return ours


def _allow_in_parameter_validation(names):
    """Add ``names`` to the ``scoring`` string options of every scikit-learn class or function already
    imported (their options are a copy of the registry's names made at import)."""
    if not names:
        return
    from sklearn.utils._param_validation import StrOptions

    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "sklearn" or module_name.startswith("sklearn.")):
            continue
        for holder in list(vars(module).values()):
            constraints = getattr(holder, "_parameter_constraints", None)  # estimators
            if not isinstance(constraints, dict):  # functions decorated by validate_params
                constraints = getattr(holder, "_skl_parameter_constraints", None)
            if not isinstance(constraints, dict):
                constraints = getattr(getattr(holder, "__wrapped__", None), "_skl_parameter_constraints", None)
            if not isinstance(constraints, dict) or not isinstance(constraints.get("scoring"), list):
                continue
            for constraint in constraints["scoring"]:
                if isinstance(constraint, StrOptions) and isinstance(constraint.options, set):
                    constraint.options.update(names)
