"""Cross-validation splitters over observation units: gauges (space), periods (time), or both.

Every splitter yields integer indices of the units of ``X`` (:class:`~skhydro.ObservationUnits`), so it
works as ``cv=`` in :func:`sklearn.model_selection.cross_validate` and
:class:`~sklearn.model_selection.GridSearchCV`. The model always simulates the whole basin and window:
a split only chooses which units enter the calibration cost and which the validation score.
"""
import numbers
from itertools import product

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ..units import ObservationUnits

__all__ = ["GaugeKFold", "GaugeSplit", "PeriodSplit", "SpatioTemporalSplit"]


def _units(X):
    if not isinstance(X, ObservationUnits):
        raise TypeError(f"X must be ObservationUnits (see skhydro.make_units), got {type(X).__name__}")
    return X.units


def _as_list(values, what):
    if isinstance(values, (str, numbers.Number)):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{what} is empty")
    return values


class _UnitSplitter(BaseCrossValidator):
    """Splitters defined by train/test masks over the unit table."""

    def _masks(self, units):
        raise NotImplementedError

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` indices of the units of ``X``.

        Parameters
        ----------
        X : ObservationUnits
        y, groups : ignored

        Yields
        ------
        train, test : ndarray of int
        """
        for train, test in self._masks(_units(X)):
            if not train.any() or not test.any():
                raise ValueError(f"{self!r} gives an empty calibration or validation set on these units")
            yield np.flatnonzero(train), np.flatnonzero(test)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # BaseCrossValidator's abstract method
        for _, test in self.split(X, y, groups):
            yield test


class GaugeKFold(_UnitSplitter):
    """K-fold over gauges: every unit of a gauge falls on the same side (spatial validation).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds (at least 2, at most the number of gauges).
    shuffle : bool, default=False
        Shuffle the gauges before making folds.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeKFold
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> [sorted(set(X.gauges[test])) for _, test in GaugeKFold(2).split(X)]
    [['SYN001', 'SYN002'], ['SYN003', 'SYN004']]
    """

    def __init__(self, n_splits=5, shuffle=False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def _masks(self, units):
        if not isinstance(self.n_splits, numbers.Integral) or self.n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {self.n_splits!r}")
        gauges = np.array(list(dict.fromkeys(units["gauge"])))
        if self.n_splits > len(gauges):
            raise ValueError(f"cannot make {self.n_splits} folds of {len(gauges)} gauges")
        if self.shuffle:
            check_random_state(self.random_state).shuffle(gauges)
        for fold in np.array_split(gauges, self.n_splits):
            test = units["gauge"].isin(fold).to_numpy()
            yield ~test, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds."""
        return self.n_splits


class GaugeSplit(_UnitSplitter):
    """Explicit gauge groups: calibrate on some gauges, validate on others.

    Parameters
    ----------
    train_gauges, test_gauges : list of str
        Gauge codes of the calibration and validation groups (e.g. upstream and downstream gauges);
        they must not overlap. For several splits, give ``train_gauges`` as a list of ``(train, test)``
        pairs and leave ``test_gauges`` out.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeSplit
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> train, test = next(GaugeSplit(["SYN002", "SYN003"], ["SYN001"]).split(X))
    >>> sorted(set(X.gauges[test]))
    ['SYN001']
    """

    def __init__(self, train_gauges, test_gauges=None):
        self.train_gauges = train_gauges
        self.test_gauges = test_gauges

    def _pairs(self):
        if self.test_gauges is None:
            pairs = [(_as_list(a, "train_gauges"), _as_list(b, "test_gauges")) for a, b in self.train_gauges]
        else:
            pairs = [(_as_list(self.train_gauges, "train_gauges"), _as_list(self.test_gauges, "test_gauges"))]
        for train, test in pairs:
            both = set(map(str, train)) & set(map(str, test))
            if both:
                raise ValueError(f"gauges {sorted(both)} are both in the calibration and the validation group")
        return pairs

    def _masks(self, units):
        known = set(units["gauge"])
        for train, test in self._pairs():
            unknown = sorted({str(g) for g in train + test} - known)
            if unknown:
                raise ValueError(f"gauges {unknown} have no unit in X (gauges of X: {sorted(known)})")
            yield units["gauge"].isin(map(str, train)).to_numpy(), units["gauge"].isin(map(str, test)).to_numpy()

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits."""
        return len(self._pairs())


class PeriodSplit(_UnitSplitter):
    """Calibrate on some periods, validate on others (temporal validation).

    Either explicit period labels (one split), or a rolling scheme over the sorted labels as in
    :class:`sklearn.model_selection.TimeSeriesSplit`: split ``k`` calibrates on the first periods and
    validates on a later one. ``gap`` periods between them belong to neither side; since the model
    simulates through them, they act as a warm-up before the validation period.

    Parameters
    ----------
    train_periods, test_periods : list, optional
        Explicit period labels.
    n_splits : int, optional
        Rolling scheme with this many splits (when the explicit labels are not given).
    gap : int, default=0
        Periods left out between calibration and validation in the rolling scheme.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import PeriodSplit
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=4)
    >>> [(sorted(set(X.periods[a].tolist())), sorted(set(X.periods[b].tolist())))
    ...  for a, b in PeriodSplit(n_splits=2, gap=1).split(X)]
    [([0], [2]), ([0, 1], [3])]
    """

    def __init__(self, train_periods=None, test_periods=None, n_splits=None, gap=0):
        self.train_periods = train_periods
        self.test_periods = test_periods
        self.n_splits = n_splits
        self.gap = gap

    def _explicit(self):
        if (self.train_periods is None) != (self.test_periods is None):
            raise ValueError("give both train_periods and test_periods, or neither (with n_splits)")
        if self.train_periods is not None and self.n_splits is not None:
            raise ValueError("give either explicit periods or n_splits, not both")
        if self.train_periods is None and self.n_splits is None:
            raise ValueError("give train_periods and test_periods, or n_splits")
        return self.train_periods is not None

    def _masks(self, units):
        labels = list(dict.fromkeys(units["period"]))
        if self._explicit():
            train, test = _as_list(self.train_periods, "train_periods"), _as_list(self.test_periods, "test_periods")
            unknown = [p for p in train + test if p not in labels]
            if unknown:
                raise ValueError(f"periods {unknown} have no unit in X (periods of X: {labels})")
            if set(train) & set(test):
                raise ValueError(f"periods {sorted(set(train) & set(test))} are on both sides")
            yield units["period"].isin(train).to_numpy(), units["period"].isin(test).to_numpy()
            return
        n, gap = self.n_splits, self.gap
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n_splits must be a positive integer, got {n!r}")
        if not isinstance(gap, numbers.Integral) or gap < 0:
            raise ValueError(f"gap must be a non-negative integer, got {gap!r}")
        labels = sorted(labels)
        if len(labels) < n + gap + 1:
            raise ValueError(f"{n} splits with a gap of {gap} need at least {n + gap + 1} periods, X has {len(labels)}")
        for k in range(n):
            test_label = labels[len(labels) - n + k]
            train_labels = labels[:len(labels) - n + k - gap]
            yield units["period"].isin(train_labels).to_numpy(), (units["period"] == test_label).to_numpy()

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits."""
        return 1 if self._explicit() else self.n_splits


class SpatioTemporalSplit(_UnitSplitter):
    """Gauges and periods at once: calibrate on the calibration gauges over the calibration periods,
    validate on the validation gauges over the validation periods (every combination of the two
    splitters' splits).

    Parameters
    ----------
    gauge_cv : GaugeKFold or GaugeSplit
    period_cv : PeriodSplit

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeSplit, PeriodSplit, SpatioTemporalSplit
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> cv = SpatioTemporalSplit(GaugeSplit(["SYN002"], ["SYN001"]), PeriodSplit([0], [1]))
    >>> train, test = next(cv.split(X))
    >>> X.units.loc[test, ["gauge", "period"]].values.tolist()
    [['SYN001', 1]]
    """

    def __init__(self, gauge_cv, period_cv):
        self.gauge_cv = gauge_cv
        self.period_cv = period_cv

    def _masks(self, units):
        for (g_train, g_test), (p_train, p_test) in product(list(self.gauge_cv._masks(units)),
                                                            list(self.period_cv._masks(units))):
            yield g_train & p_train, g_test & p_test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits (product of the two splitters')."""
        return self.gauge_cv.get_n_splits(X) * self.period_cv.get_n_splits(X)
