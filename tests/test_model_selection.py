"""Splitters over observation units and unit scorers, alone and inside scikit-learn's tools."""
import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, check_cv, cross_val_score, cross_validate
from sklearn.utils.validation import check_is_fitted

import skhydro
from skhydro.metrics import kge, mae, nse, rmse
from skhydro.model_selection import (
    SCORERS,
    GaugeKFold,
    GaugeSplit,
    PeriodSplit,
    SpatioTemporalSplit,
    UnitScorer,
    get_scorer,
    mean_unit_score,
    register_scorers,
)
from skhydro.units import check_units

GAUGES = ["SYN001", "SYN002", "SYN003", "SYN004"]


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states={"hp": 0.5, "ht": 0.3})


@pytest.fixture(scope="module")
def Xy(basin):
    return skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=3, warmup=30)


@pytest.fixture(scope="module")
def Xy6(basin):
    return skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=6, warmup=30)


def unit_sets(X, folds):
    """``[(train gauges, train periods, test gauges, test periods)]`` of each fold, as sorted lists."""
    return [(sorted(set(X.gauges[a])), sorted(set(X.periods[a].tolist())),
             sorted(set(X.gauges[b])), sorted(set(X.periods[b].tolist()))) for a, b in folds]


def check_folds(cv, X, n, y=None):
    """Folds of ``cv`` on ``X``: ``n`` of them, integer indices, disjoint non-empty sides."""
    folds = list(cv.split(X, y))
    assert len(folds) == n == cv.get_n_splits(X, y)
    for train, test in folds:
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert len(train) and len(test) and not np.intersect1d(train, test).size
        assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
        assert train.max() < len(X) and test.max() < len(X)
    return folds


# ------------------------------------------------------------------------------------- GaugeKFold
@pytest.mark.parametrize("n_splits", [2, 3, 4])
def test_gauge_kfold(Xy, n_splits):
    X, y = Xy
    folds = check_folds(GaugeKFold(n_splits), X, n_splits, y)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(X)))  # every unit validated exactly once
    sizes = []
    for train, test in folds:
        assert not set(X.gauges[train]) & set(X.gauges[test])  # a gauge on one side only
        assert sorted(np.concatenate([train, test])) == list(range(len(X)))  # train = all the others
        sizes.append(len(set(X.gauges[test])))
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 4


def test_gauge_kfold_order_and_shuffle(Xy):
    X, _ = Xy
    assert [s[2] for s in unit_sets(X, GaugeKFold(2).split(X))] == [GAUGES[:2], GAUGES[2:]]
    perm = np.random.default_rng(0).permutation(len(X))  # folds do not depend on the order of the units
    assert [s[2] for s in unit_sets(X[perm], GaugeKFold(2).split(X[perm]))] == [GAUGES[:2], GAUGES[2:]]
    runs = {seed: [s[2] for s in unit_sets(X, GaugeKFold(4, shuffle=True, random_state=seed).split(X))]
            for seed in range(6)}
    assert runs[3] == [s[2] for s in unit_sets(X, GaugeKFold(4, shuffle=True, random_state=3).split(X))]
    assert len({str(r) for r in runs.values()}) > 1  # the seed matters
    assert all(sorted(g for fold in r for g in fold) == GAUGES for r in runs.values())


def test_gauge_kfold_errors(Xy):
    X, _ = Xy
    with pytest.raises(ValueError, match="cannot cut 4 gauges"):
        list(GaugeKFold(5).split(X))
    with pytest.raises(ValueError, match="cannot cut 1 gauges"):
        list(GaugeKFold(2).split(X[X.gauges == "SYN001"]))
    for bad in [1, 2.0, True, None]:
        with pytest.raises(ValueError, match="n_splits"):
            GaugeKFold(bad)
    with pytest.raises(ValueError, match="shuffle is False"):
        GaugeKFold(2, random_state=0)
    with pytest.raises(TypeError, match="shuffle"):
        GaugeKFold(2, shuffle="yes")


# ------------------------------------------------------------------------------------- GaugeSplit
def test_gauge_split(Xy):
    X, y = Xy
    (train, test), = check_folds(GaugeSplit(["SYN002", "SYN003"], ["SYN001"]), X, 1, y)
    assert set(X.gauges[train]) == {"SYN002", "SYN003"} and set(X.gauges[test]) == {"SYN001"}
    assert len(train) == 6 and len(test) == 3  # every period of the gauges; SYN004 on neither side
    (train, test), = check_folds(GaugeSplit("SYN004", "SYN001"), X, 1)  # one gauge as a string
    assert set(X.gauges[train]) == {"SYN004"} and set(X.gauges[test]) == {"SYN001"}


def test_gauge_split_pairs(Xy):
    X, _ = Xy
    cv = GaugeSplit([(["SYN002"], ["SYN001"]), (["SYN001", "SYN003"], "SYN004"), ("SYN004", ["SYN002"])])
    assert cv.get_n_splits() == 3
    assert [(s[0], s[2]) for s in unit_sets(X, check_folds(cv, X, 3))] == \
        [(["SYN002"], ["SYN001"]), (["SYN001", "SYN003"], ["SYN004"]), (["SYN004"], ["SYN002"])]


@pytest.mark.parametrize("args, match", [
    ((["SYN001"], ["SYN001", "SYN002"]), r"\['SYN001'\] are both calibration and validation"),
    (([(["SYN002"], ["SYN001"]), (["SYN003"], ["SYN003"])],), "split 1"),
    (([], ["SYN001"]), "empty"),
    ((["SYN001"], []), "empty"),
    ((["SYN001", "SYN002"],), "pairs"),
    ((["AB"],), "pairs"),
    (([(["SYN001"], ["SYN002"], ["SYN003"])],), "pairs"),
])
def test_gauge_split_errors(args, match):
    with pytest.raises(ValueError, match=match):
        GaugeSplit(*args)


def test_gauge_split_unknown_gauges(Xy):
    X, _ = Xy
    with pytest.raises(ValueError, match=r"gauges \['XXX'\] of split 0 have no unit in X"):
        list(GaugeSplit(["SYN001"], ["XXX"]).split(X))
    with pytest.raises(ValueError, match="no unit in X"):  # present in the basin, not in these units
        list(GaugeSplit(["SYN001"], ["SYN002"]).split(X[X.gauges != "SYN002"]))


# ------------------------------------------------------------------------------------ PeriodSplit
def test_period_split_explicit(Xy):
    X, y = Xy
    (train, test), = check_folds(PeriodSplit([0], [2]), X, 1, y)
    assert set(X.periods[train]) == {0} and set(X.periods[test]) == {2}
    assert len(train) == len(test) == 4  # every gauge on both sides
    (train, test), = check_folds(PeriodSplit(train_periods=[0, 1], test_periods=2), X, 1)
    assert set(X.periods[train]) == {0, 1} and set(X.periods[test]) == {2}


@pytest.mark.parametrize("n_splits, gap, expected", [
    (1, 0, [([0, 1, 2], [3, 4, 5])]),
    (2, 0, [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]),
    (2, 1, [([0], [2, 3]), ([0, 1, 2], [4, 5])]),
    (5, 0, [([0], [1]), ([0, 1], [2]), ([0, 1, 2], [3]), ([0, 1, 2, 3], [4]), ([0, 1, 2, 3, 4], [5])]),
    (3, 2, [([0], [3]), ([0, 1], [4]), ([0, 1, 2], [5])]),
])
def test_period_split_rolling(Xy6, n_splits, gap, expected):
    X, y = Xy6
    folds = check_folds(PeriodSplit(n_splits=n_splits, gap=gap), X, n_splits, y)
    got = [(s[1], s[3]) for s in unit_sets(X, folds)]
    assert got == expected
    # the same periods as TimeSeriesSplit over the period labels
    assert got == [(a.tolist(), b.tolist()) for a, b in TimeSeriesSplit(n_splits, gap=gap).split(np.arange(6))] \
        if n_splits > 1 else True
    index = X.forcings.index
    for (train, test), (train_periods, test_periods) in zip(folds, got):
        assert set(X.gauges[train]) == set(X.gauges[test]) == set(GAUGES)
        # calibration ends, then `gap` whole periods are simulated as a warm-up, then validation starts
        end, start = X.units["end"].iloc[train].max(), X.units["start"].iloc[test].min()
        skipped = index[(index > end) & (index < start)]
        gap_units = X.units[X.units["period"].between(train_periods[-1] + 1, test_periods[0] - 1)]
        assert len(skipped) == sum(len(index[(index >= a) & (index <= b)])
                                   for a, b in gap_units.drop_duplicates("period")[["start", "end"]].values)
        assert len(gap_units["period"].unique()) == gap


def test_period_split_follows_time_not_label_order(basin):
    index = basin.forcings.index
    periods = {"winter": (index[0], index[99]), "autumn": (index[100], index[199]), "bis": (index[200], index[-1])}
    X, _ = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=periods)
    got = [(sorted(set(X.periods[a])), sorted(set(X.periods[b]))) for a, b in PeriodSplit(n_splits=2).split(X)]
    assert got == [(["winter"], ["autumn"]), (["autumn", "winter"], ["bis"])]
    (train, test), = PeriodSplit(["autumn"], "winter").split(X)  # explicit: any order (e.g. backwards)
    assert set(X.periods[train]) == {"autumn"} and set(X.periods[test]) == {"winter"}


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "n_splits"),
    (dict(train_periods=[0]), "both"),
    (dict(test_periods=[0]), "both"),
    (dict(train_periods=[0], test_periods=[0, 1]), "both sides"),
    (dict(train_periods=[0], test_periods=[1], n_splits=2), "not both"),
    (dict(train_periods=[0], test_periods=[2], gap=1), "gap applies to the rolling scheme"),
    (dict(train_periods=[], test_periods=[1]), "empty"),
    (dict(n_splits=0), "n_splits"),
    (dict(n_splits=2.0), "n_splits"),
    (dict(n_splits=2, gap=-1), "gap"),
    (dict(n_splits=2, gap=0.5), "gap"),
])
def test_period_split_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PeriodSplit(**kwargs)


def test_period_split_errors_on_the_units(Xy):
    X, _ = Xy
    for cv, match in [(PeriodSplit([0], [9]), r"periods \[9\] have no unit in X"),
                      (PeriodSplit(n_splits=3), "needs at least 4 periods, X has 3"),
                      (PeriodSplit(n_splits=1, gap=2), "needs at least 4 periods, X has 3"),
                      (PeriodSplit(n_splits=2, gap=1), "needs at least 4 periods")]:
        with pytest.raises(ValueError, match=match):
            list(cv.split(X))
    (train, test), = PeriodSplit(n_splits=1, gap=1).split(X)  # 3 periods: 0 -> (1 warm-up) -> 2
    assert set(X.periods[train]) == {0} and set(X.periods[test]) == {2}


# ---------------------------------------------------------------------------- SpatioTemporalSplit
def test_spatio_temporal_split(Xy):
    X, y = Xy
    gauge_cv, period_cv = GaugeKFold(2), PeriodSplit(n_splits=2)
    folds = check_folds(SpatioTemporalSplit(gauge_cv, period_cv), X, 4, y)
    combos = [(g, p) for g in gauge_cv.split(X) for p in period_cv.split(X)]
    for (train, test), ((g_train, g_test), (p_train, p_test)) in zip(folds, combos):
        np.testing.assert_array_equal(train, np.intersect1d(g_train, p_train))
        np.testing.assert_array_equal(test, np.intersect1d(g_test, p_test))
        assert not set(X.gauges[train]) & set(X.gauges[test])
        assert max(X.periods[train]) < min(X.periods[test])


def test_spatio_temporal_split_explicit(Xy):
    X, _ = Xy
    cv = SpatioTemporalSplit(GaugeSplit(["SYN002", "SYN003"], ["SYN001"]), PeriodSplit([0, 1], [2]))
    (train, test), = check_folds(cv, X, 1)
    assert X.units.loc[train, ["gauge", "period"]].values.tolist() == \
        [["SYN002", 0], ["SYN003", 0], ["SYN002", 1], ["SYN003", 1]]
    assert X.units.loc[test, ["gauge", "period"]].values.tolist() == [["SYN001", 2]]
    assert "GaugeSplit" in repr(cv) and "PeriodSplit" in repr(cv)


def test_spatio_temporal_split_errors(Xy):
    X, _ = Xy
    with pytest.raises(TypeError, match="gauge_cv"):
        SpatioTemporalSplit(2, PeriodSplit(n_splits=1))
    with pytest.raises(TypeError, match="period_cv"):
        SpatioTemporalSplit(GaugeKFold(2), "periods")
    disjoint = SpatioTemporalSplit(GaugeSplit(["SYN001"], ["SYN002"]), GaugeSplit(["SYN002"], ["SYN003"]))
    with pytest.raises(ValueError, match="no calibration unit"):
        list(disjoint.split(X))


# -------------------------------------------------------------------------------- every splitter
SPLITTERS = [GaugeKFold(2), GaugeSplit(["SYN002"], ["SYN001"]), PeriodSplit([0], [1]),
             PeriodSplit(n_splits=2), SpatioTemporalSplit(GaugeKFold(2), PeriodSplit([0], [2]))]


@pytest.mark.parametrize("cv", SPLITTERS, ids=lambda cv: type(cv).__name__)
def test_splitters_follow_sklearn_conventions(Xy, cv):
    X, y = Xy
    assert check_cv(cv) is cv
    assert repr(cv).startswith(type(cv).__name__ + "(")
    assert eval(repr(cv)) is not None  # the repr is valid Python
    n = cv.get_n_splits()
    assert n == cv.get_n_splits(X, y) == len(list(cv.split(X, y, groups=None)))
    assert [t.tolist() for _, t in cv.split(X)] == [t.tolist() for _, t in cv.split(X)]  # deterministic


@pytest.mark.parametrize("cv", SPLITTERS, ids=lambda cv: type(cv).__name__)
def test_splitters_need_observation_units(Xy, cv):
    X, y = Xy
    for bad in [np.zeros((12, 2)), X.units, list(range(12))]:
        with pytest.raises(TypeError, match=f"{type(cv).__name__} splits observation units: X must be "
                                            "ObservationUnits"):
            list(cv.split(bad))
    with pytest.raises(ValueError, match="different units"):
        list(cv.split(X, y[::-1]))
    with pytest.raises(ValueError, match="no observation unit"):
        list(cv.split(X[[]]))


# ---------------------------------------------------------------------------------------- scorers
class Scaled(BaseEstimator):
    """Predicts ``scale`` times the observations seen at fit, so that every score is known in advance."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y):
        check_units(X, y)
        self.mesh_, self.forcings_, self.observed_ = X.mesh, X.forcings, y.observed  # references only
        self.n_units_ = len(X)
        return self

    def predict(self, X):
        check_is_fitted(self)
        out = np.empty(len(X), dtype=object)
        for i, (gauge, start, end) in enumerate(X.units[["gauge", "start", "end"]].values):
            out[i] = self.scale * self.observed_[gauge].loc[start:end].where(lambda s: s >= 0)
        return out

    def score(self, X, y):
        return mean_unit_score("nse", y, self.predict(X))


def expected_score(y, idx, scale, metric=nse, sign=1.0):
    """The mean unit metric of ``scale`` x observations over the units ``idx``, by hand."""
    return sign * np.mean([metric(y.series(i).to_numpy(), scale * y.series(i).to_numpy()) for i in idx])


def test_scorer_names():
    assert list(SCORERS) == ["nse", "nnse", "kge", "neg_mae", "neg_mape", "neg_mse", "neg_rmse", "neg_lgrm"]
    for name, scorer in SCORERS.items():
        assert isinstance(scorer, UnitScorer)
        assert scorer.greater_is_better == (not name.startswith("neg_"))
        assert scorer.metric == name.removeprefix("neg_")
        assert get_scorer(name) == scorer and get_scorer(name) is not scorer
    assert repr(SCORERS["neg_rmse"]) == "UnitScorer('rmse', greater_is_better=False)"
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("r2")
    assert get_scorer(np.mean) is np.mean


@pytest.mark.parametrize("name, metric, sign", [("nse", nse, 1.0), ("kge", kge, 1.0), ("neg_rmse", rmse, -1.0),
                                                ("neg_mae", mae, -1.0)])
def test_scorer_values(Xy, name, metric, sign):
    X, y = Xy
    model = Scaled(1.3).fit(X, y)
    expected = expected_score(y, range(len(X)), 1.3, metric, sign)
    assert SCORERS[name](model, X, y) == pytest.approx(expected, rel=1e-12)
    assert mean_unit_score(name, y, model.predict(X)) == pytest.approx(expected, rel=1e-12)
    assert sklearn_get_scorer(name)(model, X, y) == pytest.approx(expected, rel=1e-12)
    assert SCORERS[name](model, X[[2, 5]], y[[2, 5]]) == pytest.approx(expected_score(y, [2, 5], 1.3, metric, sign))
    assert SCORERS[name](Scaled(1.0).fit(X, y), X, y) == pytest.approx(1.0 if sign > 0 else 0.0, abs=1e-12)


def test_unit_scorer_arguments(Xy):
    X, y = Xy
    model = Scaled(0.7).fit(X, y)
    raw = expected_score(y, range(len(X)), 0.7, rmse)
    assert UnitScorer("RMSE", greater_is_better=True)(model, X, y) == pytest.approx(raw)
    assert UnitScorer("nse", greater_is_better=False)(model, X, y) == pytest.approx(-expected_score(y, range(12), 0.7))
    assert UnitScorer(rmse)(model, X, y) == pytest.approx(raw)  # a callable: greater is better by default
    assert UnitScorer(rmse, greater_is_better=False)(model, X, y) == pytest.approx(-raw)
    assert repr(UnitScorer(rmse)) == "UnitScorer('rmse', greater_is_better=True)"
    with pytest.raises(ValueError, match="metric must be one of"):
        UnitScorer("neg_rmse")
    with pytest.raises(TypeError, match="no extra argument"):
        SCORERS["nse"](model, X, y, sample_weight=np.ones(12))
    with pytest.raises(ValueError, match="different units"):
        SCORERS["nse"](model, X[[0, 1]], y[[1, 0]])
    with pytest.raises(TypeError, match="ObservationUnits"):
        SCORERS["nse"](model, np.zeros((12, 2)), y)


def test_scorers_copy_and_pickle():
    for scorer in [*SCORERS.values(), UnitScorer(rmse, greater_is_better=False)]:
        assert copy.deepcopy(scorer) == scorer and copy.copy(scorer) == scorer
        assert pickle.loads(pickle.dumps(scorer)) == scorer
        assert hash(pickle.loads(pickle.dumps(scorer))) == hash(scorer)
    assert UnitScorer("nse") != UnitScorer("nse", greater_is_better=False) != UnitScorer("kge")


def test_mean_unit_score(Xy, basin):
    X, y = Xy
    predictions = Scaled(1.2).fit(X, y).predict(X)
    expected = expected_score(y, range(12), 1.2)
    assert mean_unit_score("nse", y, predictions) == pytest.approx(expected, rel=1e-12)
    assert mean_unit_score("NSE", y, list(predictions)) == pytest.approx(expected, rel=1e-12)
    assert mean_unit_score(nse, y, predictions) == pytest.approx(expected, rel=1e-12)
    raw = expected_score(y, range(12), 1.2, rmse)
    assert mean_unit_score("rmse", y, predictions) == pytest.approx(raw)
    assert mean_unit_score("neg_rmse", y, predictions) == pytest.approx(-raw)
    # plain arrays are matched by position, Series by time stamp
    assert mean_unit_score("nse", y, [p.to_numpy() for p in predictions]) == pytest.approx(expected, rel=1e-12)
    shuffled = [p.sample(frac=1.0, random_state=0) for p in predictions]
    assert mean_unit_score("nse", y, shuffled) == pytest.approx(expected, rel=1e-12)


def test_mean_unit_score_errors(Xy, basin):
    X, y = Xy
    predictions = Scaled().fit(X, y).predict(X)
    for bad, match in [("r2", "unknown metric"), ("neg_nse", "unknown metric"), (3, "metric must be")]:
        with pytest.raises(ValueError, match=match):
            mean_unit_score(bad, y, predictions)
    with pytest.raises(ValueError, match="11 predicted series for 12 units"):
        mean_unit_score("nse", y, predictions[:-1])
    with pytest.raises(ValueError, match="unit 0 .*shape"):
        mean_unit_score("nse", y, [p.to_numpy()[:-1] for p in predictions])
    with pytest.raises(TypeError, match="UnitDischarge"):
        mean_unit_score("nse", basin.observed, predictions)
    with pytest.raises(TypeError, match="sequence"):
        mean_unit_score("nse", y, basin.observed)
    observed = basin.observed.copy()
    observed["SYN003"] = -99.0
    X2, y2 = skhydro.make_units(basin.mesh, basin.forcings, observed, periods=3, warmup=30)
    with pytest.raises(ValueError, match="unit 2 \\(gauge SYN003, period 0\\): no valid"):
        mean_unit_score("nse", y2, predictions)


# ------------------------------------------------------------------------------ registration
def test_registered_in_sklearn():
    names = set(get_scorer_names())
    assert set(SCORERS) <= names
    assert register_scorers() == list(SCORERS)  # idempotent
    assert check_scoring(Scaled(), "kge") == SCORERS["kge"]


def test_register_never_overwrites_sklearn(monkeypatch):
    from sklearn.metrics import _scorer

    r2 = _scorer._SCORERS["r2"]
    monkeypatch.setitem(SCORERS, "r2", UnitScorer("nse"))
    with pytest.warns(UserWarning, match="already has a scorer named 'r2'"):
        names = register_scorers()
    assert "r2" not in names and _scorer._SCORERS["r2"] is r2


def test_registration_whatever_the_import_order(tmp_path):
    """Names work in scikit-learn modules imported before and after skhydro.model_selection."""
    script = textwrap.dedent("""
        from sklearn.model_selection import GridSearchCV, cross_validate  # before
        import skhydro.model_selection
        from sklearn.linear_model import RidgeCV  # after
        from sklearn.utils._param_validation import StrOptions, validate_parameter_constraints
        for constraints in [GridSearchCV._parameter_constraints, RidgeCV._parameter_constraints,
                            cross_validate._skl_parameter_constraints]:
            validate_parameter_constraints({"scoring": constraints["scoring"]}, {"scoring": "neg_lgrm"}, "x")
        print("ok")
    """)
    # from a temporary folder, so that the installed package is imported, not the source tree
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --------------------------------------------------------------------------- in scikit-learn tools
def test_dummy_estimator_conventions(Xy):
    X, y = Xy
    model = Scaled(2.0)
    twin = clone(model)
    assert twin is not model and twin.get_params() == {"scale": 2.0}
    assert not hasattr(twin, "observed_")
    fitted = Scaled(2.0).fit(X, y)
    assert not hasattr(clone(fitted), "observed_")


@pytest.mark.parametrize("cv", SPLITTERS, ids=lambda cv: type(cv).__name__)
def test_cross_validate_with_each_splitter(Xy, basin, cv):
    X, y = Xy
    result = cross_validate(Scaled(0.8), X, y, cv=cv, scoring="nse", return_estimator=True,
                            return_train_score=True, return_indices=True)
    n = cv.get_n_splits(X)
    assert len(result["test_score"]) == len(result["estimator"]) == n
    folds = list(cv.split(X))
    for k, (train, test) in enumerate(folds):
        np.testing.assert_array_equal(result["indices"]["train"][k], train)
        np.testing.assert_array_equal(result["indices"]["test"][k], test)
        assert result["test_score"][k] == pytest.approx(expected_score(y, test, 0.8), rel=1e-12)
        assert result["train_score"][k] == pytest.approx(expected_score(y, train, 0.8), rel=1e-12)
        est = result["estimator"][k]
        assert est.n_units_ == len(train)
        # the basin is shared, never copied: the very objects (and arrays) of the original basin
        assert est.mesh_ is basin.mesh and est.forcings_ is basin.forcings and est.observed_ is basin.observed
        assert est.forcings_.prcp is basin.forcings.prcp and est.forcings_.pet is basin.forcings.pet


def test_cross_validate_multimetric(Xy):
    X, y = Xy
    result = cross_validate(Scaled(1.5), X, y, cv=GaugeKFold(2), scoring=["nse", "kge", "neg_rmse"])
    for k, (_, test) in enumerate(GaugeKFold(2).split(X)):
        assert result["test_nse"][k] == pytest.approx(expected_score(y, test, 1.5), rel=1e-12)
        assert result["test_kge"][k] == pytest.approx(expected_score(y, test, 1.5, kge), rel=1e-12)
        assert result["test_neg_rmse"][k] == pytest.approx(expected_score(y, test, 1.5, rmse, -1.0), rel=1e-12)
    assert (result["test_neg_rmse"] < 0).all()
    by_dict = cross_validate(Scaled(1.5), X, y, cv=GaugeKFold(2), scoring={"eff": SCORERS["nse"]})
    np.testing.assert_allclose(by_dict["test_eff"], result["test_nse"])
    scores = cross_val_score(Scaled(1.5), X, y, cv=PeriodSplit(n_splits=2), scoring="neg_mae")
    assert scores.shape == (2,) and (scores < 0).all()
    default = cross_val_score(Scaled(1.5), X, y, cv=GaugeKFold(2))  # the estimator's own score
    np.testing.assert_allclose(default, result["test_nse"])


def test_grid_search(Xy, basin):
    X, y = Xy
    grid = {"scale": [0.5, 0.9, 1.0, 1.2, 2.0]}
    search = GridSearchCV(Scaled(), grid, cv=PeriodSplit(n_splits=2), scoring="kge").fit(X, y)
    assert search.best_params_ == {"scale": 1.0} and search.best_score_ == pytest.approx(1.0)
    folds = list(PeriodSplit(n_splits=2).split(X))
    for scale, mean in zip(grid["scale"], search.cv_results_["mean_test_score"]):
        assert mean == pytest.approx(np.mean([expected_score(y, t, scale, kge) for _, t in folds]), rel=1e-12)
    best = search.best_estimator_
    assert best.n_units_ == len(X) and best.mesh_ is basin.mesh and best.forcings_ is basin.forcings
    assert search.score(X, y) == pytest.approx(1.0)

    multi = GridSearchCV(Scaled(), grid, cv=SpatioTemporalSplit(GaugeKFold(2), PeriodSplit(n_splits=1)),
                         scoring=["nse", "kge"], refit="nse").fit(X, y)
    assert multi.best_params_ == {"scale": 1.0}
    assert {"mean_test_nse", "mean_test_kge"} <= set(multi.cv_results_)
    assert np.argmax(multi.cv_results_["mean_test_kge"]) == grid["scale"].index(1.0)
