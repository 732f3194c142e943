"""RegionalModel and RegionalANNMapping: scikit-learn conventions, learning from descriptors, spatial
validation on gauges never seen in fit, and errors."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_validate

import skhydro
from skhydro.estimators import DistributedModel, RegionalANNMapping, RegionalModel
from skhydro.model_selection import GaugeKFold

WET = {"hp": 0.5, "ht": 0.3}
PARAMS = ["cp", "ct", "kexc", "akw", "bkw"]
CAL, VAL = ("SYN001", "SYN003"), ("SYN002", "SYN004")


@pytest.fixture(scope="module")
def twin():
    """Noise-free discharge of the synthetic basin's descriptor-driven true maps, as units."""
    basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=1200, initial_states=WET, noise=0.0)
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.true_discharge, basin.descriptors, warmup=200)
    cal = [i for i, g in enumerate(X.gauges) if g in CAL]
    val = [i for i, g in enumerate(X.gauges) if g in VAL]
    return basin, X, y, cal, val


@pytest.fixture(scope="module")
def fitted(twin):
    basin, X, y, cal, val = twin
    models = {
        "uniform": DistributedModel(mapping="uniform", optimizer="lbfgsb", max_iter=30, parameters=PARAMS,
                                    init_states=WET),
        "multi-linear": RegionalModel(mapping="multi-linear", max_iter=40, parameters=PARAMS, init_states=WET),
        "ann": RegionalANNMapping(max_iter=80, learning_rate=0.01, parameters=PARAMS, init_states=WET, random_state=0),
    }
    return {name: m.fit(X[cal], y[cal]) for name, m in models.items()}


def test_regional_mappings_validate_on_unseen_gauges(twin, fitted):
    """Learnt from two gauges, the descriptor maps predict the two others better than a uniform set."""
    _, X, y, cal, val = twin
    scores = {name: m.score(X[val], y[val]) for name, m in fitted.items()}
    assert scores["multi-linear"] > scores["uniform"] + 0.02, scores
    assert scores["ann"] > scores["uniform"] + 0.01, scores
    # in calibration the regional maps fit the two gauges closely, a uniform set cannot
    for name in ("multi-linear", "ann"):
        assert fitted[name].score(X[cal], y[cal]) > 0.99, name
    assert fitted["uniform"].score(X[cal], y[cal]) < 0.97


def test_fitted_attributes(twin, fitted):
    basin, X, y, cal, val = twin
    for name in ("multi-linear", "ann"):
        m = fitted[name]
        assert m.descriptor_names_ == tuple(basin.descriptors)
        table = m.descriptor_correlations_
        assert table.shape == (len(basin.descriptors), len(PARAMS)) and list(table.columns) == PARAMS
        assert np.nanmax(np.abs(table.to_numpy())) <= 1.0
        assert m.coef_.shape == (m.mapping_.size(),)
        np.testing.assert_allclose(basin.mesh.to_vector(m.parameters_["cp"]), m.mapping_.to_values(m.coef_)["cp"])
        assert m.cost_ < m.history_[0]
    # the table is the correlation of the (transformed) descriptors with the learnt maps over the active cells
    m = fitted["multi-linear"]
    d = skhydro.mappings.Descriptors(basin.descriptors).matrix(basin.mesh)
    ct = basin.mesh.to_vector(m.parameters_["ct"])
    assert m.descriptor_correlations_.loc["woodland", "ct"] == pytest.approx(
        np.corrcoef(d[:, list(basin.descriptors).index("woodland")], ct)[0, 1], rel=1e-12)


def test_conventions_and_cross_validation(twin):
    _, X, y, _, _ = twin
    est = RegionalANNMapping(hidden_layer_sizes=(6,), max_iter=2, parameters=["cp", "ct"], init_states=WET,
                             random_state=1)
    assert clone(est).get_params() == est.get_params()
    assert est.get_params()["mapping"] == "ann" and RegionalModel().get_params()["mapping"] == "multi-linear"
    res = cross_validate(est, X, y, cv=GaugeKFold(n_splits=2), scoring="nse")
    assert np.isfinite(res["test_score"]).all()
    # same seed, same fit
    a, b = clone(est).fit(X, y), clone(est).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_multi_power_learns(twin):
    _, X, y, cal, _ = twin
    m = RegionalModel(mapping="multi-power", max_iter=5, parameters=["cp", "ct"], init_states=WET).fit(X[cal], y[cal])
    assert m.cost_ < m.history_[0]
    lower, upper = m.mapping_.control_bounds()
    exponents = m.coef_[2::2][: len(m.descriptor_names_)]
    assert (exponents >= 0.5).all() and (exponents <= 2.0).all() and np.isinf(lower[0])


@pytest.mark.parametrize("params, match", [
    (dict(mapping="distributed"), "mapping"),
    (dict(mapping="ann", optimizer="lbfgsb"), "optimizer"),
    (dict(descriptors=["altitude"]), "descriptors"),
    (dict(descriptor_transform="minmax"), "descriptor_transform"),
    (dict(mapping="ann", activation="swish"), "activation"),
    (dict(mapping="ann", random_state="zero"), "random_state"),
    (dict(mapping="multi-power", descriptor_transform="standardize"), "non-negative"),
])
def test_bad_hyper_parameters(twin, params, match):
    _, X, y, _, _ = twin
    with pytest.raises(ValueError, match=match):
        RegionalModel(max_iter=1, parameters=["cp"], **params).fit(X, y)


def test_descriptors_are_required(twin):
    basin, X, y, _, _ = twin
    X_plain, y_plain = skhydro.make_units(basin.mesh, basin.forcings, basin.true_discharge, warmup=200)
    with pytest.raises(ValueError, match="descriptors"):
        RegionalModel(max_iter=1).fit(X_plain, y_plain)


def test_early_stopping_keeps_the_best_validation_iterate(twin):
    _, X, y, _, _ = twin
    est = RegionalANNMapping(hidden_layer_sizes=(8,), max_iter=40, learning_rate=0.05, parameters=["cp", "ct"],
                             init_states=WET, random_state=2, early_stopping=True, n_iter_no_change=3)
    est.fit(X, y)
    assert len(est.validation_gauges_) == 1 and est.validation_gauges_[0] in X.gauges
    history = est.validation_history_
    assert 1 <= len(history) <= 40 and est.best_iteration_ == int(np.argmin(history)) + 1
    assert len(history) == 40 or len(history) - est.best_iteration_ == 4  # stopped after 3 more without progress
    val = [i for i, g in enumerate(X.gauges) if g in est.validation_gauges_]
    held_out = skhydro.cost.UnitCost(X[val], y[val], "nse").value(est.simulate(X).to_numpy())
    assert held_out == pytest.approx(min(history), rel=1e-12)
    assert est.n_iter_ == est.best_iteration_


def test_gauge_batches_are_reproducible(twin):
    _, X, y, _, _ = twin
    est = RegionalModel(mapping="multi-linear", optimizer="adam", learning_rate=0.05, max_iter=6, batch_size=2,
                        parameters=["cp", "ct"], init_states=WET, random_state=5)
    a, b = clone(est).fit(X, y), clone(est).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    c = clone(est).set_params(random_state=6).fit(X, y)
    assert not np.array_equal(a.coef_, c.coef_)  # other batches


@pytest.mark.parametrize("params, match", [
    (dict(batch_size=2), "adaptive"),  # with L-BFGS-B
    (dict(optimizer="adam", batch_size=0), "batch_size"),
    (dict(optimizer="adam", early_stopping=True, validation_fraction=1.5), "validation_fraction"),
    (dict(optimizer="adam", early_stopping=True, n_iter_no_change=0), "n_iter_no_change"),
])
def test_bad_training_options(twin, params, match):
    _, X, y, _, _ = twin
    with pytest.raises(ValueError, match=match):
        RegionalModel(max_iter=1, parameters=["cp"], init_states=WET, **params).fit(X, y)


def test_spatio_temporal_cross_validation():
    """Calibration gauges over period 0, validation on the other gauges over period 1."""
    from skhydro.model_selection import PeriodSplit, SpatioTemporalSplit

    basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400, initial_states=WET)
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, basin.descriptors, periods=2, warmup=50)
    cv = SpatioTemporalSplit(GaugeKFold(n_splits=2), PeriodSplit(train_periods=[0], test_periods=[1]))
    est = RegionalModel(max_iter=3, parameters=["cp", "ct"], init_states=WET)
    res = cross_validate(est, X, y, cv=cv, scoring=["nse", "kge"], return_train_score=True)
    assert len(res["test_nse"]) == cv.get_n_splits(X, y) == 2
    assert np.isfinite(res["test_nse"]).all() and np.isfinite(res["train_kge"]).all()
