"""The scikit-learn data model: observation units of a basin.

A model always simulates the whole basin over the whole forcing window. What scikit-learn sees as
*samples* are **observation units**: one gauge over one period. ``X`` (:class:`ObservationUnits`) holds
the basin (mesh, forcings, descriptors) by reference and a table of units; ``y``
(:class:`UnitDischarge`) holds the observed discharge, also by reference, and the same table. Indexing
either (``X[[0, 2]]``, ``sklearn.utils._safe_indexing``) selects units and never copies the basin, so
``cross_validate``, ``GridSearchCV`` and ``clone`` work unchanged and cheaply: units only choose which
observations enter a cost or a score.
"""
import numbers

import numpy as np
import pandas as pd

__all__ = ["ObservationUnits", "UnitDischarge", "make_units"]

_UNIT_COLUMNS = ["gauge", "period", "start", "end"]


def _select(units, key):
    """Rows of the unit table for an int, slice, mask, index array or ``(key, ...)`` (numpy style)."""
    if isinstance(key, tuple):
        if len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        else:
            raise IndexError("units are indexed along one axis only")
    if isinstance(key, numbers.Integral):
        key = [key]
    if isinstance(key, slice):
        return units.iloc[key]
    key = np.asarray(key)
    if key.dtype == bool:
        if key.shape != (len(units),):
            raise IndexError(f"boolean index of length {key.shape} for {len(units)} units")
        return units.iloc[np.flatnonzero(key)]
    if key.size and not np.issubdtype(key.dtype, np.integer):
        raise IndexError(f"units are indexed by position (integers or a boolean mask), got {key.dtype}")
    return units.iloc[key.astype(np.intp)]


class _Units:
    """Shared behaviour: a unit table, its length, numpy-style indexing."""

    def __init__(self, units):
        units = pd.DataFrame(units)
        missing = [c for c in _UNIT_COLUMNS if c not in units.columns]
        if missing:
            raise ValueError(f"the unit table needs the columns {_UNIT_COLUMNS}; missing {missing}")
        units = units[_UNIT_COLUMNS].reset_index(drop=True)
        units["gauge"] = units["gauge"].astype(str)
        units["start"] = pd.to_datetime(units["start"])
        units["end"] = pd.to_datetime(units["end"])
        if (units["end"] < units["start"]).any():
            raise ValueError("a unit ends before it starts")
        self.units = units

    def __len__(self):
        return len(self.units)

    @property
    def shape(self):
        """``(n_units,)``: lets scikit-learn count and index the samples."""
        return (len(self.units),)

    def _subset(self, key):
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.units = _select(self.units, key).reset_index(drop=True)
        return out

    def __getitem__(self, key):
        return self._subset(key)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def gauges(self):
        """Gauge code of each unit."""
        return self.units["gauge"].to_numpy()

    @property
    def periods(self):
        """Period label of each unit."""
        return self.units["period"].to_numpy()

    def _repr_units(self):
        g = self.units["gauge"].nunique()
        p = self.units["period"].nunique()
        return f"{len(self)} units ({g} gauges x {p} periods)"


class ObservationUnits(_Units):
    """``X``: observation units (one gauge over one period) of a basin, basin held by reference.

    Parameters
    ----------
    mesh : Mesh
    forcings : Forcings
    units : pandas.DataFrame
        One row per unit with columns ``gauge`` (code), ``period`` (label), ``start`` and ``end`` (first
        and last step-end stamps of the unit, inclusive).
    descriptors : dict of ndarray, optional
        Physiographic maps ``(nrow, ncol)`` by name (for regionalisation).

    Attributes
    ----------
    units : pandas.DataFrame
        The unit table.
    shape : tuple
        ``(n_units,)``.

    See Also
    --------
    make_units : build ``X`` and ``y`` from a basin and observed discharge.
    """

    def __init__(self, mesh, forcings, units, descriptors=None):
        super().__init__(units)
        self.mesh = mesh
        self.forcings = forcings
        self.descriptors = descriptors
        unknown = sorted(set(self.units["gauge"]) - set(mesh.gauge_codes))
        if unknown:
            raise ValueError(f"units refer to gauges {unknown} that the mesh does not have")
        index = forcings.index
        if len(self.units) and (self.units["start"].min() < index[0] or self.units["end"].max() > index[-1]):
            raise ValueError(f"units must lie within the forcing window [{index[0]}, {index[-1]}]")

    def step_ranges(self):
        """``(gauge column in the mesh, first step, last step + 1)`` of every unit."""
        index = self.forcings.index
        column = {code: i for i, code in enumerate(self.mesh.gauge_codes)}
        first = index.searchsorted(self.units["start"].to_numpy(), side="left")
        last = index.searchsorted(self.units["end"].to_numpy(), side="right")
        return [(column[g], int(a), int(b)) for g, a, b in zip(self.units["gauge"], first, last)]

    def same_basin(self, other):
        """True when ``other`` holds the very same mesh and forcings objects."""
        return self.mesh is other.mesh and self.forcings is other.forcings

    def __repr__(self):
        return f"ObservationUnits({self._repr_units()}, mesh {self.mesh.shape}, {self.forcings.ntime} steps)"


class UnitDischarge(_Units):
    """``y``: observed discharge for observation units, the observations held by reference.

    Parameters
    ----------
    observed : pandas.DataFrame
        Observed discharge (m³/s), rows = step end stamps, columns = gauge codes; NaN or negative values
        are missing.
    units : pandas.DataFrame
        The unit table (as in :class:`ObservationUnits`).

    Attributes
    ----------
    observed : pandas.DataFrame
    units : pandas.DataFrame
    """

    def __init__(self, observed, units):
        super().__init__(units)
        if not isinstance(observed, pd.DataFrame):
            raise TypeError("observed must be a pandas DataFrame (time x gauge code)")
        self.observed = observed
        missing = sorted(set(self.units["gauge"]) - set(map(str, observed.columns)))
        if missing:
            raise ValueError(f"no observed series for gauges {missing}")

    def series(self, i):
        """Observed discharge of unit ``i`` (a Series over the unit's period; missing values as NaN)."""
        u = self.units.iloc[i]
        col = self.observed.columns[list(map(str, self.observed.columns)).index(u["gauge"])]
        s = self.observed[col].loc[u["start"]:u["end"]].astype(float)
        return s.where(s >= 0)

    def __repr__(self):
        return f"UnitDischarge({self._repr_units()})"


def check_units(X, y):
    """Raise a clear error unless ``X`` and ``y`` describe the same units."""
    if not isinstance(X, ObservationUnits):
        raise TypeError(f"X must be ObservationUnits (see skhydro.make_units), got {type(X).__name__}")
    if y is None:
        return
    if not isinstance(y, UnitDischarge):
        raise TypeError(f"y must be UnitDischarge (see skhydro.make_units), got {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} units but y has {len(y)}")
    if not X.units.equals(y.units):
        raise ValueError("X and y describe different units (gauges or periods differ)")


def _periods_table(index, periods, warmup):
    """Period labels and [start, end] stamps from the ``periods`` argument of :func:`make_units`."""
    usable = index[warmup:]
    if len(usable) == 0:
        raise ValueError(f"warm-up of {warmup} steps leaves no step out of {len(index)}")
    if periods is None:
        periods = 1
    if isinstance(periods, numbers.Integral):
        if not 1 <= periods <= len(usable):
            raise ValueError(f"periods must be between 1 and {len(usable)}, got {periods}")
        bounds = np.linspace(0, len(usable), int(periods) + 1).round().astype(int)
        return [(k, usable[a], usable[b - 1]) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    out = []
    items = periods.items() if isinstance(periods, dict) else enumerate(periods)
    for label, (start, end) in items:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        if end < start:
            raise ValueError(f"period {label!r} ends before it starts")
        if start < usable[0] or end > usable[-1]:
            raise ValueError(f"period {label!r} [{start}, {end}] is outside [{usable[0]}, {usable[-1]}] "
                             "(the forcing window after the warm-up)")
        out.append((label, start, end))
    return out


def make_units(mesh, forcings, observed, descriptors=None, *, gauges=None, periods=None, warmup=0):
    """Build ``X, y`` for the estimators: one unit per gauge and period.

    Parameters
    ----------
    mesh : Mesh
    forcings : Forcings
    observed : pandas.DataFrame
        Observed discharge, rows = step end stamps (``forcings.index``), columns = gauge codes.
    descriptors : dict of ndarray, optional
        Physiographic maps by name.
    gauges : list of str, optional
        Gauges to make units of; default every observed gauge of the mesh.
    periods : int, list or dict, optional
        ``n`` consecutive periods of equal length after the warm-up (default 1), or explicit
        ``(start, end)`` pairs (a dict gives their labels).
    warmup : int, default=0
        Leading steps that belong to no period (the model still simulates them).

    Returns
    -------
    X : ObservationUnits
    y : UnitDischarge

    Examples
    --------
    >>> import skhydro
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=2, warmup=100)
    >>> len(X), list(X.units.columns)
    (8, ['gauge', 'period', 'start', 'end'])
    >>> X[[0, 1]].mesh is basin.mesh
    True
    """
    if not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative number of steps, got {warmup!r}")
    codes = [str(c) for c in observed.columns]
    if gauges is None:
        gauges = [g for g in mesh.gauge_codes if g in codes]
    else:
        gauges = [gauges] if isinstance(gauges, str) else [str(g) for g in gauges]
    if not gauges:
        raise ValueError("no gauge to make units of: observed has none of the mesh's gauge codes")
    rows = [dict(gauge=g, period=label, start=start, end=end)
            for label, start, end in _periods_table(forcings.index, periods, int(warmup)) for g in gauges]
    units = pd.DataFrame(rows, columns=_UNIT_COLUMNS)
    return ObservationUnits(mesh, forcings, units, descriptors), UnitDischarge(observed, units)
