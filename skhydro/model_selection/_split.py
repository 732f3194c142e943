"""Cross-validation splitters over observation units: gauges (space), periods (time), or both.

A sample of the scikit-learn data model is an *observation unit*, one gauge over one period
(:class:`~skhydro.ObservationUnits`). The splitters below yield integer indices of the units of ``X``,
following the conventions of :mod:`sklearn.model_selection` (``split(X, y=None, groups=None)``,
``get_n_splits``), so any of them works as ``cv=`` in :func:`sklearn.model_selection.cross_validate`,
:class:`~sklearn.model_selection.GridSearchCV` and friends:

* :class:`GaugeKFold`: k-fold over the gauges (every unit of a gauge on the same side);
* :class:`GaugeSplit`: explicit calibration and validation gauges (e.g. upstream -> downstream);
* :class:`PeriodSplit`: explicit calibration and validation periods, or a rolling scheme over the
  periods in time order, with an optional gap (warm-up) between them;
* :class:`SpatioTemporalSplit`: a gauge splitter crossed with a period splitter.

The model always simulates the whole basin over the whole forcing window: a split only chooses which
units enter the calibration cost and which the validation score. Indexing ``X`` by the yielded indices
never copies the basin (mesh, forcings, observed discharge are held by reference).
"""
import numbers
from itertools import product

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ..units import ObservationUnits, UnitDischarge, check_units

__all__ = ["GaugeKFold", "GaugeSplit", "PeriodSplit", "SpatioTemporalSplit"]


def _check_X(splitter, X, y=None):
    """The unit table of ``X``, with a clear error when ``X`` is not observation units."""
    if not isinstance(X, ObservationUnits):
        raise TypeError(f"{type(splitter).__name__} splits observation units: X must be ObservationUnits "
                        f"(see skhydro.make_units), got {type(X).__name__}")
    if isinstance(y, UnitDischarge):
        check_units(X, y)
    if len(X) == 0:
        raise ValueError("X has no observation unit to split")
    return X.units


def _as_list(values, what):
    """A group given as one label or a sequence of labels, as a non-empty list."""
    if values is None:
        raise ValueError(f"{what} is missing")
    if isinstance(values, (str, bytes, numbers.Number)) or not np.iterable(values):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{what} is empty")
    return values


def _check_n_splits(n_splits, minimum):
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < minimum:
        raise ValueError(f"n_splits must be an integer >= {minimum}, got {n_splits!r}")
    return int(n_splits)


class _UnitSplitter(BaseCrossValidator):
    """Splitters defined by ``(train, test)`` boolean masks over the unit table."""

    def _masks(self, units):
        """Yield ``(train_mask, test_mask)`` over the rows of ``units``."""
        raise NotImplementedError

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` indices of the units of ``X``.

        Parameters
        ----------
        X : ObservationUnits
            The units to split.
        y : UnitDischarge, optional
            Checked to describe the same units as ``X`` when given; otherwise unused.
        groups : None
            Unused (present for scikit-learn compatibility).

        Yields
        ------
        train : ndarray of int
            Indices of the calibration units.
        test : ndarray of int
            Indices of the validation units.
        """
        units = _check_X(self, X, y)
        for k, (train, test) in enumerate(self._masks(units)):
            if not train.any() or not test.any():
                side = "calibration" if not train.any() else "validation"
                raise ValueError(f"split {k} of {self!r} has no {side} unit in X")
            yield np.flatnonzero(train), np.flatnonzero(test)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # BaseCrossValidator's contract
        for _, test in self.split(X, y, groups):
            yield test


class GaugeKFold(_UnitSplitter):
    """K-fold over the gauges of ``X``: all units of a gauge fall on the same side (spatial validation).

    The distinct gauges of ``X`` (sorted by code, shuffled when ``shuffle``) are cut into ``n_splits``
    consecutive folds of sizes differing by at most one, as :class:`sklearn.model_selection.KFold` cuts
    samples. Split ``k`` validates on the units of the gauges of fold ``k`` and calibrates on the units
    of all other gauges.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2 and at most the number of distinct gauges of ``X``.
    shuffle : bool, default=False
        Shuffle the gauges before cutting them into folds.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle (only with ``shuffle=True``).

    See Also
    --------
    GaugeSplit : explicit calibration and validation gauges.
    sklearn.model_selection.GroupKFold : the same idea for array data and group labels.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeKFold
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> cv = GaugeKFold(n_splits=2)
    >>> cv
    GaugeKFold(n_splits=2, random_state=None, shuffle=False)
    >>> for train, test in cv.split(X):
    ...     print(sorted(set(X.gauges[train])), "->", sorted(set(X.gauges[test])))
    ['SYN003', 'SYN004'] -> ['SYN001', 'SYN002']
    ['SYN001', 'SYN002'] -> ['SYN003', 'SYN004']
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        self.n_splits = _check_n_splits(n_splits, 2)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        if not shuffle and random_state is not None:
            raise ValueError("setting a random_state has no effect since shuffle is False; leave random_state "
                             "to None or set shuffle=True")
        self.shuffle = bool(shuffle)
        self.random_state = random_state

    def _masks(self, units):
        gauges = np.array(sorted(set(units["gauge"])))
        if self.n_splits > len(gauges):
            raise ValueError(f"cannot cut {len(gauges)} gauges {gauges.tolist()} into n_splits={self.n_splits} "
                             "folds: use fewer splits or more gauges")
        if self.shuffle:
            check_random_state(self.random_state).shuffle(gauges)
        for fold in np.array_split(gauges, self.n_splits):
            test = units["gauge"].isin(fold).to_numpy()
            yield ~test, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Unused (present for scikit-learn compatibility).

        Returns
        -------
        int
        """
        return self.n_splits


class GaugeSplit(_UnitSplitter):
    """Explicit gauge groups: calibrate on some gauges, validate on others (spatial validation).

    Parameters
    ----------
    train_gauges : str, list of str, or list of (train, test) pairs
        Gauge codes of the calibration group (e.g. upstream gauges). For several splits, a list of
        ``(train_gauges, test_gauges)`` pairs, one per split, with ``test_gauges`` left to None.
    test_gauges : str or list of str, optional
        Gauge codes of the validation group (e.g. downstream gauges); must not overlap
        ``train_gauges``. Gauges of ``X`` in neither group are left out of the split.

    Raises
    ------
    ValueError
        A gauge in both groups of a split, an empty group, or (in ``split``) a gauge without any unit
        in ``X``.

    See Also
    --------
    GaugeKFold : k-fold over all gauges.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeSplit
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> cv = GaugeSplit(["SYN002", "SYN003"], ["SYN001"])
    >>> train, test = next(cv.split(X))
    >>> sorted(set(X.gauges[train])), sorted(set(X.gauges[test]))
    (['SYN002', 'SYN003'], ['SYN001'])

    Several splits, each with its own groups:

    >>> cv = GaugeSplit([(["SYN003"], ["SYN002"]), (["SYN002", "SYN004"], ["SYN001"])])
    >>> cv.get_n_splits()
    2
    """

    def __init__(self, train_gauges, test_gauges=None):
        self.train_gauges = train_gauges
        self.test_gauges = test_gauges
        self._pairs()  # fail early on malformed groups

    def _pairs(self):
        if self.test_gauges is None:
            pairs = _as_list(self.train_gauges, "train_gauges")
            if not all(np.iterable(p) and not isinstance(p, (str, bytes)) and len(p) == 2 for p in pairs):
                raise ValueError("without test_gauges, train_gauges must be a list of (train_gauges, "
                                 f"test_gauges) pairs, got {self.train_gauges!r}")
        else:
            pairs = [(self.train_gauges, self.test_gauges)]
        out = []
        for k, (train, test) in enumerate(pairs):
            train = [str(g) for g in _as_list(train, f"the calibration gauges of split {k}")]
            test = [str(g) for g in _as_list(test, f"the validation gauges of split {k}")]
            both = sorted(set(train) & set(test))
            if both:
                raise ValueError(f"gauges {both} are both calibration and validation gauges (split {k})")
            out.append((train, test))
        return out

    def _masks(self, units):
        known = set(units["gauge"])
        for k, (train, test) in enumerate(self._pairs()):
            unknown = sorted(set(train + test) - known)
            if unknown:
                raise ValueError(f"gauges {unknown} of split {k} have no unit in X (gauges of X: {sorted(known)})")
            yield units["gauge"].isin(train).to_numpy(), units["gauge"].isin(test).to_numpy()

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: the number of ``(train, test)`` gauge groups.

        Parameters
        ----------
        X, y, groups : object
            Unused (present for scikit-learn compatibility).

        Returns
        -------
        int
        """
        return len(self._pairs())


class PeriodSplit(_UnitSplitter):
    """Calibrate on some periods, validate on later ones (temporal validation).

    Two ways to define the splits:

    * **explicit periods** (``train_periods`` and ``test_periods``): one split; calibration on the units
      whose period label is in ``train_periods``, validation on those in ``test_periods``;
    * **rolling scheme** (``n_splits``): the distinct periods of ``X``, in time order (by start; for the
      integer labels of :func:`skhydro.make_units` this is the sorted labels), are treated as the samples
      of :class:`sklearn.model_selection.TimeSeriesSplit`: with ``P`` periods, each validation block has
      ``P // (n_splits + 1)`` consecutive periods, the blocks are the last ones, and split ``k``
      calibrates on every period before its validation block except the ``gap`` periods just before it.

    **The gap is a warm-up.** The model always simulates the whole forcing window, so the ``gap``
    periods left out between calibration and validation are still simulated: they carry the model
    states from the end of the calibration periods to the start of the validation block, which
    therefore starts from states driven by the forcings it has not been calibrated on, and no
    observation in the gap enters either the cost or the score. ``gap=0`` validates right after the
    calibration periods.

    Parameters
    ----------
    train_periods : label or list of labels, optional
        Period labels of the calibration units (explicit periods).
    test_periods : label or list of labels, optional
        Period labels of the validation units (explicit periods); must not overlap ``train_periods``.
    n_splits : int, optional
        Number of splits of the rolling scheme (at least 1); give it instead of the explicit periods.
    gap : int, default=0
        Number of periods left out (simulated as a warm-up) before each validation block of the rolling
        scheme.

    Raises
    ------
    ValueError
        Neither or both definitions, a ``gap`` with explicit periods, overlapping periods, or (in
        ``split``) periods without any unit in ``X`` or too few periods for the rolling scheme.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : the rolling scheme over array samples.

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import PeriodSplit
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=4, warmup=40)
    >>> def show(cv):
    ...     for train, test in cv.split(X):
    ...         print(sorted(set(X.periods[train].tolist())), "->", sorted(set(X.periods[test].tolist())))
    >>> show(PeriodSplit(train_periods=[0, 1], test_periods=[3]))
    [0, 1] -> [3]
    >>> show(PeriodSplit(n_splits=3))
    [0] -> [1]
    [0, 1] -> [2]
    [0, 1, 2] -> [3]
    >>> show(PeriodSplit(n_splits=2, gap=1))  # period 1, then 2, simulated as a warm-up
    [0] -> [2]
    [0, 1] -> [3]
    """

    def __init__(self, train_periods=None, test_periods=None, n_splits=None, gap=0):
        self.train_periods = train_periods
        self.test_periods = test_periods
        self.n_splits = n_splits
        self.gap = gap
        self._explicit()  # fail early on inconsistent arguments

    def _explicit(self):
        """True for explicit periods, False for the rolling scheme (arguments checked)."""
        explicit = self.train_periods is not None or self.test_periods is not None
        if explicit:
            if self.train_periods is None or self.test_periods is None:
                raise ValueError("give both train_periods and test_periods (or n_splits for a rolling scheme)")
            if self.n_splits is not None:
                raise ValueError("give either explicit periods (train_periods, test_periods) or n_splits, "
                                 "not both")
            if self.gap != 0:
                raise ValueError("gap applies to the rolling scheme (n_splits) only; with explicit periods, "
                                 "leave the warm-up periods out of both train_periods and test_periods")
            both = [p for p in _as_list(self.train_periods, "train_periods")
                    if p in _as_list(self.test_periods, "test_periods")]
            if both:
                raise ValueError(f"periods {both} are both calibration and validation periods (on both sides)")
            return True
        if self.n_splits is None:
            raise ValueError("give train_periods and test_periods, or n_splits for a rolling scheme")
        _check_n_splits(self.n_splits, 1)
        if isinstance(self.gap, bool) or not isinstance(self.gap, numbers.Integral) or self.gap < 0:
            raise ValueError(f"gap must be a non-negative number of periods, got {self.gap!r}")
        return False

    @staticmethod
    def _time_order(units):
        """Distinct period labels of ``units`` in time order (by start, then end)."""
        bounds = units.groupby("period", sort=False).agg(start=("start", "min"), end=("end", "max"))
        return bounds.sort_values(["start", "end"], kind="stable").index.tolist()

    def _masks(self, units):
        period = units["period"]
        labels = self._time_order(units)
        if self._explicit():
            train = _as_list(self.train_periods, "train_periods")
            test = _as_list(self.test_periods, "test_periods")
            unknown = [p for p in train + test if p not in labels]
            if unknown:
                raise ValueError(f"periods {unknown} have no unit in X (periods of X: {labels})")
            yield period.isin(train).to_numpy(), period.isin(test).to_numpy()
            return
        n, gap, n_periods = int(self.n_splits), int(self.gap), len(labels)
        size = n_periods // (n + 1)
        if size == 0 or n_periods - n * size - gap < 1:
            raise ValueError(f"a rolling scheme of n_splits={n} with gap={gap} needs at least "
                             f"{max(n + 1, n + gap + 1)} periods, X has {n_periods} ({labels})")
        for first in range(n_periods - n * size, n_periods, size):
            train = period.isin(labels[:first - gap]).to_numpy()
            test = period.isin(labels[first:first + size]).to_numpy()
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: 1 with explicit periods, else ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Unused (present for scikit-learn compatibility).

        Returns
        -------
        int
        """
        return 1 if self._explicit() else int(self.n_splits)


class SpatioTemporalSplit(_UnitSplitter):
    """A gauge splitter crossed with a period splitter: validation on other gauges *and* other periods.

    For every combination of a split of ``gauge_cv`` and a split of ``period_cv`` (gauge splits in the
    outer loop), the calibration units are those of a calibration gauge over a calibration period, and
    the validation units those of a validation gauge over a validation period. Units of a calibration
    gauge over a validation period (and conversely) enter neither side.

    Parameters
    ----------
    gauge_cv : GaugeKFold or GaugeSplit
        Splitter of the gauges (any splitter of observation units works).
    period_cv : PeriodSplit
        Splitter of the periods (any splitter of observation units works).

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.model_selection import GaugeKFold, GaugeSplit, PeriodSplit, SpatioTemporalSplit
    >>> X, y = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=200, return_X_y=True)
    >>> cv = SpatioTemporalSplit(GaugeSplit(["SYN002", "SYN003"], ["SYN001"]), PeriodSplit([0], [1]))
    >>> train, test = next(cv.split(X))
    >>> X.units.loc[train, ["gauge", "period"]].values.tolist()
    [['SYN002', 0], ['SYN003', 0]]
    >>> X.units.loc[test, ["gauge", "period"]].values.tolist()
    [['SYN001', 1]]
    >>> SpatioTemporalSplit(GaugeKFold(2), PeriodSplit(n_splits=1)).get_n_splits()
    2
    """

    def __init__(self, gauge_cv, period_cv):
        for name, cv in [("gauge_cv", gauge_cv), ("period_cv", period_cv)]:
            if not (hasattr(cv, "split") and hasattr(cv, "get_n_splits")):
                raise TypeError(f"{name} must be a splitter with split and get_n_splits (e.g. GaugeKFold, "
                                f"PeriodSplit), got {cv!r}")
        self.gauge_cv = gauge_cv
        self.period_cv = period_cv

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` indices of the units of ``X`` for every pair of splits.

        Parameters
        ----------
        X : ObservationUnits
            The units to split.
        y : UnitDischarge, optional
            Checked to describe the same units as ``X`` when given; otherwise unused.
        groups : None
            Unused (present for scikit-learn compatibility).

        Yields
        ------
        train : ndarray of int
            Indices of the units of a calibration gauge over a calibration period.
        test : ndarray of int
            Indices of the units of a validation gauge over a validation period.
        """
        _check_X(self, X, y)
        gauge_splits = list(self.gauge_cv.split(X, y, groups))
        period_splits = list(self.period_cv.split(X, y, groups))
        for k, ((g_train, g_test), (p_train, p_test)) in enumerate(product(gauge_splits, period_splits)):
            train, test = np.intersect1d(g_train, p_train), np.intersect1d(g_test, p_test)
            if not len(train) or not len(test):
                side = "calibration" if not len(train) else "validation"
                raise ValueError(f"split {k} of {self!r} has no {side} unit in X (no unit of a {side} gauge "
                                 f"over a {side} period)")
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: the product of the two splitters' numbers of splits.

        Parameters
        ----------
        X, y, groups : object
            Passed to both splitters.

        Returns
        -------
        int
        """
        return self.gauge_cv.get_n_splits(X, y, groups) * self.period_cv.get_n_splits(X, y, groups)
