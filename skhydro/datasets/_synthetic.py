"""A small synthetic basin with known "true" parameters, for examples, tests and teaching.

Everything is generated from one seed: a terrain model, its D8 flow directions, nested gauges, moving
storms and a PET climatology, physiographic descriptors, parameter maps obtained from the descriptors by a
fixed non-linear law, and noisy "observed" discharge simulated with those parameters.
"""
import heapq
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from affine import Affine
from scipy.ndimage import gaussian_filter
from sklearn.utils import check_random_state

from ..forcings import Forcings
from ..mesh import Mesh
from ..simulation import simulate
from ..units import make_units

__all__ = ["SyntheticBasin", "make_synthetic_basin"]

_STRUCTURE = "zero-gr4-kw"
_SHAPE = (50, 46)  # rows (north -> south), columns (west -> east)
_CELL = 1000.0  # m
_ORIGIN = (700000.0, 6500000.0)  # x of the west edge, y of the north edge (m, projected, no CRS)

# D8 codes 1..8 (N, NE, E, SE, S, SW, W, NW) and their (drow, dcol)
_D8 = np.array([(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)])
_D8_DIST = np.hypot(_D8[:, 0], _D8[:, 1])


@dataclass(repr=False)
class SyntheticBasin:
    """A synthetic gauged basin with known parameters, returned by :func:`make_synthetic_basin`.

    Attributes
    ----------
    mesh : Mesh
        The basin grid (1 km cells) with nested gauges; the first gauge is the outlet, the others lie
        upstream of it (the main stem, then one tributary).
    forcings : Forcings
        Hourly precipitation (moving storms) and PET (seasonal and diurnal cycles).
    observed : pandas.DataFrame
        "Observed" discharge at the gauges, m³/s (index = ``forcings.index``, columns = gauge codes): the
        discharge simulated with ``true_parameters`` times log-normal noise, with a few gaps (NaN).
    true_discharge : pandas.DataFrame
        The same simulation without noise or gaps.
    descriptors : dict of ndarray
        Physiographic maps ``(nrow, ncol)``, finite on every cell: ``elevation`` (m, before depression
        filling), ``slope`` (degrees, from ``elevation``), ``soil_depth`` (m), ``woodland`` and ``clay``
        (fractions).
    true_parameters : dict of ndarray
        Maps ``(nrow, ncol)`` of ``cp``, ``ct``, ``kexc``, ``akw`` and ``bkw`` made from the descriptors
        (see :func:`make_synthetic_basin`); ``ci`` is left out, so it is adjusted to the forcings as in
        any :func:`~skhydro.simulate` call without ``ci``.
    structure : str
        ``"zero-gr4-kw"``.
    dem : ndarray, (nrow, ncol)
        The depression-filled elevation (m) from which the flow directions were derived.
    initial_states : dict
        The initial states given to :func:`make_synthetic_basin` (empty: registry defaults).
    """

    mesh: Mesh
    forcings: Forcings
    observed: pd.DataFrame
    true_discharge: pd.DataFrame
    descriptors: dict
    true_parameters: dict
    structure: str
    dem: np.ndarray
    initial_states: dict = field(default_factory=dict)

    def __repr__(self):
        return (f"SyntheticBasin(shape={self.mesh.shape}, n_active={self.mesh.n_active}, "
                f"gauges={self.mesh.gauge_codes}, ntime={self.forcings.ntime}, structure={self.structure!r}, "
                f"descriptors={list(self.descriptors)})")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _smooth_field(rng, shape, sigma):
    """Gaussian random field with unit variance and correlation length ``sigma`` (cells)."""
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / f.std()


def _terrain(rng, shape):
    """Elevation (m) of a hilly basin meant to drain to one cell of the southern edge."""
    nrow, ncol = shape
    rows, cols = np.indices(shape, dtype=np.float64)
    out_row, out_col = nrow - 1, int(round(ncol * rng.uniform(0.42, 0.58)))
    # an irregular blob (the basin) centred north of the outlet, plus a neck down to the outlet
    cy, cx = nrow * rng.uniform(0.42, 0.46), out_col + ncol * rng.uniform(-0.05, 0.05)
    theta = np.arctan2(rows - cy, cols - cx)
    wobble = sum(rng.uniform(0.02, 0.06) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4))
    radius = 0.40 * ncol * (1.0 + wobble)
    rho_blob = np.hypot((rows - cy) / 1.05, cols - cx) / radius
    axis = cx + (out_col - cx) * (rows - cy) / (out_row - cy)
    rho_neck = np.where(rows >= cy, np.abs(cols - axis) / 3.0, np.inf)
    rho = np.minimum(rho_blob, rho_neck)
    to_outlet = np.hypot(rows - out_row, cols - out_col)
    # inside: a bowl tilted towards the outlet; outside (rho > 1): slopes falling away from the divide
    bowl = 12.0 * to_outlet + 160.0 * np.minimum(rho, 1.0) ** 2
    outside = 240.0 * np.maximum(rho - 1.0, 0.0)
    # random relief, faded out near the outlet so that the valley bottom leads into it
    taper = 1.0 - np.exp(-(to_outlet / 4.0) ** 2)
    relief = 45.0 * _smooth_field(rng, shape, 2.0) + 15.0 * _smooth_field(rng, shape, 0.8)
    channel = np.where(rows >= cy, 60.0 * np.exp(-((cols - axis) / 1.5) ** 2), 0.0)
    z = 150.0 + bowl - outside - channel + taper * relief
    z[out_row, out_col] = z.min() - 1.0
    return z


def _fill_depressions(z, eps=1e-3):
    """Priority-flood (Barnes et al., 2014) from the grid edges: every cell gets a strictly descending path."""
    nrow, ncol = z.shape
    filled = z.copy()
    done = np.zeros(z.shape, dtype=bool)
    edge = np.zeros(z.shape, dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    heap = [(filled[r, c], r, c) for r, c in zip(*np.nonzero(edge))]
    heapq.heapify(heap)
    done[edge] = True
    while heap:
        h, r, c = heapq.heappop(heap)
        for dr, dc in _D8:
            rr, cc = r + dr, c + dc
            if 0 <= rr < nrow and 0 <= cc < ncol and not done[rr, cc]:
                done[rr, cc] = True
                filled[rr, cc] = max(filled[rr, cc], h + eps)
                heapq.heappush(heap, (filled[rr, cc], rr, cc))
    return filled


def _d8_steepest_descent(z):
    """D8 codes of the steepest downhill neighbour; edge cells drain off the grid, outwards."""
    nrow, ncol = z.shape
    padded = np.pad(z, 1, constant_values=np.inf)
    drops = np.stack([(z - padded[1 + dr:1 + dr + nrow, 1 + dc:1 + dc + ncol]) / d
                      for (dr, dc), d in zip(_D8, _D8_DIST)])
    codes = (np.argmax(drops, axis=0) + 1).astype(np.int32)
    if not (drops.max(axis=0)[1:-1, 1:-1] > 0).all():
        raise RuntimeError("an interior cell has no downhill neighbour after depression filling")
    codes[:, 0], codes[:, -1] = 7, 3  # W, E
    codes[0, :], codes[-1, :] = 1, 5  # N, S (corners too)
    return codes


def _choose_gauges(flwdir, acc):
    """Outlet, two main-stem gauges at about 45 % and 15 % of the outlet's area, and a tributary mouth.

    The outlet is the edge cell draining the most cells (normally the intended one, at the end of the
    southern valley, unless the random relief breached the divide elsewhere).
    """
    nrow, ncol = flwdir.shape
    edge = np.zeros(flwdir.shape, dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    outlet = np.unravel_index(np.argmax(np.where(edge, acc, -1)), flwdir.shape)
    rows, cols = np.indices(flwdir.shape)
    dr, dc = _D8[flwdir - 1, 0], _D8[flwdir - 1, 1]
    rr, cc = rows + dr, cols + dc
    inside = (rr >= 0) & (rr < nrow) & (cc >= 0) & (cc < ncol)
    recv = np.where(inside, rr * ncol + cc, -1).ravel()
    acc = acc.ravel()
    # main stem: from the outlet, always go up the largest inflow
    stem = [outlet[0] * ncol + outlet[1]]
    while True:
        ups = np.flatnonzero(recv == stem[-1])
        if ups.size == 0:
            break
        stem.append(ups[np.argmax(acc[ups])])
    stem = np.array(stem)
    total = acc[stem[0]]
    picks = [stem[0]]
    for share in (0.45, 0.15):
        picks.append(stem[np.argmin(np.abs(acc[stem] - share * total))])
    # tributary: the largest cell off the stem draining into it below the middle gauge (or the upper one)
    on_stem = np.zeros(acc.size, dtype=bool)
    on_stem[stem] = True
    for upper in (picks[1], picks[2]):
        lower_stem = np.zeros(acc.size, dtype=bool)
        lower_stem[stem[:np.flatnonzero(stem == upper)[0]]] = True
        mouths = np.flatnonzero(~on_stem & (recv >= 0) & lower_stem[np.maximum(recv, 0)])
        if mouths.size and acc[mouths].max() >= 0.05 * total:
            picks.append(mouths[np.argmax(acc[mouths])])
            break
    return [dict(code=f"SYN{i + 1:03d}", row=int(k // ncol), col=int(k % ncol),
                 area=float(acc[k]) * _CELL ** 2 / 1e6) for i, k in enumerate(picks)]


def _descriptors(rng, elevation):
    gy, gx = np.gradient(elevation, _CELL)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    s = (slope - slope.mean()) / slope.std()
    soil_depth = 0.2 + 1.8 * _sigmoid(1.2 * _smooth_field(rng, elevation.shape, 4.0) - 0.8 * s)
    woodland = _sigmoid(1.5 * _smooth_field(rng, elevation.shape, 3.0) + 1.0 * s)
    clay = 0.05 + 0.5 * _sigmoid(1.3 * _smooth_field(rng, elevation.shape, 5.0))
    return dict(elevation=elevation, slope=slope, soil_depth=soil_depth, woodland=woodland, clay=clay)


def _true_parameters(d):
    """The fixed non-linear descriptors-to-parameters law (documented in :func:`make_synthetic_basin`)."""
    s, h, w, k = d["slope"], d["soil_depth"], d["woodland"], d["clay"]
    return dict(
        cp=50.0 + 550.0 * _sigmoid(2.5 * (h - 1.0) - 0.8 * (s - 2.0)),
        ct=30.0 + 370.0 * _sigmoid(2.0 * (w - 0.5) - 5.0 * (k - 0.3) + 2.0 * (w - 0.5) * (h - 1.0)),
        kexc=-0.4 + 0.6 * _sigmoid(2.0 * (h - 1.0) - 6.0 * (k - 0.3)),
        akw=1.0 + 14.0 * _sigmoid(-1.2 * (s - 2.0) + 2.0 * (w - 0.5)),
        bkw=0.4 + 0.4 * _sigmoid(0.8 * (s - 2.0) - 4.0 * (k - 0.3)),
    )


def _storms(rng, n_steps, shape):
    """Hourly rainfall (mm/h): intermittent events made of Gaussian rain cells moving across the grid."""
    nrow, ncol = shape
    prcp = np.zeros((n_steps, nrow, ncol))
    rows, cols = np.indices(shape, dtype=np.float64)
    t = 0.0
    while True:
        t += rng.exponential(40.0)  # hours between event starts
        if t >= n_steps:
            break
        duration = rng.uniform(6.0, 36.0)
        heading = rng.normal(0.0, 0.6)  # mostly west -> east
        for _ in range(rng.randint(1, 4)):
            speed = rng.uniform(8.0, 30.0)  # km/h = cells/h
            v_col, v_row = speed * np.cos(heading), speed * np.sin(heading)
            t0 = t + rng.uniform(0.0, 0.3 * duration)
            dur = duration * rng.uniform(0.5, 1.0)
            # start upwind so that the cell crosses the grid centre around the middle of its life
            r0 = nrow * rng.uniform(0.1, 0.9) - v_row * dur / 2
            c0 = ncol / 2 + rng.uniform(-0.3, 0.3) * ncol - v_col * dur / 2
            sigma = rng.uniform(4.0, 12.0)
            peak = rng.gamma(2.0, 4.0)  # mm/h
            steps = np.arange(int(t0), min(int(t0 + dur) + 1, n_steps))
            tau = (steps + 0.5 - t0) / dur
            amp = peak * np.sin(np.pi * np.clip(tau, 0.0, 1.0)) ** 2
            rc = r0 + v_row * (steps - t0)
            cc = c0 + v_col * (steps - t0)
            d2 = (rows[None] - rc[:, None, None]) ** 2 + (cols[None] - cc[:, None, None]) ** 2
            prcp[steps] += amp[:, None, None] * np.exp(-d2 / (2.0 * sigma ** 2))
    prcp[prcp < 0.05] = 0.0
    return np.round(prcp, 2)


def _pet_climatology(elevation):
    """Daily-interannual PET (366, nrow, ncol), mm/day: seasonal cycle, lower on high ground."""
    doy = np.arange(366)
    season = 2.2 + 1.8 * np.sin(2.0 * np.pi * (doy - 100) / 366.0)
    factor = np.clip(1.0 - 0.0006 * (elevation - elevation.min()), 0.5, 1.0)
    return season[:, None, None] * factor[None]


def _temperature(rng, elevation, index):
    """Hourly air temperature (ntime, nrow, ncol), °C: a cold-season level around 5 °C at the lowest
    cell, a diurnal cycle of ±4 °C peaking at 15:00, a smooth weather anomaly of a few degrees lasting
    days, and a lapse rate of 6.5 °C/km."""
    hours = index.hour.to_numpy()
    diurnal = 4.0 * np.sin(2.0 * np.pi * (hours - 9) / 24.0)
    anomaly = gaussian_filter(rng.standard_normal(index.size), 36.0, mode="reflect")
    anomaly *= 3.0 / max(anomaly.std(), 1e-12)
    lapse = -0.0065 * (elevation - elevation.min())
    return 5.0 + (diurnal + anomaly)[:, None, None] + lapse[None]


def make_synthetic_basin(random_state=0, *, n_steps=2000, start="2019-10-01", noise=0.05, initial_states=None,
                         return_X_y=False, periods=2, warmup=None, snow=False):
    """Generate a small synthetic basin whose true parameter maps are known.

    The grid has 50 x 46 cells of 1 km. A hilly terrain (a bowl tilted towards one cell of the southern
    edge, an irregular divide and smooth random relief) is depression-filled and its steepest-descent D8
    directions define the flow network. Four nested gauges are placed: ``SYN001`` at the outlet (the
    edge cell draining the most cells), ``SYN002`` and ``SYN003`` on the main stem at about 45 % and
    15 % of the outlet's drained area and ``SYN004`` at the mouth of the largest tributary joining the
    stem below ``SYN002`` (or ``SYN003``; left out in the unlikely case that no tributary drains 5 % of the
    basin). The active cells are the outlet's upstream area: about 1250 cells, from 700 to 1550 over
    the first 300 seeds. Hourly rain comes from intermittent storms, each made of a few Gaussian rain
    cells travelling across the grid; PET is a daily climatology with a seasonal cycle, spread over the
    day by the usual diurnal weights. Observations are simulated with the true parameters and the
    default initial states (nearly empty stores, so the first weeks wet the basin up), multiplied by
    log-normal noise and given a few gaps.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=0
        Seed of every random draw; the same integer always gives the same basin.
    n_steps : int, default=2000
        Number of hourly time steps (2000 steps = 83 days and 8 hours).
    start : str or datetime-like, default="2019-10-01"
        Start of the simulation period (the first step ends one hour later).
    noise : float, default=0.05
        Standard deviation of the log of the multiplicative observation noise.
    initial_states : dict, optional
        Initial states of the simulation that makes the observations (scalars or maps by name); default
        the registry's nearly empty stores, which take about 800 steps to wet up. ``{"hp": 0.5,
        "ht": 0.3}`` gives runoff from the first storms (short series for tests and teaching).
    return_X_y : bool, default=False
        Return ``(X, y)`` for the estimators instead: observation units of every gauge over ``periods``
        periods after a warm-up (:func:`skhydro.make_units`, descriptors included).
    periods : int or list, default=2
        Periods of the units when ``return_X_y`` (see :func:`skhydro.make_units`).
    warmup : int, optional
        Warm-up steps before the first period when ``return_X_y``; default ``n_steps // 5`` (the basin
        starts nearly dry).
    snow : bool, default=False
        Add a temperature field (cold-season level, diurnal cycle, weather anomalies, lapse rate) and split
        the precipitation into rain and snow by temperature (``Forcings(prcp_partitioning=True)``); the
        observations then come from the structure ``"ssn-gr4-kw"`` with a true melt factor ``kmlt``.

    Returns
    -------
    SyntheticBasin or (ObservationUnits, UnitDischarge)
        With ``mesh``, ``forcings``, ``observed``, ``true_discharge``, ``descriptors``,
        ``true_parameters``, ``structure`` (``"zero-gr4-kw"``, or ``"ssn-gr4-kw"`` with ``snow``) and
        ``dem``; or ``X, y``.

    Notes
    -----
    With ``s`` the slope (degrees), ``h`` the soil depth (m), ``w`` the woodland fraction, ``k`` the
    clay fraction and ``σ(x) = 1 / (1 + exp(-x))``, the true parameters are

    * ``cp = 50 + 550 σ(2.5 (h - 1) - 0.8 (s - 2))`` (mm),
    * ``ct = 30 + 370 σ(2 (w - 0.5) - 5 (k - 0.3) + 2 (w - 0.5)(h - 1))`` (mm),
    * ``kexc = -0.4 + 0.6 σ(2 (h - 1) - 6 (k - 0.3))`` (mm/h),
    * ``akw = 1 + 14 σ(-1.2 (s - 2) + 2 (w - 0.5))``,
    * ``bkw = 0.4 + 0.4 σ(0.8 (s - 2) - 4 (k - 0.3))``,
    * with ``snow``: ``kmlt = 0.3 + 0.9 σ(3 (0.5 - w))`` (mm/°C/h; woodland shades the snowpack).

    The descriptor ``elevation`` plays no part in the law. ``ci`` is not a true parameter: it is adjusted
    to the forcings (:func:`skhydro.adjust_interception`), as :func:`skhydro.simulate` does when no ``ci``
    is given. Initial states are the registry defaults.

    Examples
    --------
    >>> from skhydro.datasets import make_synthetic_basin
    >>> basin = make_synthetic_basin(random_state=0)
    >>> basin.mesh.gauge_codes
    ['SYN001', 'SYN002', 'SYN003', 'SYN004']
    >>> basin.observed.shape
    (2000, 4)
    >>> sorted(basin.true_parameters)
    ['akw', 'bkw', 'cp', 'ct', 'kexc']
    >>> X, y = make_synthetic_basin(random_state=0, return_X_y=True)
    >>> len(X), X.units["period"].nunique()
    (8, 2)
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")

    rng = check_random_state(random_state)
    elevation = _terrain(rng, _SHAPE)
    dem = _fill_depressions(elevation)
    flwdir = _d8_steepest_descent(dem)
    transform = Affine(_CELL, 0.0, _ORIGIN[0], 0.0, -_CELL, _ORIGIN[1])
    whole = Mesh.from_flow_directions(flwdir, transform=transform)
    gauges = _choose_gauges(flwdir, whole.flow_accumulation_cells)
    mesh = Mesh.from_flow_directions(flwdir, gauges=gauges, transform=transform)

    descriptors = _descriptors(rng, elevation)
    true_parameters = _true_parameters(descriptors)

    prcp = _storms(rng, int(n_steps), _SHAPE)
    structure = _STRUCTURE
    if snow:
        structure = "ssn" + _STRUCTURE[4:]
        true_parameters["kmlt"] = 0.3 + 0.9 * _sigmoid(3.0 * (0.5 - descriptors["woodland"]))
        stamps = pd.date_range(pd.Timestamp(start) + pd.Timedelta(hours=1), periods=int(n_steps), freq="h")
        forcings = Forcings(prcp, _pet_climatology(elevation), dt=3600, start=start, daily_interannual_pet=True,
                            temp=_temperature(rng, elevation, stamps), prcp_partitioning=True)
    else:
        forcings = Forcings(prcp, _pet_climatology(elevation), dt=3600, start=start, daily_interannual_pet=True)

    q = simulate(mesh, forcings, structure, parameters=true_parameters, states=initial_states).discharge
    values = q.to_numpy() * np.exp(noise * rng.standard_normal(q.shape) - noise ** 2 / 2)
    longest = max(1, min(120, n_steps // 20))
    for j in range(values.shape[1]):  # two to four gaps per gauge, each up to 5 % of the period or 5 days
        for _ in range(rng.randint(2, 5)):
            length = rng.randint(max(1, longest // 4), longest + 1)
            t0 = rng.randint(0, n_steps - length + 1)
            values[t0:t0 + length, j] = np.nan
    observed = pd.DataFrame(values, index=q.index, columns=q.columns)
    if return_X_y:
        return make_units(mesh, forcings, observed, descriptors, periods=periods,
                          warmup=n_steps // 5 if warmup is None else warmup)
    return SyntheticBasin(mesh=mesh, forcings=forcings, observed=observed, true_discharge=q,
                          descriptors=descriptors, true_parameters=true_parameters, structure=structure,
                          dem=dem, initial_states=dict(initial_states or {}))
