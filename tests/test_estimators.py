"""DistributedGR4: scikit-learn conventions, twin experiments, errors."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

import skhydro
from skhydro.estimators import DistributedGR4
from skhydro.metrics import nse
from skhydro.model_selection import GaugeKFold, GaugeSplit, PeriodSplit, SpatioTemporalSplit

WET = {"hp": 0.5, "ht": 0.3}
UNIFORM_TRUTH = dict(cp=300.0, ct=150.0, kexc=-0.2, akw=4.0, bkw=0.55)


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400, initial_states=WET)


@pytest.fixture(scope="module")
def uniform_twin(basin):
    """Noise-free observations of a model with known uniform parameters."""
    q = skhydro.simulate(basin.mesh, basin.forcings, "zero-gr4-kw", UNIFORM_TRUTH, WET).discharge
    return skhydro.make_units(basin.mesh, basin.forcings, q, warmup=24)


@pytest.fixture(scope="module")
def distributed_twin(basin):
    """Noise-free observations of the synthetic basin's true (descriptor-driven) parameter maps."""
    q = skhydro.simulate(basin.mesh, basin.forcings, "zero-gr4-kw", basin.true_parameters, WET).discharge
    return skhydro.make_units(basin.mesh, basin.forcings, q, warmup=24)


# ------------------------------------------------------------------------------------- twin experiments
def test_uniform_lbfgsb_recovers_the_parameters(uniform_twin):
    X, y = uniform_twin
    model = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=100, init_states=WET).fit(X, y)
    assert model.cost_ < 1e-8
    for name, true in UNIFORM_TRUTH.items():
        estimate = np.nanmean(model.parameters_[name])
        assert estimate == pytest.approx(true, rel=1e-3), name


def test_uniform_sbs_recovers_the_parameters(uniform_twin):
    # SBS stops when its step falls below 0.01 in the transformed control (about 1 % on a log scale);
    # cp has the weakest influence on discharge over 16 days and is recovered within 15 %
    X, y = uniform_twin
    model = DistributedGR4(mapping="uniform", optimizer="sbs", max_iter=50, init_states=WET).fit(X, y)
    assert model.cost_ < 1e-3
    assert model.n_iter_ < 50  # converged, not stopped by the budget
    tolerance = dict(cp=0.15, ct=0.03, kexc=0.03, akw=0.03, bkw=0.03)
    for name, true in UNIFORM_TRUTH.items():
        assert np.nanmean(model.parameters_[name]) == pytest.approx(true, rel=tolerance[name]), name


def test_distributed_calibration_fits_every_gauge(distributed_twin, basin):
    """Distributed L-BFGS-B from the uniform optimum reproduces every gauge (NSE >= 0.999) and the
    basin means of ct and akw within 3 %. Four gauges do not identify 1260-cell maps (equifinality):
    that is what regionalisation is for."""
    X, y = distributed_twin
    uniform = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=100, init_states=WET).fit(X, y)
    model = DistributedGR4(mapping="distributed", max_iter=100, init_states=WET,
                           init_parameters=uniform.parameters_).fit(X, y)
    assert model.cost_ < uniform.cost_ / 50
    predictions = model.predict(X)
    for i in range(len(X)):
        assert nse(y.series(i).to_numpy(), predictions[i].to_numpy()) >= 0.999
    active = basin.mesh.active
    for name in ("ct", "akw"):
        estimate = model.parameters_[name][active].mean()
        assert estimate == pytest.approx(basin.true_parameters[name][active].mean(), rel=0.03), name


def test_calibrating_initial_states(uniform_twin):
    X, y = uniform_twin
    start = dict(UNIFORM_TRUTH, ct=100.0)
    model = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=60, calibrate_states=["ht"],
                           parameters=["ct"], init_parameters=start, init_states=dict(WET, ht=0.1)).fit(X, y)
    assert np.nanmean(model.initial_states_["ht"]) == pytest.approx(WET["ht"], rel=1e-2)
    assert np.nanmean(model.parameters_["ct"]) == pytest.approx(UNIFORM_TRUTH["ct"], rel=1e-2)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adagrad", "rmsprop"])
def test_adaptive_optimisers_lower_the_cost(uniform_twin, optimizer):
    X, y = uniform_twin
    model = DistributedGR4(mapping="uniform", optimizer=optimizer, max_iter=15, learning_rate=0.02,
                           init_states=WET).fit(X, y)
    assert model.cost_ < model.history_[0]


# ------------------------------------------------------------------------------ scikit-learn conventions
def test_estimator_conventions(uniform_twin):
    X, y = uniform_twin
    model = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=3, init_states=WET)
    params = model.get_params()
    assert params["max_iter"] == 3 and params["init_states"] is WET
    twin = clone(model)
    assert twin.get_params()["mapping"] == "uniform" and not hasattr(twin, "parameters_")
    model.fit(X, y)
    assert set(model.parameters_) == {"ci", "cp", "ct", "kexc", "akw", "bkw"}
    assert set(model.final_states_) == {"hi", "hp", "ht"}
    for m in model.parameters_.values():
        assert m.shape == X.mesh.shape
    assert model.get_params()["max_iter"] == 3  # hyper-parameters never changed by fit
    fitted_clone = clone(model)
    assert not hasattr(fitted_clone, "parameters_")
    predictions = model.predict(X)
    assert len(predictions) == len(X)
    for (_, unit), series in zip(X.units.iterrows(), predictions):
        assert series.index[0] == unit["start"] and series.index[-1] == unit["end"]
    assert model.score(X, y) == pytest.approx(np.mean([nse(y.series(i).to_numpy(), p.to_numpy())
                                                       for i, p in enumerate(predictions)]))
    assert model.set_params(scoring="neg_rmse").score(X, y) < 0


def test_cross_validate_and_grid_search_share_the_basin(uniform_twin):
    X, y = uniform_twin
    seen = []

    class Spy(DistributedGR4):
        def fit(self, X, y):
            seen.append((X.forcings, X.mesh))
            return super().fit(X, y)

    model = Spy(mapping="uniform", optimizer="lbfgsb", max_iter=2, init_states=WET)
    result = cross_validate(model, X, y, cv=KFold(2))
    assert np.isfinite(result["test_score"]).all()
    search = GridSearchCV(model, {"max_iter": [1, 3]}, cv=KFold(2)).fit(X, y)
    assert search.best_params_["max_iter"] in (1, 3)
    assert all(f is X.forcings and m is X.mesh for f, m in seen)  # never copied


# ----------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("params, match", [
    (dict(mapping="multi-linear"), "mapping"),
    (dict(mapping="distributed", optimizer="sbs"), "optimizer"),
    (dict(optimizer="newton"), "optimizer"),
    (dict(max_iter=-1), "max_iter"),
    (dict(max_iter=2.5), "max_iter"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(scoring="rmse"), "scoring"),
    (dict(num_threads=0), "num_threads"),
    (dict(parameters=["llr"]), "parameters"),
    (dict(calibrate_states=["hlr"]), "calibrate_states"),
    (dict(structure="zero-gr9-kw"), "hydrological"),
    (dict(cost="r2"), "metric"),
    (dict(bounds={"cp": (0.0, 10.0)}), "feasible"),
])
def test_bad_hyper_parameters(uniform_twin, params, match):
    X, y = uniform_twin
    with pytest.raises(ValueError, match=match):
        DistributedGR4(**params).fit(X, y)


def test_bad_data(uniform_twin, basin):
    X, y = uniform_twin
    model = DistributedGR4(max_iter=1)
    with pytest.raises(TypeError, match="ObservationUnits"):
        model.fit(np.zeros((3, 2)), y)
    with pytest.raises(ValueError, match="units"):
        model.fit(X[[0, 1]], y[[1, 2]])
    with pytest.raises(ValueError, match="units"):
        model.fit(X, y[[0]])
    with pytest.raises(Exception, match="not fitted"):
        model.predict(X)


@pytest.mark.parametrize("cv", [
    GaugeKFold(2),
    GaugeSplit(["SYN002", "SYN003"], ["SYN001", "SYN004"]),
    PeriodSplit([0], [1]),
    SpatioTemporalSplit(GaugeSplit(["SYN002"], ["SYN001"]), PeriodSplit([0], [1])),
], ids=["gauge-kfold", "gauge-groups", "periods", "space-time"])
def test_cross_validate_with_each_splitter(basin, cv):
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.true_discharge, periods=2, warmup=24)
    model = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=2, init_states=WET)
    result = cross_validate(model, X, y, cv=cv, scoring=["nse", "kge", "neg_rmse"])
    assert len(result["test_nse"]) == cv.get_n_splits(X)
    assert np.isfinite(result["test_kge"]).all() and (result["test_neg_rmse"] < 0).all()


def test_verbose_shows_a_progress_bar(uniform_twin, capsys):
    X, y = uniform_twin
    DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=2, init_states=WET, verbose=True).fit(X, y)
    assert "DistributedGR4 (uniform)" in capsys.readouterr().err


def test_parallel_cross_validation(uniform_twin):
    # joblib workers receive pickled copies of X, y and the estimator
    X, y = uniform_twin
    model = DistributedGR4(mapping="uniform", optimizer="lbfgsb", max_iter=2, init_states=WET)
    serial = cross_validate(model, X, y, cv=KFold(2))["test_score"]
    parallel = cross_validate(model, X, y, cv=KFold(2), n_jobs=2)["test_score"]
    np.testing.assert_allclose(parallel, serial, rtol=1e-12)


def test_distributed_model_with_gr5(uniform_twin):
    from skhydro.estimators import DistributedModel

    X, y = uniform_twin
    model = DistributedModel("zero-gr5-kw", mapping="uniform", optimizer="lbfgsb", max_iter=5, init_states=WET)
    model.fit(X, y)
    assert "aexc" in model.parameters_ and model.cost_ < model.history_[0]
    assert isinstance(DistributedGR4(), DistributedModel) and DistributedGR4().get_params()["structure"] == "zero-gr4-kw"


@pytest.fixture(scope="module")
def snowy_basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=400, snow=True, initial_states=WET)


@pytest.mark.parametrize("routing", ["lag0", "lr", "kw"])
@pytest.mark.parametrize("snow", ["zero", "ssn"])
@pytest.mark.parametrize("hydro", [h for h, m in skhydro.structures.HYDROLOGICAL_MODULES.items() if "network" not in m])
def test_distributed_model_calibrates_every_structure(basin, snowy_basin, snow, hydro, routing):
    """Every structure calibrates through the same estimator: a uniform twin whose truth is the registry
    defaults moved by 20 %, fitted from the defaults with L-BFGS-B (on the snowy basin for ssn)."""
    from skhydro.estimators import DistributedModel

    structure = f"{snow}-{hydro}-{routing}"
    s = skhydro.structures.get_structure(structure)
    truth = {k: v * 1.2 for k, v in s.default_parameters(3600).items() if k not in ("ci", "kexc", "ws", "ds", "aexc")}
    data = snowy_basin if snow == "ssn" else basin
    states = {k: v for k, v in WET.items() if k in s.states}
    q = skhydro.simulate(data.mesh, data.forcings, structure, truth, states).discharge
    X, y = skhydro.make_units(data.mesh, data.forcings, q, warmup=24)
    model = DistributedModel(structure, mapping="uniform", optimizer="lbfgsb", max_iter=4, init_states=states)
    model.fit(X, y)
    assert set(s.parameters) - {"ci"} <= set(model.parameters_)
    assert model.cost_ < 0.9 * model.history_[0]
    assert model.score(X, y) > 1.0 - model.history_[0]  # the mean NSE improved on the initial guess
