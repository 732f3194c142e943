"""Multi-gauge discharge cost and its gradient with respect to simulated discharge (spec §4).

The cost of a simulation is ``J = Σ_g ω_g j_g`` over the selected gauges, where ``j_g`` is the
cost component of gauge ``g``: ``1 - m`` for an efficiency ``m`` (nse, nnse, kge) and ``m`` itself
for an error metric (mae, mape, mse, rmse, lgrm), so that 0 is perfect. With a quantile weighting
(``"median"``, ``"lquartile"``, ``"uquartile"``), ``J`` is instead the NumPy "linear" quantile of
the ``j_g``. Time steps of the warm-up period and missing observations (NaN or negative, e.g. -99)
are left out; :meth:`DischargeCost.value_and_gradient` gives the adjoint source ``∂J/∂Q_sim``
(spec §4.6), zero wherever a simulated value does not enter the cost.
"""
import numbers

import numpy as np
import pandas as pd

from .metrics import METRICS

__all__ = ["DischargeCost", "UnitCost", "GAUGE_WEIGHT_ALIASES"]

#: Gauge weighting aliases -> quantile level (None: arithmetic mean, weight 1/N per gauge).
GAUGE_WEIGHT_ALIASES = {"mean": None, "uniform": None, "lquartile": 0.25, "median": 0.5, "uquartile": 0.75}


def _align_observed(observed, index, gauge_codes):
    """Observations as a float64 array ``(len(index), len(gauge_codes))``, NaN where missing."""
    shape = (len(index), len(gauge_codes))
    if isinstance(observed, pd.DataFrame):
        columns = [str(c) for c in observed.columns]
        unknown = [c for c in columns if c not in gauge_codes]
        if unknown:
            raise ValueError(f"observed has column(s) {unknown} that are not gauge codes of the mesh "
                             f"{list(gauge_codes)}")
        if len(set(columns)) != len(columns):
            raise ValueError(f"observed has duplicated columns: {columns}")
        try:
            obs_index = pd.DatetimeIndex(observed.index)
        except (TypeError, ValueError) as err:
            raise ValueError(f"the index of observed must hold timestamps: {err}") from None
        if obs_index.has_duplicates:
            raise ValueError("the index of observed has duplicated timestamps")
        if not obs_index.isin(index).any():
            raise ValueError(f"no timestamp of observed ({obs_index.min()} .. {obs_index.max()}) falls on "
                             f"a model step end ({index[0]} .. {index[-1]})")
        frame = pd.DataFrame(observed.to_numpy(dtype=np.float64), index=obs_index, columns=columns)
        x = np.array(frame.reindex(index=index, columns=list(gauge_codes)), dtype=np.float64)
    else:
        x = np.array(observed, dtype=np.float64)
        if x.shape != shape:
            raise ValueError(f"observed array must have shape (len(index), len(gauge_codes)) = {shape}, "
                             f"got {x.shape}")
    if np.isinf(x).any():
        raise ValueError("observed contains infinite values")
    x[x < 0] = np.nan  # the -99 convention (any negative value) and NaN both mean "missing"
    return x


def _select_gauges(gauges, available, gauge_codes):
    """Selected gauge codes, in the given order (mesh order when ``gauges`` is None)."""
    if gauges is None:
        return [c for c in gauge_codes if c in available]
    selected = [str(gauges)] if isinstance(gauges, str) else [str(g) for g in gauges]
    unknown = [g for g in selected if g not in gauge_codes]
    if unknown:
        raise ValueError(f"unknown gauge code(s) {unknown}; the mesh gauges are {list(gauge_codes)}")
    if len(set(selected)) != len(selected):
        raise ValueError(f"gauges are selected more than once: {selected}")
    if not selected:
        raise ValueError("no gauge selected")
    return selected


def _warmup_steps(warmup, index):
    """Number of leading steps left out: an int, or the steps whose end stamp is <= ``warmup``."""
    n = len(index)
    if warmup is None:
        return 0
    if isinstance(warmup, numbers.Integral) and not isinstance(warmup, bool):
        if not 0 <= warmup <= n:
            raise ValueError(f"warmup must be between 0 and the number of steps {n}, got {warmup}")
        return int(warmup)
    if not isinstance(warmup, (str, pd.Timestamp, np.datetime64)) and not hasattr(warmup, "year"):
        raise ValueError(f"warmup must be None, a number of steps or a timestamp, got {warmup!r}")
    end = pd.Timestamp(warmup)
    # the simulation starts one step before the first step end (spec §4.2: end_warmup in [start, end])
    step = index.freq if index.freq is not None else (index[1] - index[0] if n > 1 else pd.Timedelta(0))
    if not index[0] - step <= end <= index[-1]:
        raise ValueError(f"end of warm-up {end} is outside the simulation [{index[0] - step}, {index[-1]}]")
    return int((index <= end).sum())


def _gauge_weights(weights, gauges):
    """``(ω, q)``: explicit per-gauge weights, or the quantile level ``q`` (then ``ω`` is None)."""
    if isinstance(weights, str):
        key = weights.lower()
        if key not in GAUGE_WEIGHT_ALIASES:
            raise ValueError(f"unknown gauge weighting {weights!r}; use one of {list(GAUGE_WEIGHT_ALIASES)} "
                             "or explicit weights")
        q = GAUGE_WEIGHT_ALIASES[key]
        return (np.full(len(gauges), 1.0 / len(gauges)), None) if q is None else (None, q)
    if isinstance(weights, dict):
        given = {str(k): v for k, v in weights.items()}
        if set(given) != set(gauges):
            raise ValueError(f"weights must have one entry per selected gauge {gauges}, got keys {list(given)}")
        weights = [given[g] for g in gauges]
    try:
        w = np.array(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be an alias, a sequence or a dict of numbers, got {weights!r}") from None
    if w.shape != (len(gauges),):
        raise ValueError(f"weights must hold one value per selected gauge ({len(gauges)}), got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights must be finite and non-negative, got {w.tolist()}")
    return w, None


def _quantile_weights(j, q):
    """Weights ``ω`` with ``ω·j`` = linear quantile of ``j``: (1-f) and f on the bracketing values."""
    pos = (j.size - 1) * q
    lo = int(np.floor(pos))
    hi = min(lo + 1, j.size - 1)
    f = pos - lo
    order = np.argsort(j, kind="stable")
    w = np.zeros(j.size)
    w[order[lo]] += 1.0 - f
    w[order[hi]] += f
    return w


class DischargeCost:
    """Discharge cost of a simulation at one or several gauges, and its gradient.

    Parameters
    ----------
    observed : DataFrame or ndarray
        Observed discharge. A DataFrame has timestamps as rows and gauge codes as columns; it is
        reindexed on ``index`` (missing stamps are missing observations; at least one stamp must
        fall on ``index``). An ndarray has shape ``(len(index), len(gauge_codes))``, columns in
        ``gauge_codes`` order. NaN and negative values (-99) are missing observations.
    index : pandas.DatetimeIndex
        Step-end stamps of the simulation (``Forcings.index``).
    gauge_codes : sequence of str
        Gauge codes of the mesh, in the order of the columns of ``simulated``.
    metric : str, default "nse"
        One of ``skhydro.metrics.METRICS``; the component is ``1 - m`` for nse, nnse and kge and
        ``m`` for mae, mape, mse, rmse and lgrm.
    gauges : None, str or sequence of str, default None
        Gauges entering the cost; None means every column of ``observed``.
    weights : str, sequence of float or dict, default "mean"
        ``"mean"``/``"uniform"`` (1/N each); ``"median"``, ``"lquartile"``, ``"uquartile"``
        (``J`` = linear quantile 0.5/0.25/0.75 of the gauge components); or non-negative weights,
        one per selected gauge (a sequence in ``gauges`` order or a dict code -> weight), used as
        given.
    warmup : None, int or timestamp-like, default None
        Leading steps left out of the cost: their number, or the end of the warm-up period (steps
        whose end stamp is ``<= warmup`` are left out).

    Attributes
    ----------
    gauges : list of str
        Selected gauge codes.
    metric : str
    warmup : int
        Number of leading steps left out.
    weights : ndarray or None
        Per-gauge weights; None with a quantile weighting.
    quantile : float or None
        Quantile level of a quantile weighting.

    Raises
    ------
    ValueError
        Unknown metric, gauge or weighting alias; invalid weights or warm-up; ``observed`` columns
        that are not gauge codes or with no overlap with ``index``; a selected gauge without valid
        observation after warm-up.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skhydro import DischargeCost
    >>> index = pd.date_range("2020-01-01 01:00", periods=4, freq="h")
    >>> obs = pd.DataFrame({"A": [1.0, 2.0, 3.0, 4.0], "B": [2.0, 2.0, -99.0, 4.0]}, index=index)
    >>> cost = DischargeCost(obs, index, ["A", "B"], metric="mse")
    >>> sim = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 0.0], [6.0, 5.0]])
    >>> cost.value(sim)  # (mse_A + mse_B) / 2 = (4/4 + 1/3) / 2
    0.6666666666...
    >>> j, grad = cost.value_and_gradient(sim)
    >>> grad[:, 0]
    array([0.  , 0.  , 0.  , 0.5])
    """

    def __init__(self, observed, index, gauge_codes, metric="nse", gauges=None, weights="mean", warmup=None):
        if not isinstance(metric, str) or metric.lower() not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
        self.metric = metric.lower()  # names are case-insensitive (spec §4.1)
        self._value_fn, self._gradient_fn, self._efficiency = METRICS[self.metric]

        self.index = pd.DatetimeIndex(index)
        if len(self.index) == 0:
            raise ValueError("index has no time step")
        self.gauge_codes = [str(c) for c in gauge_codes]
        if len(set(self.gauge_codes)) != len(self.gauge_codes):
            raise ValueError(f"gauge_codes has duplicates: {self.gauge_codes}")

        x = _align_observed(observed, self.index, self.gauge_codes)
        available = ([str(c) for c in observed.columns] if isinstance(observed, pd.DataFrame)
                     else self.gauge_codes)
        self.gauges = _select_gauges(gauges, available, self.gauge_codes)
        self._columns = np.array([self.gauge_codes.index(g) for g in self.gauges])
        self.warmup = _warmup_steps(warmup, self.index)

        # only the cost window of the selected gauges is kept: it is all the metrics see
        self._x = x[self.warmup:, self._columns]
        empty = [g for g, n in zip(self.gauges, (~np.isnan(self._x)).sum(axis=0)) if n == 0]
        if empty:
            raise ValueError(f"no valid observation after warm-up for gauge(s) {empty}")
        self.weights, self.quantile = _gauge_weights(weights, self.gauges)

    def _window(self, simulated):
        y = np.asarray(simulated, dtype=np.float64)
        shape = (len(self.index), len(self.gauge_codes))
        if y.shape != shape:
            raise ValueError(f"simulated must have shape (len(index), len(gauge_codes)) = {shape}, got {y.shape}")
        return y[self.warmup:, self._columns]

    def _components(self, y):
        m = self._value_fn(self._x, y)
        return 1.0 - m if self._efficiency else m

    def _aggregate(self, j):
        """Cost and the per-gauge weights ``∂J/∂j_g``."""
        if self.quantile is None:
            return float(self.weights @ j), self.weights
        return float(np.quantile(j, self.quantile)), _quantile_weights(j, self.quantile)

    def value(self, simulated):
        """Cost ``J`` of a simulation.

        Parameters
        ----------
        simulated : ndarray, (len(index), len(gauge_codes))
            Simulated discharge at every mesh gauge (mesh order).

        Returns
        -------
        float
        """
        return self._aggregate(self._components(self._window(simulated)))[0]

    def value_and_gradient(self, simulated):
        """Cost ``J`` and its gradient with respect to ``simulated`` (the adjoint source).

        Parameters
        ----------
        simulated : ndarray, (len(index), len(gauge_codes))
            Simulated discharge at every mesh gauge (mesh order).

        Returns
        -------
        value : float
        gradient : ndarray, (len(index), len(gauge_codes))
            ``∂J/∂simulated``; zero for unselected gauges, warm-up steps and missing observations.
        """
        y = self._window(simulated)
        j = self._components(y)
        value, w = self._aggregate(j)
        dm = self._gradient_fn(self._x, y)
        dj = -dm if self._efficiency else dm
        grad = np.zeros((len(self.index), len(self.gauge_codes)))
        grad[self.warmup:, self._columns] = dj * w
        return value, grad


class UnitCost:
    """Mean cost over observation units (one gauge over one period each), and its gradient.

    ``J = (1/N) Σ_u j_u`` where ``j_u`` is the cost component of ``metric`` (``1 - m`` for nse, nnse, kge;
    ``m`` for the errors) on the unit's gauge and period. This is the cost the estimators minimise: the
    model simulates the whole window and the units of ``X`` choose the observations.

    Parameters
    ----------
    X : ObservationUnits
    y : UnitDischarge
    metric : str, default "nse"

    Raises
    ------
    ValueError
        Unknown metric, no unit, or a unit without any valid observation.
    """

    def __init__(self, X, y, metric="nse"):
        if not isinstance(metric, str) or metric.lower() not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
        self.metric = metric.lower()
        self._value_fn, self._gradient_fn, self._efficiency = METRICS[self.metric]
        if len(X) == 0:
            raise ValueError("no observation unit to evaluate")
        self.shape = (X.forcings.ntime, len(X.mesh.gauge_codes))
        obs = _align_observed(y.observed[sorted(set(X.gauges), key=list(X.gauges).index)], X.forcings.index,
                              X.mesh.gauge_codes)
        self._units = []
        for (col, t0, t1), code in zip(X.step_ranges(), X.gauges):
            x = obs[t0:t1, col]
            if not np.isfinite(x).any():
                raise ValueError(f"unit on gauge {code} has no valid observation in its period")
            self._units.append((col, t0, t1, x))

    def _unit_value(self, x, y):
        m = self._value_fn(x, y)
        return 1.0 - m if self._efficiency else m

    def components(self, simulated):
        """Cost component ``j_u`` of every unit."""
        simulated = self._check(simulated)
        return np.array([self._unit_value(x, simulated[t0:t1, col]) for col, t0, t1, x in self._units])

    def _check(self, simulated):
        simulated = np.asarray(simulated, dtype=np.float64)
        if simulated.shape != self.shape:
            raise ValueError(f"simulated must have shape {self.shape}, got {simulated.shape}")
        return simulated

    def value(self, simulated):
        """Mean unit cost of a simulation ``(ntime, n_mesh_gauges)``."""
        return float(self.components(simulated).mean())

    def value_and_gradient(self, simulated):
        """Mean unit cost and its gradient with respect to ``simulated`` (same shape)."""
        simulated = self._check(simulated)
        grad = np.zeros(self.shape)
        total, n = 0.0, len(self._units)
        for col, t0, t1, x in self._units:
            y = simulated[t0:t1, col]
            total += self._unit_value(x, y)
            dm = self._gradient_fn(x, y)
            grad[t0:t1, col] += (-dm if self._efficiency else dm) / n
        return total / n, grad
