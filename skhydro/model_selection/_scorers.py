"""Scorers over observation units, registered under scikit-learn scorer names.

``scoring="nse"`` (or ``"kge"``, ``"nnse"``, ``"neg_rmse"``, ...) in ``cross_validate`` or
``GridSearchCV`` gives the mean over the validation units of the metric of the estimator's predicted
discharge against the observed one. Errors are negated so that greater is always better.
"""
from ..estimators._base import mean_unit_metric, parse_scoring
from ..metrics import METRICS
from ..units import check_units

__all__ = ["UnitScorer", "SCORERS", "get_scorer", "register_scorers"]


class UnitScorer:
    """Callable ``scorer(estimator, X, y)``: mean unit metric of ``estimator.predict(X)`` against ``y``.

    Parameters
    ----------
    name : str
        ``"nse"``, ``"nnse"``, ``"kge"`` or a negated error ``"neg_mae"``, ``"neg_mape"``, ``"neg_mse"``,
        ``"neg_rmse"``, ``"neg_lgrm"``.

    Examples
    --------
    >>> from skhydro.model_selection import UnitScorer
    >>> UnitScorer("neg_rmse")
    UnitScorer('neg_rmse')
    """

    def __init__(self, name):
        parse_scoring(name)
        self.name = name

    def __call__(self, estimator, X, y, **kwargs):
        check_units(X, y)
        return mean_unit_metric(self.name, y, estimator.predict(X))

    def __repr__(self):
        return f"UnitScorer({self.name!r})"


#: Scorer by name.
SCORERS = {name: UnitScorer(name) for name in
           [m for m in METRICS if METRICS[m][2]] + [f"neg_{m}" for m in METRICS if not METRICS[m][2]]}


def get_scorer(name):
    """The :class:`UnitScorer` of a name (see :data:`SCORERS`).

    Parameters
    ----------
    name : str

    Returns
    -------
    UnitScorer

    Examples
    --------
    >>> from skhydro.model_selection import get_scorer
    >>> get_scorer("kge")
    UnitScorer('kge')
    """
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; use one of {sorted(SCORERS)}")
    return SCORERS[name]


def register_scorers():
    """Make the names of :data:`SCORERS` usable as ``scoring=`` in scikit-learn.

    scikit-learn looks scorer names up in its registry; names it already has (``"neg_mean_..."``) are
    never overwritten. Called when :mod:`skhydro.model_selection` is imported.

    Returns
    -------
    list of str
        The names registered.
    """
    from sklearn.metrics import _scorer

    registry = getattr(_scorer, "_SCORERS", None)
    if not isinstance(registry, dict):  # a future scikit-learn without the dict: pass scorers explicitly
        return []
    added = []
    for name, scorer in SCORERS.items():
        if registry.get(name, scorer) is scorer:
            registry[name] = scorer
            added.append(name)
    _allow_in_parameter_validation(added)
    return added


def _allow_in_parameter_validation(names):
    """scikit-learn checks ``scoring`` strings against the scorer names known when each of its modules
    was imported: add ours to those sets, in every loaded scikit-learn module (model selection, metrics,
    inspection, ...). Modules imported later keep their own sets: pass scorers explicitly there."""
    import sys

    import sklearn.model_selection  # noqa: F401
    from sklearn.utils._param_validation import StrOptions

    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("sklearn.") or module is None:
            continue
        for holder in list(vars(module).values()):
            constraints = getattr(holder, "_parameter_constraints", None)
            if not isinstance(constraints, dict):  # a function decorated by validate_params
                constraints = getattr(getattr(holder, "__wrapped__", None), "_skl_parameter_constraints", None)
            if not isinstance(constraints, dict):
                continue
            for constraint in constraints.get("scoring", []):
                if isinstance(constraint, StrOptions) and isinstance(constraint.options, set):
                    constraint.options.update(names)
