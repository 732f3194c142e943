"""Observation units (the X/y data model), unit cost, splitters and scorers."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.utils import _safe_indexing

import skhydro
from skhydro.cost import UnitCost
from skhydro.estimators._base import unit_series
from skhydro.metrics import nse
from skhydro.model_selection import SCORERS, GaugeKFold, GaugeSplit, PeriodSplit, SpatioTemporalSplit, get_scorer
from skhydro.units import check_units


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states={"hp": 0.5, "ht": 0.3})


@pytest.fixture(scope="module")
def Xy(basin):
    return skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=3, warmup=30)


# ------------------------------------------------------------------------------------------ data model
def test_units_table(Xy, basin):
    X, y = Xy
    assert len(X) == len(y) == 12 and X.shape == (12,)
    assert X.units.groupby("period").size().tolist() == [4, 4, 4]
    assert X.units["start"].min() == basin.forcings.index[30]
    assert X.units["end"].max() == basin.forcings.index[-1]
    ends = X.units.drop_duplicates("period")
    assert (ends["start"].iloc[1:].to_numpy() > ends["end"].iloc[:-1].to_numpy()).all()  # no overlap


@pytest.mark.parametrize("key", [[0, 5], np.array([3, 1]), slice(2, 6), 4, np.arange(12) % 3 == 0])
def test_indexing_keeps_the_basin(Xy, basin, key):
    X, y = Xy
    sub, suby = X[key], y[key]
    assert sub.mesh is basin.mesh and sub.forcings is basin.forcings and suby.observed is basin.observed
    expected = X.units.iloc[np.arange(12)[key] if not isinstance(key, int) else [key]].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub.units, expected)
    check_units(sub, suby)


def test_safe_indexing(Xy):
    X, y = Xy
    sub = _safe_indexing(X, np.array([1, 7]))
    assert list(sub.units.index) == [0, 1] and sub.mesh is X.mesh
    assert len(_safe_indexing(y, [2, 3, 4])) == 3


def test_explicit_periods_and_gauges(basin):
    index = basin.forcings.index
    periods = {"wet": (index[50], index[149]), "late": (index[200], index[-1])}
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, gauges=["SYN003", "SYN001"],
                              periods=periods, warmup=50)
    assert X.units[["gauge", "period"]].values.tolist() == [["SYN003", "wet"], ["SYN001", "wet"],
                                                            ["SYN003", "late"], ["SYN001", "late"]]
    assert len(y.series(0)) == 100


@pytest.mark.parametrize("kwargs, match", [
    (dict(periods=0), "periods"),
    (dict(warmup=-1), "warmup"),
    (dict(warmup=300), "warm-up"),
    (dict(gauges=["XXX"]), "gauges"),
    (dict(periods=[("2019-09-01", "2019-10-02")]), "outside"),
])
def test_make_units_errors(basin, kwargs, match):
    with pytest.raises(ValueError, match=match):
        skhydro.make_units(basin.mesh, basin.forcings, basin.observed, **kwargs)


def test_mismatched_units(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="different units"):
        check_units(X[[0, 1]], y[[0, 2]])
    with pytest.raises(ValueError, match="units"):
        check_units(X, y[[0]])
    with pytest.raises(IndexError):
        X[np.array([0.5])]


# --------------------------------------------------------------------------------------------- cost
def test_unit_cost_value_and_gradient(Xy, basin):
    X, y = Xy
    cost = UnitCost(X, y)
    sim = skhydro.simulate(basin.mesh, basin.forcings, "zero-gr4-kw", basin.true_parameters,
                           {"hp": 0.5, "ht": 0.3}).discharge.to_numpy() * 1.1
    direct = np.mean([1 - nse(y.series(i).to_numpy(), s.to_numpy()) for i, s in enumerate(unit_series(X, sim))])
    value, grad = cost.value_and_gradient(sim)
    assert value == pytest.approx(direct, rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        t, g = rng.integers(sim.shape[0]), rng.integers(sim.shape[1])
        h = 1e-6 * max(sim[t, g], 1e-3)
        up, down = sim.copy(), sim.copy()
        up[t, g] += h
        down[t, g] -= h
        fd = (cost.value(up) - cost.value(down)) / (2 * h)
        assert fd == pytest.approx(grad[t, g], rel=1e-5, abs=1e-9)
    assert (grad[:30] == 0).all()  # warm-up


def test_unit_cost_without_observation(basin):
    observed = basin.observed.copy()
    observed.loc[:, "SYN002"] = np.nan
    X, y = skhydro.make_units(basin.mesh, basin.forcings, observed)
    with pytest.raises(ValueError, match="SYN002"):
        UnitCost(X, y)


# ---------------------------------------------------------------------------------------- splitters
def check_split(cv, X, n):
    folds = list(cv.split(X))
    assert len(folds) == cv.get_n_splits(X) == n
    for train, test in folds:
        assert len(np.intersect1d(train, test)) == 0 and len(train) and len(test)
    return folds


def test_gauge_kfold(Xy):
    X, _ = Xy
    folds = check_split(GaugeKFold(4), X, 4)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(X)))
    for train, test in folds:
        assert not set(X.gauges[train]) & set(X.gauges[test])
    shuffled = [set(X.gauges[t]) for _, t in GaugeKFold(2, shuffle=True, random_state=3).split(X)]
    assert shuffled == [set(X.gauges[t]) for _, t in GaugeKFold(2, shuffle=True, random_state=3).split(X)]
    with pytest.raises(ValueError, match="folds"):
        list(GaugeKFold(5).split(X))


def test_gauge_split(Xy):
    X, _ = Xy
    (train, test), = check_split(GaugeSplit(["SYN002", "SYN003"], ["SYN001"]), X, 1)
    assert set(X.gauges[train]) == {"SYN002", "SYN003"} and set(X.gauges[test]) == {"SYN001"}
    check_split(GaugeSplit([(["SYN002"], ["SYN001"]), (["SYN001"], ["SYN004"])]), X, 2)
    with pytest.raises(ValueError, match="both"):
        list(GaugeSplit(["SYN001"], ["SYN001"]).split(X))
    with pytest.raises(ValueError, match="no unit"):
        list(GaugeSplit(["SYN001"], ["XXX"]).split(X))


def test_period_split(Xy):
    X, _ = Xy
    (train, test), = check_split(PeriodSplit([0], [2]), X, 1)
    assert set(X.periods[train]) == {0} and set(X.periods[test]) == {2}
    folds = check_split(PeriodSplit(n_splits=2), X, 2)
    assert [(sorted(set(X.periods[a].tolist())), sorted(set(X.periods[b].tolist()))) for a, b in folds] == \
        [([0], [1]), ([0, 1], [2])]
    (train, test), = check_split(PeriodSplit(n_splits=1, gap=1), X, 1)
    assert set(X.periods[train]) == {0} and set(X.periods[test]) == {2}  # period 1: warm-up gap
    for cv, match in [(PeriodSplit(n_splits=3, gap=1), "at least"), (PeriodSplit([0]), "both"),
                      (PeriodSplit([0], [0]), "both sides"), (PeriodSplit(), "n_splits"),
                      (PeriodSplit([0], [9]), "no unit")]:
        with pytest.raises(ValueError, match=match):
            list(cv.split(X))


def test_spatio_temporal_split(Xy):
    X, _ = Xy
    cv = SpatioTemporalSplit(GaugeKFold(2), PeriodSplit(n_splits=2))
    for train, test in check_split(cv, X, 4):
        assert not set(X.gauges[train]) & set(X.gauges[test])
        assert max(X.periods[train]) < min(X.periods[test])


def test_splitters_need_units():
    with pytest.raises(TypeError, match="ObservationUnits"):
        list(GaugeKFold(2).split(np.zeros((4, 2))))


# ------------------------------------------------------------------------ scorers and sklearn tools
class Scaled(BaseEstimator):
    """Predicts ``scale`` times a reference discharge (the noise-free synthetic truth)."""

    def __init__(self, reference=None, scale=1.0):
        self.reference = reference
        self.scale = scale

    def fit(self, X, y):
        self.basin_ = (X.mesh, X.forcings)
        return self

    def predict(self, X):
        return unit_series(X, self.scale * self.reference.to_numpy())

    def score(self, X, y):
        return SCORERS["nse"](self, X, y)


def test_scorers_in_cross_validate_and_grid_search(Xy, basin):
    X, y = Xy
    model = Scaled(basin.true_discharge)
    result = cross_validate(model, X, y, cv=GaugeKFold(2), scoring=["nse", "kge", "neg_rmse"],
                            return_estimator=True)
    assert (result["test_nse"] > 0.7).all() and (result["test_neg_rmse"] < 0).all()
    for est in result["estimator"]:
        assert est.basin_[0] is basin.mesh and est.basin_[1] is basin.forcings  # never copied
    search = GridSearchCV(model, {"scale": [0.5, 1.0, 2.0]}, cv=PeriodSplit(n_splits=2), scoring="kge").fit(X, y)
    assert search.best_params_["scale"] == 1.0
    assert clone(model).get_params()["scale"] == 1.0


def test_scorer_values(Xy, basin):
    X, y = Xy
    model = Scaled(basin.true_discharge, 1.3).fit(X, y)
    predictions = model.predict(X)
    assert get_scorer("nse")(model, X, y) == pytest.approx(
        np.mean([nse(y.series(i).to_numpy(), p.to_numpy()) for i, p in enumerate(predictions)]))
    assert get_scorer("neg_mae")(model, X, y) < 0
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("r2")
