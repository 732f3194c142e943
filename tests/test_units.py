"""The scikit-learn data model (observation units X, unit discharge y) and the unit cost."""
import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import _safe_indexing

import skhydro
from skhydro.cost import UnitCost
from skhydro.metrics import nse, rmse
from skhydro.units import ObservationUnits, UnitDischarge, check_units

N_STEPS, WARMUP = 300, 30


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=N_STEPS,
                                                 initial_states={"hp": 0.5, "ht": 0.3})


@pytest.fixture(scope="module")
def Xy(basin):
    return skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=3, warmup=WARMUP)


@pytest.fixture(scope="module")
def simulated(basin):
    """A gauge discharge ``(ntime, n_mesh_gauges)`` that is not the observed one."""
    q = skhydro.simulate(basin.mesh, basin.forcings, basin.structure, basin.true_parameters,
                         basin.initial_states).discharge.to_numpy()
    return q * np.linspace(0.8, 1.3, q.shape[0])[:, None]


def unit_slice(X, i, q):
    """Simulated series of unit ``i`` from a gauge discharge array, by hand (not through the library)."""
    u = X.units.iloc[i]
    frame = pd.DataFrame(q, index=X.forcings.index, columns=X.mesh.gauge_codes)
    return frame[u["gauge"]].loc[u["start"]:u["end"]]


# ------------------------------------------------------------------------------------- make_units
def test_integer_periods(Xy, basin):
    X, y = Xy
    index = basin.forcings.index
    assert isinstance(X, ObservationUnits) and isinstance(y, UnitDischarge)
    assert len(X) == len(y) == 12 and X.shape == y.shape == (12,)
    assert list(X.units.columns) == ["gauge", "period", "start", "end"]
    assert X.units.groupby("period").size().tolist() == [4, 4, 4]
    assert sorted(set(X.gauges)) == basin.mesh.gauge_codes and sorted(set(X.periods)) == [0, 1, 2]
    bounds = X.units.drop_duplicates("period")
    assert bounds["start"].iloc[0] == index[WARMUP] and bounds["end"].iloc[-1] == index[-1]  # warm-up left out
    # consecutive periods tile the window after the warm-up, without overlap, in about equal thirds
    steps = [index.get_loc(e) - index.get_loc(s) + 1 for s, e in zip(bounds["start"], bounds["end"])]
    assert sum(steps) == N_STEPS - WARMUP and max(steps) - min(steps) <= 1
    for (_, a), (_, b) in zip(bounds.iloc[:-1].iterrows(), bounds.iloc[1:].iterrows()):
        assert index.get_loc(b["start"]) == index.get_loc(a["end"]) + 1
    assert X.mesh is basin.mesh and X.forcings is basin.forcings and y.observed is basin.observed


def test_default_is_one_period_of_every_observed_gauge(basin):
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed)
    assert X.units[["gauge", "period"]].values.tolist() == [[g, 0] for g in basin.mesh.gauge_codes]
    assert (X.units["start"] == basin.forcings.index[0]).all() and (X.units["end"] == basin.forcings.index[-1]).all()
    one = skhydro.make_units(basin.mesh, basin.forcings, basin.observed[["SYN002"]])[0]
    assert one.gauges.tolist() == ["SYN002"]  # only observed gauges


def test_explicit_periods_and_gauges(basin):
    index = basin.forcings.index
    periods = {"wet": (index[50], index[149]), "late": (index[200], index[-1])}
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, gauges=["SYN003", "SYN001"],
                              periods=periods, warmup=50)
    assert X.units[["gauge", "period"]].values.tolist() == [["SYN003", "wet"], ["SYN001", "wet"],
                                                            ["SYN003", "late"], ["SYN001", "late"]]
    assert len(y.series(0)) == 100 and y.series(0).index[0] == index[50]
    pd.testing.assert_series_equal(y.series(1), basin.observed["SYN001"].iloc[50:150].where(lambda s: s >= 0),
                                   check_names=False)
    # a list of (start, end) pairs is labelled 0, 1, ...; one gauge may be given as a string
    X2, _ = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, gauges="SYN004",
                               periods=[(str(index[10]), str(index[19]))])
    assert X2.units[["gauge", "period"]].values.tolist() == [["SYN004", 0]]
    assert X2.step_ranges() == [(basin.mesh.gauge_codes.index("SYN004"), 10, 20)]


def test_missing_observations_are_nan(basin):
    observed = basin.observed.copy()
    observed.iloc[5:8, 0] = -99.0
    X, y = skhydro.make_units(basin.mesh, basin.forcings, observed, gauges=[observed.columns[0]])
    s = y.series(0)
    assert s.iloc[5:8].isna().all() and not s.lt(0).any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(periods=0), "periods"),
    (dict(periods=N_STEPS + 1), "periods"),
    (dict(warmup=-1), "warmup"),
    (dict(warmup=1.5), "warmup"),
    (dict(warmup=N_STEPS), "warm-up"),
    (dict(gauges=["XXX"]), "gauges"),
    (dict(gauges=[]), "no gauge"),
    (dict(periods=[("2019-09-01", "2019-10-02")]), "outside"),
    (dict(periods={"a": ("2019-10-05", "2019-10-03")}), "ends before"),
    (dict(periods=[("2019-10-01 05:00", "2019-10-03")], warmup=10), "warm-up"),
])
def test_make_units_errors(basin, kwargs, match):
    with pytest.raises(ValueError, match=match):
        skhydro.make_units(basin.mesh, basin.forcings, basin.observed, **kwargs)


def test_gauges_the_observations_lack(basin):
    with pytest.raises(ValueError, match="no observed series"):
        skhydro.make_units(basin.mesh, basin.forcings, basin.observed[["SYN001"]], gauges=["SYN001", "SYN002"])
    with pytest.raises(ValueError, match="no gauge"):
        skhydro.make_units(basin.mesh, basin.forcings, basin.observed.rename(columns=lambda c: c + "x"))


def test_unit_table_checks(basin):
    index = basin.forcings.index
    good = pd.DataFrame({"gauge": ["SYN001"], "period": [0], "start": [index[0]], "end": [index[9]]})
    with pytest.raises(ValueError, match="missing"):
        ObservationUnits(basin.mesh, basin.forcings, good.drop(columns="end"))
    with pytest.raises(ValueError, match="ends before"):
        ObservationUnits(basin.mesh, basin.forcings, good.assign(start=index[20]))
    with pytest.raises(ValueError, match="does not have"):
        ObservationUnits(basin.mesh, basin.forcings, good.assign(gauge="XXX"))
    with pytest.raises(ValueError, match="forcing window"):
        ObservationUnits(basin.mesh, basin.forcings, good.assign(end=index[-1] + pd.Timedelta("1h")))
    with pytest.raises(TypeError, match="DataFrame"):
        UnitDischarge(basin.observed.to_numpy(), good)


# --------------------------------------------------------------------------------------- indexing
@pytest.mark.parametrize("key", [[0, 5], np.array([3, 1]), slice(2, 6), 4, np.int64(7), np.arange(12) % 3 == 0,
                                 np.array([], dtype=int), ([1, 2], Ellipsis)])
def test_indexing_selects_units_and_keeps_the_basin(Xy, basin, key):
    X, y = Xy
    sub, suby = X[key], y[key]
    rows = np.arange(12)[key[0] if isinstance(key, tuple) else key]
    expected = X.units.iloc[np.atleast_1d(rows)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub.units, expected)
    pd.testing.assert_frame_equal(suby.units, expected)
    assert len(sub) == len(expected) and sub.shape == (len(expected),)
    assert sub.mesh is basin.mesh and sub.forcings is basin.forcings and suby.observed is basin.observed
    assert sub.descriptors is X.descriptors
    check_units(sub, suby)
    assert len(X) == 12  # the original is left as it was


def test_indexing_errors(Xy):
    X, _ = Xy
    with pytest.raises(IndexError):
        X[np.array([0.5])]
    with pytest.raises(IndexError):
        X[np.ones(5, dtype=bool)]
    with pytest.raises(IndexError):
        X[0, 1]
    with pytest.raises(IndexError):
        X[[12]]


def test_safe_indexing_and_iteration(Xy, basin):
    X, y = Xy
    sub = _safe_indexing(X, np.array([1, 7]))
    assert isinstance(sub, ObservationUnits) and sub.units["gauge"].tolist() == X.gauges[[1, 7]].tolist()
    assert list(sub.units.index) == [0, 1] and sub.mesh is basin.mesh and sub.forcings is basin.forcings
    suby = _safe_indexing(y, [2, 3, 4])
    assert isinstance(suby, UnitDischarge) and len(suby) == 3 and suby.observed is basin.observed
    units = list(X)
    assert len(units) == 12 and all(len(u) == 1 and u.mesh is basin.mesh for u in units)
    assert [u.gauges[0] for u in units] == X.gauges.tolist()


def test_deep_copies(Xy):
    """Deep copies work (indexing, the cheap path, keeps references instead)."""
    X, y = Xy
    X2, y2 = copy.deepcopy(X[[0, 1]]), copy.deepcopy(y)
    pd.testing.assert_frame_equal(X2.units, X.units.iloc[:2])
    pd.testing.assert_frame_equal(y2.units, y.units)
    assert X2.forcings is not X.forcings and np.array_equal(X2.forcings.prcp, X.forcings.prcp)
    assert y2.observed is not y.observed and y2.observed.equals(y.observed)


def test_pickle(Xy):
    # joblib (n_jobs > 1 in cross_validate, GridSearchCV) pickles X
    X, y = Xy
    X2, y2 = pickle.loads(pickle.dumps(X[[0, 1]])), pickle.loads(pickle.dumps(y))
    pd.testing.assert_frame_equal(X2.units, X.units.iloc[:2])
    pd.testing.assert_frame_equal(y2.units, y.units)
    np.testing.assert_array_equal(X2.forcings.active_vectors(X2.mesh)[0], X.forcings.active_vectors(X.mesh)[0])


def test_repr(Xy):
    X, y = Xy
    assert "12 units (4 gauges x 3 periods)" in repr(X) and "12 units" in repr(y)


# ----------------------------------------------------------------------------------- check_units
def test_check_units(Xy):
    X, y = Xy
    check_units(X, y)
    check_units(X, None)
    with pytest.raises(ValueError, match="different units"):
        check_units(X[[0, 1]], y[[0, 2]])
    with pytest.raises(ValueError, match="12 units but y has 1"):
        check_units(X, y[[0]])
    with pytest.raises(TypeError, match="X must be ObservationUnits"):
        check_units(np.zeros((12, 3)), y)
    with pytest.raises(TypeError, match="y must be UnitDischarge"):
        check_units(X, np.zeros(12))


# -------------------------------------------------------------------------------------- UnitCost
@pytest.mark.parametrize("metric", ["nse", "kge", "rmse"])
def test_unit_cost_value_is_the_mean_unit_metric(Xy, simulated, metric):
    X, y = Xy
    fn = {"nse": nse, "kge": skhydro.metrics.kge, "rmse": rmse}[metric]
    per_unit = [fn(y.series(i).to_numpy(), unit_slice(X, i, simulated).to_numpy()) for i in range(len(X))]
    direct = np.mean([1 - m for m in per_unit]) if metric != "rmse" else np.mean(per_unit)
    cost = UnitCost(X, y, metric=metric)
    assert cost.value(simulated) == pytest.approx(direct, rel=1e-12)
    np.testing.assert_allclose(cost.components(simulated),
                               [1 - m for m in per_unit] if metric != "rmse" else per_unit, rtol=1e-12)
    value, _ = cost.value_and_gradient(simulated)
    assert value == pytest.approx(direct, rel=1e-12)


def test_unit_cost_of_a_subset(Xy, simulated):
    X, y = Xy
    idx = [1, 6, 11]
    direct = np.mean([1 - nse(y.series(i).to_numpy(), unit_slice(X, i, simulated).to_numpy()) for i in idx])
    assert UnitCost(X[idx], y[idx]).value(simulated) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("metric", ["nse", "rmse"])
def test_unit_cost_gradient_matches_finite_differences(Xy, simulated, metric):
    X, y = Xy
    cost = UnitCost(X, y, metric=metric)
    _, grad = cost.value_and_gradient(simulated)
    assert grad.shape == simulated.shape
    assert (grad[:WARMUP] == 0).all()  # warm-up steps are in no unit
    missing = np.isnan(basin_observed(X, y))
    assert (grad[missing] == 0).all() and np.abs(grad).sum() > 0
    rng = np.random.default_rng(0)
    valid = np.argwhere(~missing[WARMUP:]) + [WARMUP, 0]
    for t, g in valid[rng.choice(len(valid), 25, replace=False)]:
        h = 1e-6 * max(abs(simulated[t, g]), 1e-3)
        up, down = simulated.copy(), simulated.copy()
        up[t, g] += h
        down[t, g] -= h
        fd = (cost.value(up) - cost.value(down)) / (2 * h)
        assert fd == pytest.approx(grad[t, g], rel=1e-5, abs=1e-10)


def basin_observed(X, y):
    """Observations on the model steps ``(ntime, n_mesh_gauges)``, NaN where missing."""
    obs = y.observed.reindex(index=X.forcings.index, columns=X.mesh.gauge_codes).to_numpy(dtype=float)
    return np.where(obs >= 0, obs, np.nan)


def test_unit_cost_without_observation(basin):
    observed = basin.observed.copy()
    observed.loc[:, "SYN002"] = np.nan
    X, y = skhydro.make_units(basin.mesh, basin.forcings, observed)
    with pytest.raises(ValueError, match="SYN002"):
        UnitCost(X, y)
    observed = basin.observed.copy()
    observed.iloc[WARMUP:, 0] = -99.0  # only the second period of the first gauge lacks observations
    index = observed.index
    X, y = skhydro.make_units(basin.mesh, basin.forcings, observed,
                              periods=[(index[0], index[WARMUP - 1]), (index[WARMUP], index[-1])])
    UnitCost(X[[0]], y[[0]])
    with pytest.raises(ValueError, match=observed.columns[0]):
        UnitCost(X, y)


def test_unit_cost_errors(Xy, simulated):
    X, y = Xy
    with pytest.raises(ValueError, match="metric"):
        UnitCost(X, y, metric="r2")
    with pytest.raises(ValueError, match="no observation unit"):
        UnitCost(X[[]], y[[]])
    with pytest.raises(ValueError, match="shape"):
        UnitCost(X, y).value(simulated[:-1])
