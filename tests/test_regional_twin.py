"""Twin experiment of the regionalisation (issue 6): true parameter maps from descriptors by a nonlinear
law, observed at half of the gauges only. The ANN mapping learnt on the calibration gauges must validate
on the other gauges within 0.05 NSE of the simulation with the true maps (NSE 1, noise-free), and beat
both a uniform calibration and the multi-linear mapping there."""
import numpy as np
import pytest

import skhydro
from skhydro.estimators import DistributedModel, RegionalANNMapping, RegionalModel
from skhydro.mappings import Descriptors

WET = {"hp": 0.5, "ht": 0.3}
LEARNT = ["cp", "ct"]


def scattered_gauges(mesh, n, rng, min_cells=25, max_cells=600, spacing=6):
    """``n`` gauges on cells draining ``min_cells``-``max_cells`` cells, at least ``spacing`` cells apart."""
    acc = mesh.flow_accumulation_cells
    candidates = np.argwhere(mesh.active & (acc >= min_cells) & (acc <= max_cells))
    rng.shuffle(candidates)
    chosen = []
    for r, c in candidates:
        if all(abs(r - rr) + abs(c - cc) > spacing for rr, cc in chosen):
            chosen.append((int(r), int(c)))
        if len(chosen) == n:
            break
    return [dict(code=f"G{i:02d}", row=r, col=c) for i, (r, c) in enumerate(chosen)]


@pytest.fixture(scope="module")
def nonlinear_twin():
    basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=1500, initial_states=WET, noise=0.0)
    m0 = basin.mesh
    outlet = dict(code="OUT", row=int(m0.gauges.loc["SYN001", "row"]), col=int(m0.gauges.loc["SYN001", "col"]))
    gauges = scattered_gauges(m0, 12, np.random.default_rng(0)) + [outlet]
    mesh = skhydro.Mesh.from_flow_directions(m0.flwdir, dx=m0.dx, dy=m0.dy, gauges=gauges, active_cells=m0.active)
    d = Descriptors(basin.descriptors)
    slope, woodland, clay = (d.transformed(n) for n in ("slope", "woodland", "clay"))
    truth = dict(basin.true_parameters)
    truth["cp"] = 80.0 + 520.0 * np.exp(-0.8 * (slope - 0.3) ** 2)  # a bump in slope: not monotone
    truth["ct"] = 40.0 + 360.0 / (1.0 + np.exp(-2.5 * woodland * clay))  # an interaction of two descriptors
    q = skhydro.simulate(mesh, basin.forcings, "zero-gr4-kw", truth, WET).discharge
    X, y = skhydro.make_units(mesh, basin.forcings, q, basin.descriptors, warmup=200)
    known = {k: v for k, v in truth.items() if k not in LEARNT}  # the other parameters are given
    return X, y, np.arange(0, len(X), 2), np.arange(1, len(X), 2), known


def test_ann_mapping_validates_on_unobserved_gauges(nonlinear_twin):
    X, y, cal, val, known = nonlinear_twin
    common = dict(parameters=LEARNT, init_states=WET)
    uniform = DistributedModel(mapping="uniform", optimizer="lbfgsb", max_iter=30, init_parameters=known,
                               **common).fit(X[cal], y[cal])
    start = dict(known, **{p: uniform.parameters_[p] for p in LEARNT})
    linear = RegionalModel(mapping="multi-linear", max_iter=80, init_parameters=start, **common).fit(X[cal], y[cal])
    ann = RegionalANNMapping(hidden_layer_sizes=(16, 16), max_iter=300, learning_rate=0.01, random_state=0,
                             init_parameters=known, **common).fit(X[cal], y[cal])
    scores = {name: m.score(X[val], y[val]) for name, m in (("uniform", uniform), ("multi-linear", linear),
                                                             ("ann", ann))}
    assert scores["ann"] >= 1.0 - 0.05, scores  # the true maps give NSE 1 on noise-free observations
    assert scores["ann"] > scores["uniform"] and scores["ann"] > scores["multi-linear"], scores
    assert ann.score(X[cal], y[cal]) > 0.99
