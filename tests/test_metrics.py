"""Efficiency / error metrics and their derivatives (spec §4.4, §4.6)."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skhydro.metrics as sm
from skhydro.metrics import METRICS

NAMES = sorted(METRICS)


def test_registry():
    assert set(METRICS) == {"nse", "nnse", "kge", "mae", "mape", "mse", "rmse", "lgrm"}
    assert {k for k, (_, _, gib) in METRICS.items() if gib} == {"nse", "nnse", "kge"}


@pytest.mark.parametrize("name", NAMES)
def test_perfect_simulation(name):
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    expected = {"nse": 1.0, "nnse": 1.0, "kge": 1.0}.get(name, 0.0)
    assert METRICS[name][0](x, x) == pytest.approx(expected, abs=1e-12)


def test_hand_computed_values():
    x = np.array([1.0, 2.0, 3.0, 6.0])  # mean 3, Σ(x-x̄)² = 14
    y = np.array([2.0, 2.0, 4.0, 4.0])
    assert sm.nse(x, np.full(4, 3.0)) == pytest.approx(0.0)
    assert sm.nse(x, y) == pytest.approx(1 - 6 / 14)
    assert sm.nnse(x, y) == pytest.approx(1 / (1 + 6 / 14))
    assert sm.mae(x, y) == pytest.approx(4 / 4)
    assert sm.mape(x, y) == pytest.approx((1 + 0 + 1 / 3 + 1 / 3) / 4)
    assert sm.mse(x, y) == pytest.approx(6 / 4)
    assert sm.rmse(x, y) == pytest.approx(np.sqrt(1.5))
    assert sm.lgrm(x, y) == pytest.approx(np.log(2) ** 2 + 3 * np.log(4 / 3) ** 2 + 6 * np.log(4 / 6) ** 2)
    # KGE from its components
    r = np.corrcoef(x, y)[0, 1]
    a, b = y.std() / x.std(), y.mean() / x.mean()
    assert sm.kge(x, y) == pytest.approx(1 - np.sqrt((r - 1) ** 2 + (a - 1) ** 2 + (b - 1) ** 2))
    assert sm.kge(x, 2 * x) == pytest.approx(1 - np.sqrt(2))


def test_lgrm_own_mask_and_not_normalised():
    assert sm.lgrm([0.0, 1.0, 1.0], [5.0, 0.0, np.e]) == pytest.approx(1.0)
    assert sm.lgrm([1.0, 1.0], [np.e, np.e]) == pytest.approx(2.0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("missing", [np.nan, -99.0, -1.0])
def test_missing_observations_ignored(name, missing):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 5.0, 20)
    y = rng.uniform(0.5, 5.0, 20)
    drop = np.zeros(20, bool)
    drop[[0, 4, 5, 13]] = True
    xm = x.copy()
    xm[drop] = missing
    ym = y.copy()
    ym[drop] = rng.uniform(-1e3, 1e3, drop.sum())  # arbitrary simulated values at missing steps
    ym[0] = np.nan  # even non-finite ones
    f, g, _ = METRICS[name]
    assert f(xm, ym) == pytest.approx(f(x[~drop], y[~drop]), rel=1e-12)
    grad = g(xm, ym)
    assert np.all(grad[drop] == 0)
    np.testing.assert_allclose(grad[~drop], g(x[~drop], y[~drop]), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_dataframe_and_2d(name):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 5.0, (30, 3))
    y = rng.uniform(0.5, 5.0, (30, 3))
    x[[2, 7], 1] = -99.0
    x[11, 2] = np.nan
    f, g, _ = METRICS[name]
    expected = np.array([f(x[:, j], y[:, j]) for j in range(3)])
    a = f(x, y)
    assert isinstance(a, np.ndarray) and a.shape == (3,)
    np.testing.assert_allclose(a, expected, rtol=1e-12)
    idx = pd.date_range("2020-01-01", periods=30, freq="h")
    xdf = pd.DataFrame(x, index=idx, columns=["A", "B", "C"])
    ydf = pd.DataFrame(y, index=idx, columns=["A", "B", "C"])
    s = f(xdf, ydf)
    assert isinstance(s, pd.Series) and list(s.index) == ["A", "B", "C"]
    np.testing.assert_allclose(s.to_numpy(), expected, rtol=1e-12)
    gd = g(xdf, ydf)
    assert isinstance(gd, pd.DataFrame) and gd.index.equals(idx) and list(gd.columns) == ["A", "B", "C"]
    np.testing.assert_allclose(gd.to_numpy(), g(x, y), rtol=1e-12)
    for j in range(3):
        np.testing.assert_allclose(g(x, y)[:, j], g(x[:, j], y[:, j]), rtol=1e-12)


def _finite_difference(f, x, y, h_rel=1e-6):
    fd = np.zeros_like(y)
    for t in range(y.size):
        h = h_rel * max(abs(y[t]), 1.0)
        yp, ym = y.copy(), y.copy()
        yp[t] += h
        ym[t] -= h
        fd[t] = (f(x, yp) - f(x, ym)) / (2 * h)
    return fd


def _check_gradient(name, x, y):
    f, g, _ = METRICS[name]
    grad = g(x, y)
    fd = _finite_difference(f, x, y)
    scale = np.max(np.abs(fd))
    assert scale > 0
    assert np.max(np.abs(grad - fd)) <= 1e-6 * scale, (grad, fd)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_finite_differences(name, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 10.0, 25)
    y = x * rng.uniform(0.5, 1.5, 25) + rng.normal(0, 0.3, 25)
    y = np.abs(y) + 0.1
    x[[3, 9]] = -99.0
    x[17] = np.nan
    _check_gradient(name, x, y)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**32 - 1), n=st.integers(3, 40))
def test_gradient_finite_differences_hypothesis(name, seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 10.0, n)
    y = rng.uniform(0.5, 10.0, n)
    # keep the non-smooth metrics away from their kinks (y = x)
    close = np.abs(y - x) < 1e-3
    y[close] += 0.01
    _check_gradient(name, x, y)


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        sm.nse([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        sm.mse(np.ones((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="no valid"):
        sm.kge([-99.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"column\(s\) \[1\]"):
        sm.nse(np.array([[1.0, -99.0], [2.0, -99.0]]), np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        sm.rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="non-finite"):
        sm.mae_gradient([1.0, 2.0], [np.inf, 1.0])
    # non-finite simulated values at missing observations are fine
    assert sm.mae([1.0, -99.0], [2.0, np.nan]) == 1.0
