"""Efficiency and error metrics of simulated against observed discharge (spec §4.4, §4.6).

Every metric takes ``observed`` and ``simulated`` of the same shape: 1-D arrays (one series), 2-D
arrays (time x gauge) or pandas DataFrames (time x gauge). Time steps where the observation is
missing (NaN or negative, e.g. the -99 convention) are left out of the sums; ``n`` is the number of
steps kept, statistics are population ones (1/n). A metric returns a float for 1-D input, an
ndarray of one value per column for a 2-D array and a :class:`pandas.Series` indexed by column for a
DataFrame.

Each metric ``m`` has a companion ``m_gradient`` returning the exact derivative of the metric value
(not of the cost ``1 - m`` used for efficiencies) with respect to every simulated value, with the
shape of the input (a DataFrame for DataFrame input) and zeros at missing observations.
:data:`METRICS` maps each name to ``(value_fn, gradient_fn, greater_is_better)``.
"""
from collections import namedtuple

import numpy as np

__all__ = [
    "METRICS",
    "nse", "nse_gradient", "nnse", "nnse_gradient", "kge", "kge_gradient",
    "mae", "mae_gradient", "mape", "mape_gradient", "mse", "mse_gradient",
    "rmse", "rmse_gradient", "lgrm", "lgrm_gradient",
]

_Prepared = namedtuple("_Prepared", "x y valid n kind index columns")


def _is_frame(a):
    return hasattr(a, "columns") and hasattr(a, "index") and getattr(a, "ndim", 0) == 2


def _prepare(observed, simulated):
    frame = observed if _is_frame(observed) else simulated if _is_frame(simulated) else None
    x = np.asarray(observed, dtype=float)
    y = np.asarray(simulated, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"observed and simulated must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim not in (1, 2):
        raise ValueError(f"observed and simulated must be 1-D or 2-D (time x gauge), got {x.ndim}-D")
    kind = "1d" if x.ndim == 1 else ("frame" if frame is not None else "2d")
    if x.ndim == 1:
        x, y = x[:, None], y[:, None]
    if x.shape[0] == 0:
        raise ValueError("observed and simulated have no time step")
    valid = ~np.isnan(x) & (x >= 0)
    if np.isinf(x[valid]).any():
        raise ValueError("observed contains infinite values")
    n = valid.sum(axis=0)
    if (n == 0).any():
        bad = np.flatnonzero(n == 0).tolist()
        where = "the series" if kind == "1d" else f"column(s) {bad}"
        raise ValueError(f"no valid (non-negative, non-NaN) observation in {where}")
    if not np.isfinite(y[valid]).all():
        raise ValueError("simulated contains non-finite values where observations are valid")
    x = np.where(valid, x, 0.0)
    y = np.where(valid, y, 0.0)
    index = frame.index if frame is not None else None
    columns = frame.columns if frame is not None else None
    return _Prepared(x, y, valid, n, kind, index, columns)


def _value(p, v):
    if p.kind == "1d":
        return float(v[0])
    if p.kind == "frame":
        import pandas as pd

        return pd.Series(v, index=p.columns)
    return v


def _grad(p, g):
    g = np.where(p.valid, g, 0.0)
    if p.kind == "1d":
        return g[:, 0]
    if p.kind == "frame":
        import pandas as pd

        return pd.DataFrame(g, index=p.index, columns=p.columns)
    return g


def _mean(p, a):
    return np.where(p.valid, a, 0.0).sum(axis=0) / p.n


# --------------------------------------------------------------------------------------------- NSE
def _nse_parts(p):
    xm = _mean(p, p.x)
    d = np.where(p.valid, (p.x - xm) ** 2, 0.0).sum(axis=0)
    s = np.where(p.valid, (p.x - p.y) ** 2, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - s / d, d


def nse(observed, simulated):
    """Nash-Sutcliffe efficiency ``1 - Σ(x-y)² / Σ(x-x̄)²`` (higher is better, 1 is perfect).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)
        Observed ``x`` and simulated ``y`` series; steps with NaN or negative ``x`` are ignored.

    Returns
    -------
    float, ndarray or Series
        One value per series.

    Examples
    --------
    >>> from skhydro.metrics import nse
    >>> nse([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> nse([1.0, 2.0, 3.0, -99.0], [2.0, 2.0, 2.0, 5.0])
    0.0
    """
    p = _prepare(observed, simulated)
    return _value(p, _nse_parts(p)[0])


def nse_gradient(observed, simulated):
    """Derivative of :func:`nse` with respect to ``simulated``: ``-2(y_t - x_t) / Σ(x-x̄)²``.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame
        Same shape as the input, zero at missing observations.

    Examples
    --------
    >>> from skhydro.metrics import nse_gradient
    >>> nse_gradient([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    array([-1.,  0.,  1.])
    """
    p = _prepare(observed, simulated)
    d = _nse_parts(p)[1]
    return _grad(p, 2.0 * (p.x - p.y) / d)


def nnse(observed, simulated):
    """Normalised Nash-Sutcliffe efficiency ``1 / (2 - NSE)`` in (0, 1] (higher is better).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import nnse
    >>> nnse([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    0.5
    """
    p = _prepare(observed, simulated)
    return _value(p, 1.0 / (2.0 - _nse_parts(p)[0]))


def nnse_gradient(observed, simulated):
    """Derivative of :func:`nnse`: ``-2(y_t - x_t) / (Σ(x-x̄)² (2 - NSE)²)``.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import nnse_gradient
    >>> nnse_gradient([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    array([-0.25,  0.  ,  0.25])
    """
    p = _prepare(observed, simulated)
    e, d = _nse_parts(p)
    return _grad(p, 2.0 * (p.x - p.y) / (d * (2.0 - e) ** 2))


# --------------------------------------------------------------------------------------------- KGE
def _kge_parts(p):
    xm, ym = _mean(p, p.x), _mean(p, p.y)
    dx, dy = np.where(p.valid, p.x - xm, 0.0), np.where(p.valid, p.y - ym, 0.0)
    sx = np.sqrt((dx ** 2).sum(axis=0) / p.n)
    sy = np.sqrt((dy ** 2).sum(axis=0) / p.n)
    cov = (dx * dy).sum(axis=0) / p.n
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / (sx * sy)
        a = sy / sx
        b = ym / xm
    e = np.sqrt((r - 1) ** 2 + (a - 1) ** 2 + (b - 1) ** 2)
    return e, r, a, b, xm, dx, dy, sx, sy


def kge(observed, simulated):
    """Kling-Gupta efficiency ``1 - √((r-1)² + (α-1)² + (β-1)²)`` (higher is better, 1 is perfect).

    ``r`` is the correlation of ``x`` and ``y``, ``α = σ_y/σ_x`` and ``β = ȳ/x̄`` (population
    statistics over the valid steps).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import kge
    >>> kge([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> kge([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])  # r = 1, α = β = 2
    -0.414213562373...
    """
    p = _prepare(observed, simulated)
    return _value(p, 1.0 - _kge_parts(p)[0])


def kge_gradient(observed, simulated):
    """Derivative of :func:`kge`: ``-[(r-1)∂r + (α-1)∂α + (β-1)∂β] / E`` (spec §4.6).

    At a perfect simulation (``E = 0``) the KGE is not differentiable; zeros are returned there.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import kge_gradient
    >>> kge_gradient([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    array([0., 0., 0.])
    """
    p = _prepare(observed, simulated)
    e, r, a, b, xm, dx, dy, sx, sy = _kge_parts(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        dr = dx / (p.n * sx * sy) - r * dy / (p.n * sy ** 2)
        da = dy / (p.n * sx * sy)
        db = 1.0 / (p.n * xm)
        g = -((r - 1) * dr + (a - 1) * da + (b - 1) * db) / e
    return _grad(p, np.where(e == 0, 0.0, g))


# ------------------------------------------------------------------------------------------ errors
def mae(observed, simulated):
    """Mean absolute error ``Σ|x-y| / n`` (lower is better).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import mae
    >>> mae([1.0, 2.0, float("nan")], [2.0, 4.0, 10.0])
    1.5
    """
    p = _prepare(observed, simulated)
    return _value(p, _mean(p, np.abs(p.x - p.y)))


def mae_gradient(observed, simulated):
    """Derivative of :func:`mae`: ``sign(y_t - x_t) / n`` (0 where ``y_t = x_t``).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import mae_gradient
    >>> mae_gradient([1.0, 2.0], [2.0, 1.0])
    array([ 0.5, -0.5])
    """
    p = _prepare(observed, simulated)
    return _grad(p, np.sign(p.y - p.x) / p.n)


def mape(observed, simulated):
    """Mean absolute percentage error ``Σ|(x-y)/x| / n`` as a fraction (lower is better).

    A valid observation equal to 0 makes the value infinite.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import mape
    >>> mape([1.0, 2.0], [1.5, 1.0])
    0.5
    """
    p = _prepare(observed, simulated)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _value(p, _mean(p, np.abs((p.x - p.y) / p.x)))


def mape_gradient(observed, simulated):
    """Derivative of :func:`mape`: ``sign(y_t - x_t) / (n |x_t|)``.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import mape_gradient
    >>> mape_gradient([1.0, 2.0], [1.5, 1.0])
    array([ 0.5 , -0.25])
    """
    p = _prepare(observed, simulated)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _grad(p, np.sign(p.y - p.x) / (p.n * np.abs(p.x)))


def mse(observed, simulated):
    """Mean squared error ``Σ(x-y)² / n`` (lower is better).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import mse
    >>> mse([1.0, 2.0, -99.0], [2.0, 4.0, 0.0])
    2.5
    """
    p = _prepare(observed, simulated)
    return _value(p, _mean(p, (p.x - p.y) ** 2))


def mse_gradient(observed, simulated):
    """Derivative of :func:`mse`: ``2(y_t - x_t) / n``.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import mse_gradient
    >>> mse_gradient([1.0, 2.0, -99.0], [2.0, 4.0, 0.0])
    array([1., 2., 0.])
    """
    p = _prepare(observed, simulated)
    return _grad(p, 2.0 * (p.y - p.x) / p.n)


def rmse(observed, simulated):
    """Root mean squared error ``√MSE`` (lower is better).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> from skhydro.metrics import rmse
    >>> rmse([1.0, 2.0], [4.0, 6.0])
    3.5355339059...
    """
    p = _prepare(observed, simulated)
    return _value(p, np.sqrt(_mean(p, (p.x - p.y) ** 2)))


def rmse_gradient(observed, simulated):
    """Derivative of :func:`rmse`: ``(y_t - x_t) / (n RMSE)`` (zeros when RMSE = 0).

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> from skhydro.metrics import rmse_gradient
    >>> rmse_gradient([0.0, 0.0], [3.0, 4.0])  # RMSE = √12.5
    array([0.424..., 0.565...])
    """
    p = _prepare(observed, simulated)
    r = np.sqrt(_mean(p, (p.x - p.y) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (p.y - p.x) / (p.n * r)
    return _grad(p, np.where(r == 0, 0.0, g))


def _lgrm_mask(p):
    return p.valid & (p.x > 0) & (p.y > 0)


def lgrm(observed, simulated):
    """Log-ratio error ``Σ x ln(y/x)²`` over steps with ``x > 0`` and ``y > 0`` (lower is better).

    A sum, not normalised by ``n`` (spec §4.4); steps with ``y <= 0`` are also left out.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.metrics import lgrm
    >>> lgrm([1.0, 2.0, 0.0], [np.e, 2.0, 5.0])
    1.0
    """
    p = _prepare(observed, simulated)
    m = _lgrm_mask(p)
    xs, ys = np.where(m, p.x, 1.0), np.where(m, p.y, 1.0)
    return _value(p, np.where(m, xs * np.log(ys / xs) ** 2, 0.0).sum(axis=0))


def lgrm_gradient(observed, simulated):
    """Derivative of :func:`lgrm`: ``2 x_t ln(y_t/x_t) / y_t`` where ``x_t, y_t > 0``, else 0.

    Parameters
    ----------
    observed, simulated : array_like or DataFrame, (n_time,) or (n_time, n_gauge)

    Returns
    -------
    ndarray or DataFrame

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.metrics import lgrm_gradient
    >>> lgrm_gradient([1.0, 2.0, 0.0], [np.e, 2.0, 5.0])
    array([0.73575888, 0.        , 0.        ])
    """
    p = _prepare(observed, simulated)
    m = _lgrm_mask(p)
    xs, ys = np.where(m, p.x, 1.0), np.where(m, p.y, 1.0)
    return _grad(p, np.where(m, 2.0 * xs * np.log(ys / xs) / ys, 0.0))


#: name -> (value function, gradient function, greater_is_better)
METRICS = {
    "nse": (nse, nse_gradient, True),
    "nnse": (nnse, nnse_gradient, True),
    "kge": (kge, kge_gradient, True),
    "mae": (mae, mae_gradient, False),
    "mape": (mape, mape_gradient, False),
    "mse": (mse, mse_gradient, False),
    "rmse": (rmse, rmse_gradient, False),
    "lgrm": (lgrm, lgrm_gradient, False),
}
