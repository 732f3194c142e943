"""Atmospheric forcings on the grid: precipitation, potential evapotranspiration and, for the snow
operators, snowfall and temperature."""
import weakref

import numpy as np
import pandas as pd

__all__ = ["Forcings", "disaggregate_daily_interannual_pet", "partition_precipitation", "MISSING"]

#: The reference's code for a missing value; NaN is accepted too.
MISSING = -99.0

# Hourly share of the daily PET, for the step *ending* at hour h (spec §2.3).
_HOURLY_PET_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0.035, 0.062, 0.079, 0.097, 0.110, 0.117, 0.117, 0.110, 0.097, 0.079, 0.062,
     0.035, 0, 0, 0, 0, 0], dtype=np.float32).astype(np.float64)


def _check_field(name, values, shape=None, *, signed=False):
    """Validate a (ntime, nrow, ncol) forcing: NaN and -99 are missing, anything else must be >= 0 (any
    finite value when ``signed``, e.g. a temperature, whose missing values are those <= -99)."""
    arr = np.asarray(values)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be a (ntime, nrow, ncol) array, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} like the other forcings, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    # our own read-only copy: results cached from it can never go stale
    arr = np.array(arr, dtype=np.float64)
    arr.flags.writeable = False
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values")
    bad = (arr < 0) & (arr != MISSING) & (not signed)
    if bad.any():
        t, r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} has negative values (e.g. {arr[t, r, c]} at step {t}, cell ({r}, {c})); only "
                         f"NaN or {MISSING:g} mark missing values")
    return arr


def partition_precipitation(prcp, snow, temp):
    """Split the total precipitation into rain and snow by temperature (spec §2.4).

    The liquid fraction is ``1 - 1 / (1 + exp(2.5 T - 1))`` (1 where the temperature is missing); the
    total is the precipitation plus the snowfall where the latter is not missing.

    Parameters
    ----------
    prcp, snow, temp : ndarray, (ntime, nrow, ncol)
        Precipitation and snowfall (mm per step, -99 or NaN missing; ``snow`` may be None) and
        temperature (°C, NaN or <= -99 missing).

    Returns
    -------
    rain, snowfall : ndarray
        The liquid and solid parts, mm per step; where the total is missing the rain keeps the
        precipitation's missing code and the snowfall is -99.

    Examples
    --------
    >>> import numpy as np
    >>> rain, snowfall = partition_precipitation(np.full((1, 1, 3), 10.0), None, np.array([[[-5.0, 0.4, 20.0]]]))
    >>> rain.ravel().round(2).tolist(), snowfall.ravel().round(2).tolist()
    ([0.0, 5.0, 10.0], [10.0, 5.0, 0.0])
    """
    prcp = np.where(np.isnan(prcp), MISSING, prcp)
    total = prcp.copy()
    if snow is not None:
        snow = np.where(np.isnan(snow), MISSING, snow)
        total += np.where(snow >= 0, snow, 0.0)
    t = np.where(np.isnan(temp), MISSING, temp)
    with np.errstate(over="ignore"):
        liquid = np.where(t > MISSING, 1.0 - 1.0 / (1.0 + np.exp(2.5 * t - 1.0)), 1.0)
    valid = total >= 0
    snowfall = np.where(valid, (1.0 - liquid) * total, MISSING)
    rain = np.where(valid, total - snowfall, prcp)
    return rain, snowfall


def _step_weights(dt):
    """Weights of the steps of one day (spec §2.3)."""
    if dt <= 3600:
        m = 3600 // dt
        if 3600 % dt:
            raise ValueError("daily-interannual PET needs dt dividing 3600 s or a multiple of 3600 s")
        return np.repeat(_HOURLY_PET_WEIGHTS, m) / m
    if dt % 3600 or 86400 % dt:
        raise ValueError("daily-interannual PET needs dt dividing 3600 s, or a multiple of 3600 s dividing a day")
    return _HOURLY_PET_WEIGHTS.reshape(-1, dt // 3600).sum(axis=1)


def disaggregate_daily_interannual_pet(daily_pet, index, dt):
    """Spread a daily-interannual PET climatology over the steps of a simulation.

    Parameters
    ----------
    daily_pet : array-like, (366, nrow, ncol)
        PET in mm/day for each day of a leap year (row 0 = 1 January, row 59 = 29 February). NaN or
        -99 marks a missing day.
    index : pandas.DatetimeIndex
        End stamps of the steps.
    dt : int
        Step length in seconds.

    Returns
    -------
    ndarray, (ntime, nrow, ncol)
        PET per step, mm/dt; -99 where the day is missing.

    Notes
    -----
    As in the reference, days are looked up by their day-of-year in a leap year, so from 1 March of a
    non-leap year each date uses the previous calendar day's value; within a day the step ending at hour
    h receives the weight R[h] of a fixed diurnal cycle (zero at night).
    """
    daily = np.asarray(daily_pet, dtype=np.float64)
    if daily.ndim != 3 or daily.shape[0] != 366:
        raise ValueError(f"daily_pet must be a (366, nrow, ncol) array, got shape {daily.shape}")
    daily = np.where(np.isnan(daily), MISSING, daily)
    if np.isinf(daily).any() or ((daily < 0) & (daily != MISSING)).any():
        raise ValueError("daily_pet must be finite and non-negative (NaN or -99 for a missing day)")
    weights = _step_weights(int(dt))
    seconds = (index - index.normalize()).total_seconds().to_numpy().astype(np.int64)
    w = weights[(seconds // int(dt)) % weights.size]
    day = index.day_of_year.to_numpy() - 1
    pet = daily[day] * w[:, None, None]
    pet[daily[day] < 0] = MISSING
    return pet


class Forcings:
    """Precipitation and potential evapotranspiration on the grid.

    Parameters
    ----------
    prcp : array-like, (ntime, nrow, ncol)
        Precipitation, mm per step. NaN or -99 marks a missing value.
    pet : array-like
        Potential evapotranspiration, mm per step, (ntime, nrow, ncol); or, with
        ``daily_interannual_pet=True``, a (366, nrow, ncol) climatology in mm/day (see
        :func:`disaggregate_daily_interannual_pet`).
    dt : int
        Step length in seconds.
    start : str or datetime-like
        Start of the simulation; step t (0-based) covers ``(start + t*dt, start + (t+1)*dt]`` and is stamped
        at its end.
    daily_interannual_pet : bool, default=False
    snow : array-like, (ntime, nrow, ncol), optional
        Snowfall (solid precipitation), mm per step; NaN or -99 marks a missing value. Used by the snow
        operators (``ssn``); without it and without ``prcp_partitioning`` no snow falls.
    temp : array-like, (ntime, nrow, ncol), optional
        Air temperature, °C; NaN or values <= -99 are missing. Required by the snow operators.
    prcp_partitioning : bool, default=False
        Split the total precipitation (``prcp`` plus ``snow``) into rain and snow by temperature with
        :func:`partition_precipitation`; ``prcp`` and ``snow`` then hold the two parts.

    Attributes
    ----------
    prcp, pet : ndarray, (ntime, nrow, ncol), float64
        Read-only copies of the inputs, missing values kept as given (NaN or -99).
    snow, temp : ndarray or None
        Read-only copies of the snowfall and temperature, when given.
    index : pandas.DatetimeIndex
        End stamp of every step.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro import Forcings
    >>> f = Forcings(prcp=np.zeros((48, 2, 2)), pet=np.full((48, 2, 2), 0.1), dt=3600, start="2020-01-01")
    >>> f.index[0], f.ntime
    (Timestamp('2020-01-01 01:00:00'), 48)
    """

    def __init__(self, prcp, pet, dt, start, *, daily_interannual_pet=False, snow=None, temp=None,
                 prcp_partitioning=False):
        if isinstance(dt, bool) or not isinstance(dt, (int, np.integer, float, np.floating)) \
                or (isinstance(dt, (float, np.floating)) and not np.isfinite(dt)) or dt <= 0 \
                or float(dt) != int(dt):
            raise ValueError(f"dt must be a positive whole number of seconds, got {dt!r}")
        self.dt = int(dt)
        self.prcp = _check_field("prcp", prcp)
        ntime = self.prcp.shape[0]
        if ntime == 0:
            raise ValueError("prcp has no time step")
        self.start = pd.Timestamp(start)
        self.index = pd.date_range(self.start + pd.Timedelta(seconds=self.dt), periods=ntime,
                                   freq=pd.Timedelta(seconds=self.dt), name="time")
        if daily_interannual_pet:
            pet = disaggregate_daily_interannual_pet(pet, self.index, self.dt)
            if pet.shape[1:] != self.prcp.shape[1:]:
                raise ValueError(f"pet must cover the grid {self.prcp.shape[1:]}, got {pet.shape[1:]}")
        self.pet = _check_field("pet", pet, self.prcp.shape)
        self.snow = None if snow is None else _check_field("snow", snow, self.prcp.shape)
        self.temp = None if temp is None else _check_field("temp", temp, self.prcp.shape, signed=True)
        if prcp_partitioning:
            if self.temp is None:
                raise ValueError("prcp_partitioning needs the temperature (temp=...)")
            rain, snowfall = partition_precipitation(self.prcp, self.snow, self.temp)
            self.prcp = _check_field("prcp", rain)
            self.snow = _check_field("snow", snowfall)
        self._vectors = weakref.WeakKeyDictionary()

    def __getstate__(self):
        # the per-mesh cache holds weak references, which do not pickle (parallel cross-validation
        # pickles X and with it the forcings); it is rebuilt on first use
        state = self.__dict__.copy()
        del state["_vectors"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._vectors = weakref.WeakKeyDictionary()

    @property
    def ntime(self):
        """Number of time steps."""
        return self.prcp.shape[0]

    @property
    def shape(self):
        """Grid shape ``(nrow, ncol)``."""
        return self.prcp.shape[1:]

    def active_vectors(self, mesh):
        """Forcings of the active cells in routing order, ``(ntime, n_active)`` each, missing as -99.

        Computed once per mesh and cached (read-only): the kernels read forcings step by step from
        contiguous vectors.
        """
        if self.shape != mesh.shape:
            raise ValueError(f"forcings are on a {self.shape} grid but the mesh is {mesh.shape}")
        return self._active("prcp", mesh), self._active("pet", mesh)

    def snow_vectors(self, mesh):
        """Snowfall and temperature of the active cells, as :meth:`active_vectors` (a missing snowfall
        field reads as no snow); ValueError without temperature."""
        if self.temp is None:
            raise ValueError("these forcings have no temperature; the snow operators need Forcings(temp=...)")
        return self._active("snow", mesh), self._active("temp", mesh)

    def _active(self, name, mesh):
        if self.shape != mesh.shape:
            raise ValueError(f"forcings are on a {self.shape} grid but the mesh is {mesh.shape}")
        cached = self._vectors.setdefault(mesh, {})
        if name not in cached:
            arr = getattr(self, name)
            if arr is None:  # no snowfall given
                v = np.zeros((self.ntime, mesh.n_active))
            else:
                v = np.ascontiguousarray(mesh.to_vector(arr))
                v[np.isnan(v)] = MISSING
            v.flags.writeable = False
            cached[name] = v
        return cached[name]

    def __repr__(self):
        return (f"Forcings(ntime={self.ntime}, shape={self.shape}, dt={self.dt}, "
                f"start='{self.start}', end='{self.index[-1]}')")
