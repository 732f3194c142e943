"""HybridFluxCorrector: scikit-learn conventions, joint training of the flux-correction network φ1 with
the parameter mapping (uniform GRNN.U, distributed GRNN.D, regional GRNN.NN / multi-linear / multi-power),
model selection on observation units, determinism, pickling, inspection of the corrections, errors.

Short synthetic basins (240 steps) and a few iterations keep the module fast; the fitted estimators are
shared by module-scoped fixtures and never mutated by the tests.
"""
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate

import skhydro
from helpers import random_forcing, random_tree_flwdir, receiver
from skhydro.estimators import DistributedModel, HybridFluxCorrector, RegionalModel
from skhydro.hybrid import FluxCorrectionNetwork
from skhydro.metrics import nse
from skhydro.model_selection import GaugeKFold, PeriodSplit
from skhydro.structures import get_structure

WET = {"hp": 0.5, "ht": 0.3}
STRUCTURE = "zero-gr4_mlp-lr"
CLASSICAL = "zero-gr4-lr"
LEARNT = ["cp", "ct", "kexc", "llr"]  # every parameter of gr4_mlp-lr but ci
CORRECTIONS = ["f1", "f2", "f3", "f4"]
START = dict(ci=1.0, cp=200.0, ct=100.0, kexc=0.0, llr=100.0)
MAPPINGS = ["uniform", "distributed", "multi-linear", "multi-power", "ann"]
INNER_GAUGES = ["SYN002", "SYN003", "SYN004"]  # SYN001 is the outlet


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240, initial_states=WET)


@pytest.fixture(scope="module")
def units(basin):
    """One unit per gauge over the window after a 48-step warm-up, with the basin's descriptors."""
    return skhydro.make_units(basin.mesh, basin.forcings, basin.observed, basin.descriptors, warmup=48)


@pytest.fixture(scope="module")
def fitted(units):
    """One estimator per mapping, trained for three iterations from the same seed."""
    X, y = units
    return {m: HybridFluxCorrector(mapping=m, max_iter=3, init_states=WET, random_state=0).fit(X, y)
            for m in MAPPINGS}


def start_network(random_state, hidden_layer_sizes=(16,), activation="leaky_relu"):
    """The documented start of training: FluxCorrectionNetwork.initialize with the estimator's seed."""
    return FluxCorrectionNetwork.initialize(4, 4, hidden_layer_sizes, activation, random_state=random_state)


def barely_trained(X, y, **params):
    """A fit of one Adam step of 1e-10: what the estimator starts from, to within 1e-9."""
    params = dict(dict(optimizer="adam", learning_rate=1e-10, max_iter=1, init_states=WET), **params)
    return HybridFluxCorrector(**params).fit(X, y)


def upstream_mask(mesh, gauge):
    """Active cells whose D8 path passes through the gauge's cell, found by walking down every path."""
    row, col = (int(mesh.gauges.loc[gauge, k]) for k in ("row", "col"))
    mask = np.zeros(mesh.shape, dtype=bool)
    for r, c in zip(*np.nonzero(mesh.active)):
        cell = (int(r), int(c))
        while cell is not None:
            if cell == (row, col):
                mask[r, c] = True
                break
            cell = receiver(mesh.flwdir, *cell)
    return mask


def mean_unit_cost(X, y, discharge):
    """Mean over units of 1 - NSE of the gauge's simulated discharge over the unit's period."""
    costs = []
    for i, gauge in enumerate(X.gauges):
        obs = y.series(i)
        costs.append(1.0 - nse(obs.to_numpy(), discharge.loc[obs.index, gauge].to_numpy()))
    return float(np.mean(costs))


# ------------------------------------------------------------------------------ scikit-learn conventions
def test_init_stores_hyper_parameters_unchanged():
    net = start_network(0)
    bounds, init_parameters = {"cp": (10.0, 900.0)}, {"ct": 80.0}
    params = dict(structure="zero-gr5_mlp-kw", mapping="ann", optimizer="rmsprop", max_iter=7, cost="kge",
                  parameters=["cp", "ct"], calibrate_states=["hp"], bounds=bounds, init_parameters=init_parameters,
                  init_states=WET, learning_rate=0.02, hidden_layer_sizes=[3, 5], activation="bogus",
                  init_network=net, descriptors=["slope"], descriptor_transform="keep",
                  mapping_hidden_layer_sizes=(7,), mapping_activation="tanh", random_state=-3, batch_size=2,
                  early_stopping=True, validation_fraction=0.5, n_iter_no_change=4, scoring="kge", num_threads=2,
                  verbose=True)
    est = HybridFluxCorrector(**params)
    # nothing validated, converted or copied in __init__, and no other attribute set
    assert set(vars(est)) == set(params)
    got = est.get_params()
    assert set(got) == set(params)
    for name, value in params.items():
        assert got[name] is value, name


def test_defaults():
    est = HybridFluxCorrector()
    params = est.get_params()
    assert params["structure"] == STRUCTURE and params["mapping"] == "uniform"
    assert params["hidden_layer_sizes"] == (16,) and params["activation"] == "leaky_relu"
    assert params["init_network"] is None and params["random_state"] is None and params["optimizer"] is None
    assert params["mapping_activation"] == "relu" and params["mapping_hidden_layer_sizes"] is None
    # defaults are immutable values (sklearn's check_parameters_default_constructible)
    for name, value in params.items():
        assert value is None or isinstance(value, (str, int, float, bool, tuple)), name
    assert repr(est) == "HybridFluxCorrector()"
    assert isinstance(est, RegionalModel)


def test_set_params_and_clone():
    net = start_network(1, (5,), "tanh")
    est = HybridFluxCorrector(max_iter=2, init_states=WET, init_network=net, random_state=3)
    assert est.set_params(activation="silu", hidden_layer_sizes=(4, 4)) is est
    assert est.activation == "silu" and est.hidden_layer_sizes == (4, 4)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert twin.init_network == net  # architecture and weights as given
    r = repr(est)
    assert r.startswith("HybridFluxCorrector(") and "FluxCorrectionNetwork(layer_sizes=(4, 5, 4)" in r
    assert "activation='silu'" in r and "max_iter=2" in r


def test_not_fitted(units):
    X, y = units
    est = HybridFluxCorrector(max_iter=1, init_states=WET)
    assert not [k for k in vars(est) if k.endswith("_")]
    for call in (lambda: est.predict(X), lambda: est.score(X, y), lambda: est.simulate(X),
                 lambda: est.simulate_fluxes(X), lambda: est.correction_series(X), lambda: est.correction_maps(X)):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_fitted_attributes(units, fitted, mapping):
    X, y = units
    est = fitted[mapping]
    s = get_structure(STRUCTURE)
    assert isinstance(est.network_, FluxCorrectionNetwork)
    assert est.network_.layer_sizes == (4, 16, 4) and est.network_.activation == "leaky_relu"
    assert est.structure_ == STRUCTURE and est.mesh_shape_ == X.mesh.shape
    assert set(est.parameters_) == set(s.parameters)
    assert set(est.initial_states_) == set(est.final_states_) == set(s.states)
    for maps in (est.parameters_, est.initial_states_, est.final_states_):
        for name, m in maps.items():
            assert m.shape == X.mesh.shape, name
            assert np.isfinite(m[X.mesh.active]).all(), name
    assert est.n_iter_ == 3 and len(est.history_) == est.n_iter_ + 1
    assert est.cost_ == pytest.approx(est.history_[-1], rel=1e-12)
    assert est.cost_ < est.history_[0]  # training lowers the cost
    # fit adds only underscore-suffixed public attributes and leaves the hyper-parameters alone
    assert not [k for k in vars(est) if not k.endswith("_") and not k.startswith("_")
                and k not in est.get_params()]
    assert not [k for k in vars(est) if k.startswith("_")]  # the start network is not kept
    assert est.get_params()["max_iter"] == 3 and est.get_params()["init_states"] == WET
    # coef_ is the mapping's control vector only, without the network's weights
    n_params = len(LEARNT)
    expected = {"uniform": n_params, "distributed": n_params * X.mesh.n_active}
    if mapping in expected:
        assert est.coef_.shape == (expected[mapping],)
        assert not hasattr(est, "mapping_")
    else:
        assert est.coef_.shape == (est.mapping_.size(),)
        assert est.descriptor_names_ == tuple(X.descriptors)
        table = est.descriptor_correlations_
        assert table.shape == (len(X.descriptors), n_params) and list(table.columns) == LEARNT
        assert np.nanmax(np.abs(table.to_numpy())) <= 1.0
        values = est.mapping_.to_values(est.coef_)
        for name in LEARNT:
            np.testing.assert_allclose(X.mesh.to_vector(est.parameters_[name]), values[name], rtol=1e-12)


def test_fit_leaves_hyper_parameters_and_inputs_alone(units):
    X, y = units
    net = start_network(4, (6,))
    before = net.to_vector().copy()
    init_parameters = {"cp": np.full(X.mesh.shape, 250.0), "ct": 90.0}
    est = HybridFluxCorrector(max_iter=2, init_states=dict(WET), init_parameters=init_parameters, init_network=net)
    h = joblib.hash(est.get_params())
    est.fit(X, y)
    assert joblib.hash(est.get_params()) == h  # sklearn's check_estimators_overwrite_params
    np.testing.assert_array_equal(net.to_vector(), before)  # the given network is never trained in place
    assert est.network_ != net
    # the fitted estimator does not hold the forcings (clones and pickles stay small)
    assert len(pickle.dumps(est)) < len(pickle.dumps(X.forcings)) / 10


# -------------------------------------------------------------------------------- fit / predict / score
@pytest.mark.parametrize("mapping", ["uniform", "distributed", "multi-linear", "ann"])
def test_predict_is_the_hybrid_simulation(units, fitted, basin, mapping):
    X, y = units
    est = fitted[mapping]
    q = skhydro.simulate(basin.mesh, basin.forcings, est.structure_, est.parameters_, est.initial_states_,
                         network=est.network_).discharge
    predictions = est.predict(X)
    assert len(predictions) == len(X)
    for (_, unit), series in zip(X.units.iterrows(), predictions):
        assert series.name == unit["gauge"]
        assert series.index[0] == unit["start"] and series.index[-1] == unit["end"]
        np.testing.assert_array_equal(series.to_numpy(), q.loc[series.index, unit["gauge"]].to_numpy())
    pd.testing.assert_frame_equal(est.simulate(X), q, check_names=False)
    score = est.score(X, y)
    assert score == pytest.approx(np.mean([nse(y.series(i).to_numpy(), p.to_numpy())
                                           for i, p in enumerate(predictions)]), rel=1e-12)
    # the cost is the mean of 1 - NSE over the units
    assert est.cost_ == pytest.approx(mean_unit_cost(X, y, q), rel=1e-10)
    assert score == pytest.approx(1.0 - est.cost_, rel=1e-10)
    assert clone(est).set_params(scoring="neg_rmse").get_params()["scoring"] == "neg_rmse"


def test_joint_training_moves_network_and_parameters(units):
    X, y = units
    for mapping in ("uniform", "distributed"):
        est = HybridFluxCorrector(mapping=mapping, max_iter=3, init_parameters=START, init_states=WET,
                                  random_state=0).fit(X, y)
        start = start_network(0)
        assert est.network_.layer_sizes == start.layer_sizes and est.network_ != start
        assert np.abs(est.network_.to_vector() - start.to_vector()).max() > 1e-3, mapping
        active = X.mesh.active
        for name in LEARNT:
            values = est.parameters_[name][active]
            assert np.abs(values - START[name]).max() > 1e-3, (mapping, name)
            if mapping == "uniform":
                assert np.ptp(values) < 1e-9 * max(1.0, abs(values).max()), name
        if mapping == "distributed":
            assert all(np.ptp(est.parameters_[name][active]) > 0 for name in LEARNT)
        np.testing.assert_array_equal(est.parameters_["ci"][active], START["ci"])  # not learnt


def test_ann_regionalisation_trains_both_networks(units, fitted):
    X, y = units
    est = fitted["ann"]
    assert est.network_ != start_network(0)
    # with the barely trained start (same seed): both networks moved away from where they began
    begin = barely_trained(X, y, mapping="ann", random_state=0)
    assert np.abs(est.network_.to_vector() - begin.network_.to_vector()).max() > 1e-3
    assert np.abs(est.coef_ - begin.coef_).max() > 1e-3
    assert est.cost_ < begin.history_[0]
    # descriptor-driven maps vary in space
    assert np.ptp(est.parameters_["cp"][X.mesh.active]) > 0
    # φ2 follows mapping_hidden_layer_sizes, φ1 hidden_layer_sizes
    small = HybridFluxCorrector(mapping="ann", max_iter=1, init_states=WET, random_state=0,
                                hidden_layer_sizes=(3,), mapping_hidden_layer_sizes=(5,)).fit(X, y)
    assert small.network_.layer_sizes == (4, 3, 4)
    n_desc, n_out = len(X.descriptors), len(LEARNT)
    assert small.coef_.size == small.mapping_.size() == n_desc * 5 + 5 + 5 * n_out + n_out


def test_gr5_mlp_structure(units):
    X, y = units
    est = HybridFluxCorrector("zero-gr5_mlp-lr", max_iter=3, init_states=WET, random_state=0).fit(X, y)
    assert set(est.parameters_) == {"ci", "cp", "ct", "kexc", "aexc", "llr"}
    assert est.structure_ == "zero-gr5_mlp-lr" and est.network_.layer_sizes == (4, 16, 4)
    assert est.coef_.shape == (5,) and est.cost_ < est.history_[0]
    series = est.correction_series(X)
    assert list(series.columns) == CORRECTIONS and (series.abs().to_numpy() < 1).all()


def test_verbose_shows_a_progress_bar(units, capsys):
    X, y = units
    HybridFluxCorrector(max_iter=1, init_states=WET, random_state=0, verbose=True).fit(X, y)
    assert "HybridFluxCorrector (uniform)" in capsys.readouterr().err


def test_batches_and_early_stopping(units):
    X, y = units
    est = HybridFluxCorrector(mapping="ann", max_iter=4, init_states=WET, random_state=0, batch_size=2,
                              early_stopping=True, n_iter_no_change=2).fit(X, y)
    assert len(est.validation_gauges_) == 1 and est.validation_gauges_[0] in X.gauges
    assert 1 <= len(est.validation_history_) <= 4 and est.n_iter_ == est.best_iteration_
    assert est.best_iteration_ == int(np.argmin(est.validation_history_)) + 1


# ---------------------------------------------------------------------------------------- model selection
class Spy(HybridFluxCorrector):
    """Records the forcings and mesh each fit receives (they must be the caller's, never copies)."""
    seen = []

    def fit(self, X, y):
        Spy.seen.append((X.forcings, X.mesh))
        return super().fit(X, y)


def test_cross_validate_with_gauge_and_period_splits(basin):
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, basin.descriptors, periods=2, warmup=48)
    Spy.seen = []
    est = Spy(max_iter=2, init_states=WET, random_state=0)
    gauge = cross_validate(est, X, y, cv=GaugeKFold(n_splits=2), scoring=["nse", "kge"], return_estimator=True)
    assert len(gauge["test_nse"]) == 2 and np.isfinite(gauge["test_nse"]).all()
    assert np.isfinite(gauge["test_kge"]).all()
    assert all(isinstance(e.network_, FluxCorrectionNetwork) for e in gauge["estimator"])
    period = cross_validate(est, X, y, cv=PeriodSplit(train_periods=[0], test_periods=[1]), scoring="nse")
    assert len(period["test_score"]) == 1 and np.isfinite(period["test_score"]).all()
    assert not hasattr(est, "network_")  # cross_validate fits clones
    assert len(Spy.seen) == 3 and all(f is X.forcings and m is X.mesh for f, m in Spy.seen)


def test_grid_search_over_the_network(units):
    X, y = units
    Spy.seen = []
    grid = {"hidden_layer_sizes": [(3,), (6,)], "activation": ["tanh", "relu"]}
    search = GridSearchCV(Spy(max_iter=1, init_states=WET, random_state=0), grid, cv=GaugeKFold(n_splits=2))
    search.fit(X, y)
    best = search.best_estimator_
    assert best.network_.layer_sizes == (4,) + search.best_params_["hidden_layer_sizes"] + (4,)
    assert best.network_.activation == search.best_params_["activation"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert len(Spy.seen) == 4 * 2 + 1 and all(f is X.forcings and m is X.mesh for f, m in Spy.seen)


# ------------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("mapping", ["uniform", "ann"])
def test_same_seed_same_fit(units, fitted, mapping):
    X, y = units
    again = clone(fitted[mapping]).fit(X, y)
    assert again.network_ == fitted[mapping].network_
    np.testing.assert_array_equal(again.coef_, fitted[mapping].coef_)
    for name, m in fitted[mapping].parameters_.items():
        np.testing.assert_array_equal(again.parameters_[name], m, err_msg=name)
    assert again.history_ == fitted[mapping].history_


def test_refit_is_idempotent(units):
    X, y = units
    est = HybridFluxCorrector(max_iter=2, init_states=WET, random_state=5)
    first = est.fit(X, y).network_
    second = est.fit(X, y).network_
    assert first == second


def test_random_state_chooses_the_start(units):
    X, y = units
    a = barely_trained(X, y, random_state=0)
    b = barely_trained(X, y, random_state=1)
    for est, seed in ((a, 0), (b, 1)):
        np.testing.assert_allclose(est.network_.to_vector(), start_network(seed).to_vector(), rtol=0, atol=1e-9)
    assert np.abs(a.network_.to_vector() - b.network_.to_vector()).max() > 1e-2
    # the output layer starts scaled down: corrections near zero at the start
    assert a.correction_series(X).abs().to_numpy().max() < 0.05
    # a RandomState instance seeds as its integer would
    c = barely_trained(X, y, random_state=np.random.RandomState(0))
    np.testing.assert_allclose(c.network_.to_vector(), start_network(0).to_vector(), rtol=0, atol=1e-9)


def test_init_network_is_used_as_given(units, basin):
    X, y = units
    net = start_network(7, (5,), "tanh").with_vector(np.random.default_rng(7).normal(0.0, 0.3, 4 * 5 + 5 + 5 * 4 + 4))
    # its architecture replaces hidden_layer_sizes and activation; random_state does not redraw it
    est = barely_trained(X, y, init_network=net, init_parameters=START, hidden_layer_sizes=(16,),
                         activation="relu", random_state=0)
    assert est.network_.layer_sizes == (4, 5, 4) and est.network_.activation == "tanh"
    np.testing.assert_allclose(est.network_.to_vector(), net.to_vector(), rtol=0, atol=1e-9)
    # the first cost is the one of the given network with the starting parameters
    q = skhydro.simulate(basin.mesh, basin.forcings, STRUCTURE, START, WET, network=net).discharge
    assert est.history_[0] == pytest.approx(mean_unit_cost(X, y, q), rel=1e-10)
    q_zero = skhydro.simulate(basin.mesh, basin.forcings, STRUCTURE, START, WET).discharge
    assert abs(mean_unit_cost(X, y, q_zero) - est.history_[0]) > 1e-3  # the network matters


def test_max_iter_zero_returns_the_start(units, basin):
    X, y = units
    net = start_network(7, (5,), "tanh")
    est = HybridFluxCorrector(max_iter=0, init_network=net, init_parameters=START, init_states=WET).fit(X, y)
    assert est.network_ == net and est.n_iter_ == 0
    q = skhydro.simulate(basin.mesh, basin.forcings, STRUCTURE, START, WET, network=net).discharge
    for series in est.predict(X):
        np.testing.assert_allclose(series.to_numpy(), q.loc[series.index, series.name].to_numpy(), rtol=1e-12)


def test_refit_with_another_mapping_drops_stale_attributes(units):
    X, y = units
    est = HybridFluxCorrector(mapping="ann", max_iter=1, init_states=WET, random_state=0).fit(X, y)
    est.set_params(mapping="uniform").fit(X, y)
    assert not hasattr(est, "mapping_") and not hasattr(est, "descriptor_correlations_")


# ------------------------------------------------------------------------------------------------ pickle
@pytest.mark.parametrize("mapping", ["uniform", "ann"])
def test_pickle_round_trip(units, fitted, mapping):
    X, y = units
    est = fitted[mapping]
    loaded = pickle.loads(pickle.dumps(est))
    assert type(loaded) is HybridFluxCorrector and loaded.get_params() == est.get_params()
    assert loaded.network_ == est.network_
    for a, b in zip(est.predict(X), loaded.predict(X)):
        pd.testing.assert_series_equal(a, b, check_exact=True)
    assert loaded.score(X, y) == est.score(X, y)
    pd.testing.assert_frame_equal(loaded.correction_series(X, gauge="SYN003"),
                                  est.correction_series(X, gauge="SYN003"), check_exact=True)
    if mapping == "ann":
        pd.testing.assert_frame_equal(loaded.descriptor_correlations_, est.descriptor_correlations_)


# -------------------------------------------------------------------------------------------- inspection
@pytest.fixture(scope="module")
def fluxes(units, fitted):
    X, _ = units
    return fitted["distributed"].simulate_fluxes(X)


def test_correction_series_of_the_basin(units, fitted, fluxes):
    X, _ = units
    series = fitted["distributed"].correction_series(X)
    assert isinstance(series, pd.DataFrame) and list(series.columns) == CORRECTIONS
    pd.testing.assert_index_equal(series.index, X.forcings.index)
    values = series.to_numpy()
    assert np.isfinite(values).all() and (np.abs(values) < 1.0).all()
    assert (np.abs(values).max(axis=0) > 0).all()  # a trained network corrects every flux
    active = X.mesh.active
    for name in CORRECTIONS:
        np.testing.assert_allclose(series[name].to_numpy(), fluxes[name][:, active].mean(axis=1), rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("gauge", INNER_GAUGES)
def test_correction_series_of_an_inner_gauge(units, fitted, fluxes, gauge):
    X, _ = units
    est = fitted["distributed"]
    mask = upstream_mask(X.mesh, gauge)
    assert 0 < mask.sum() < X.mesh.n_active
    assert mask.sum() == pytest.approx(X.mesh.gauges.loc[gauge, "area"])  # 1 km² cells
    series = est.correction_series(X, gauge=gauge)
    pd.testing.assert_index_equal(series.index, X.forcings.index)
    whole = est.correction_series(X)
    for name in CORRECTIONS:
        np.testing.assert_allclose(series[name].to_numpy(), fluxes[name][:, mask].mean(axis=1), rtol=1e-12,
                                   atol=1e-15)
    assert np.abs(series.to_numpy() - whole.to_numpy()).max() > 1e-6


def test_correction_series_of_the_outlet_is_the_basin(units, fitted):
    X, _ = units
    est = fitted["distributed"]
    assert upstream_mask(X.mesh, "SYN001").sum() == X.mesh.n_active
    pd.testing.assert_frame_equal(est.correction_series(X, gauge="SYN001"), est.correction_series(X),
                                  rtol=1e-13)


def test_correction_maps(units, fitted, fluxes):
    X, _ = units
    maps = fitted["distributed"].correction_maps(X)
    assert sorted(maps) == CORRECTIONS
    active = X.mesh.active
    assert (~active).any()
    for name, m in maps.items():
        assert m.shape == X.mesh.shape, name
        assert np.isnan(m[~active]).all() and np.isfinite(m[active]).all(), name
        assert (np.abs(m[active]) < 1.0).all(), name
        np.testing.assert_allclose(m[active], fluxes[name][:, active].mean(axis=0), rtol=1e-12, atol=1e-15)
        assert np.ptp(m[active]) > 0, name  # corrections depend on the cell's states


def test_uncorrected_fluxes_are_the_classical_structure(units, fitted, fluxes, basin):
    X, _ = units
    est = fitted["distributed"]
    plain = est.simulate_fluxes(X, corrected=False)
    classical = skhydro.simulate(basin.mesh, basin.forcings, CLASSICAL, est.parameters_, est.initial_states_,
                                 return_fluxes=True).fluxes
    shared = set(plain) & set(classical)
    assert {"pn", "en", "ps", "es", "perc", "lexc", "qt", "qup"} <= shared
    active = X.mesh.active
    for name in shared:
        np.testing.assert_allclose(plain[name][:, active], classical[name][:, active], rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    for name in CORRECTIONS:
        assert np.abs(plain[name][:, active]).max() == 0.0, name
    # the corrections change the internal fluxes and the discharge
    for name in ("ps", "es", "qt"):
        assert np.abs(fluxes[name][:, active] - plain[name][:, active]).max() > 1e-6, name
    # the interception does not depend on the network
    np.testing.assert_array_equal(fluxes["pn"][:, active], plain["pn"][:, active])


def test_no_correction_on_steps_with_missing_forcings(units, fitted, basin):
    X, y = units
    prcp, pet = np.array(basin.forcings.prcp, dtype=float), np.array(basin.forcings.pet, dtype=float)
    prcp[100:110] = np.nan
    pet[100:110] = np.nan
    forcings = skhydro.Forcings(prcp=prcp, pet=pet, dt=basin.forcings.dt, start="2019-10-01")
    X_gap, _ = skhydro.make_units(basin.mesh, forcings, basin.observed, warmup=48)
    series = fitted["uniform"].correction_series(X_gap, gauge="SYN002")
    assert (series.iloc[100:110].to_numpy() == 0.0).all()
    assert (series.iloc[90:100].abs().to_numpy() > 0).all() and (series.iloc[110:120].abs().to_numpy() > 0).all()
    maps = fitted["uniform"].correction_maps(X_gap)
    assert np.isfinite(maps["f1"][basin.mesh.active]).all()


def test_unknown_gauge(units, fitted):
    X, _ = units
    with pytest.raises(ValueError, match="unknown gauge"):
        fitted["uniform"].correction_series(X, gauge="SYN999")


# ---------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("params, error, match", [
    (dict(structure=CLASSICAL), ValueError, "hybrid"),
    (dict(structure="zero-gr5-kw"), ValueError, "hybrid"),
    (dict(optimizer="sbs"), ValueError, "optimizer"),
    (dict(mapping="distributed", optimizer="sbs"), ValueError, "optimizer"),
    (dict(mapping="ann", optimizer="lbfgsb"), ValueError, "optimizer"),
    (dict(mapping="nonsense"), ValueError, "mapping"),
    (dict(activation="swish"), ValueError, "activation"),
    (dict(mapping="ann", mapping_activation="swish"), ValueError, "mapping_activation"),
    (dict(hidden_layer_sizes=(0,)), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=()), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(4, 4, 4, 4)), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=2.5), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(8, True)), ValueError, "hidden_layer_sizes"),
    (dict(init_network="network"), TypeError, "init_network"),
    (dict(init_network={"weight_1": np.zeros((16, 4))}), TypeError, "init_network"),
    (dict(init_network=FluxCorrectionNetwork.zeros(3, 4)), ValueError, "layer sizes"),
    (dict(init_network=FluxCorrectionNetwork.zeros(4, 2)), ValueError, "layer sizes"),
    (dict(random_state="zero"), ValueError, "random_state"),
    (dict(random_state=1.5), ValueError, "random_state"),
    (dict(mapping="multi-linear", descriptors=["altitude"]), ValueError, "descriptors"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(scoring="rmse"), ValueError, "scoring"),
])
def test_bad_hyper_parameters(units, params, error, match):
    X, y = units
    est = HybridFluxCorrector(**dict(dict(max_iter=1, init_states=WET), **params))
    with pytest.raises(error, match=match):
        est.fit(X, y)
    assert not hasattr(est, "network_") and not hasattr(est, "_start_network")


@pytest.mark.parametrize("estimator", [DistributedModel, RegionalModel])
@pytest.mark.parametrize("structure", [STRUCTURE, "zero-gr5_mlp-kw"])
def test_classical_estimators_refuse_hybrid_structures(units, estimator, structure):
    X, y = units
    with pytest.raises(ValueError, match="HybridFluxCorrector"):
        estimator(structure, max_iter=1, init_states=WET).fit(X, y)


def test_regional_mapping_needs_descriptors(basin):
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, warmup=48)
    with pytest.raises(ValueError, match="descriptors"):
        HybridFluxCorrector(mapping="ann", max_iter=1, init_states=WET).fit(X, y)


def test_another_grid_is_refused(units, fitted):
    rng = np.random.default_rng(0)
    flwdir = random_tree_flwdir(6, 5, (5, 2), rng, outlet_code=5)
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "out", "row": 5, "col": 2}])
    prcp, pet = random_forcing(120, (6, 5), rng)
    forcings = skhydro.Forcings(prcp=prcp, pet=pet, dt=3600, start="2019-10-01")
    q = skhydro.simulate(mesh, forcings, CLASSICAL).discharge
    X_small, y_small = skhydro.make_units(mesh, forcings, q, warmup=24)
    est = fitted["uniform"]
    for call in (lambda: est.predict(X_small), lambda: est.score(X_small, y_small),
                 lambda: est.simulate_fluxes(X_small), lambda: est.correction_series(X_small),
                 lambda: est.correction_maps(X_small)):
        with pytest.raises(ValueError, match="grid"):
            call()


def test_bad_data(units):
    X, y = units
    est = HybridFluxCorrector(max_iter=1, init_states=WET)
    with pytest.raises(TypeError, match="ObservationUnits"):
        est.fit(np.zeros((3, 2)), y)
    with pytest.raises(ValueError, match="units"):
        est.fit(X[[0, 1]], y[[1, 2]])
