"""Exact gradients of the whole model (reverse kernels + checkpointing + cost), checked numerically.

Finite-difference reference: central differences of the cost, per component (one parameter or initial
state on one cell). A min/max of the model (interception overflow, the transfer floor, ...) crossed by a
large step spoils the difference, and round-off spoils a tiny one, so each component is tried with steps
of 1e-4, 1e-5, 1e-3, 1e-6 and 1e-7 (relative to max(|x|, 0.1)) and must agree with the adjoint to 1e-5 with at
least one of them (or with a five-point stencil at 1e-3 or 1e-4, for costs whose round-off is large, or with a
one-sided difference at 1e-3 to 1e-6 where the run sits on or near a kink). A wrong adjoint agrees with none.

Double precision limits what finite differences can resolve: the effect of one cell's interception
level on a large outlet's discharge is ~1e-14 of that discharge. The every-component checks therefore
gauge every cell of a small catchment (each cell's own discharge enters the cost); on real basins with a
few gauges, the largest components and random directions over all cells are checked.
"""
import numpy as np
import pandas as pd
import pytest

import skhydro
from skhydro.cost import DischargeCost
from skhydro.gradient import default_checkpoint_interval, problem_value_and_gradient
from skhydro.simulation import Problem
from skhydro.structures import HYDROLOGICAL_MODULES, SNOW_MODULES

# every combination of snow, classical hydrological and routing module (plus routing "zero" once per snow
# module); the hybrid modules' gradients are checked in test_hybrid.py
CLASSICAL = [h for h in HYDROLOGICAL_MODULES if "network" not in HYDROLOGICAL_MODULES[h]]
STRUCTURES = [f"{snow}-{hydro}-{routing}" for snow in SNOW_MODULES for hydro in CLASSICAL
              for routing in ("lag0", "lr", "kw")] + ["zero-gr4-zero", "ssn-gr4-zero"]
RTOL = 1e-5
STEPS = (1e-4, 1e-5, 1e-3, 1e-6, 1e-7)


# ------------------------------------------------------------------------------------------- cases
def random_inputs(mesh, structure, rng):
    """Spatially random parameters and initial states inside realistic ranges."""
    def field(lo, hi):
        return rng.uniform(lo, hi, mesh.shape)

    _, hydro, routing = structure.split("-")
    params = dict(ci=field(0.5, 2.0), cp=field(50, 300), ct=field(20, 200), kexc=field(-2, 2))
    params.update(be=field(2, 15), kmlt=field(0.2, 2.0), ca=field(50, 300), cc=field(20, 200), kb=field(0.5, 2.0))
    params.update(b=field(0.05, 0.5), cusl=field(20, 300), cmsl=field(150, 1000), cbsl=field(200, 1500),
                  ks=field(1, 50), pbc=field(2, 15), ds=field(0.05, 0.8), dsm=field(0.5, 20), ws=field(0.3, 0.9))
    if hydro in ("gr5", "gr6"):
        # a gain while ht > aexc: the direct branch max(0, prd + l) then never sits on its kink, which
        # the linear exchange otherwise crosses often enough to spoil finite differences
        params.update(kexc=field(0, 0.2), aexc=field(0.01, 0.05))
    states = dict(hi=field(0.05, 0.6), hp=field(0.1, 0.7), ht=field(0.05, 0.5), hl=field(0.05, 0.5),
                  he=field(-50, 5), hs=field(0.0, 20.0), ha=field(0.1, 0.7), hc=field(0.05, 0.5),
                  hcl=field(0.05, 0.6), husl=field(0.1, 0.8), hmsl=field(0.1, 0.8), hbsl=field(0.05, 0.9))
    params.update(cl=field(20, 300))
    if routing == "kw":
        params.update(akw=field(2, 10), bkw=field(0.4, 0.8))
    if routing == "lr":
        params.update(llr=field(30, 300))
        states.update(hlr=field(0.1, 10))
    s = skhydro.structures.get_structure(structure)
    return ({k: v for k, v in params.items() if k in s.parameters},
            {k: v for k, v in states.items() if k in s.states})


def observations(mesh, forcings, structure, true_parameters, states, rng):
    """Noisy discharge of a model with other parameters, with gaps."""
    s = skhydro.structures.get_structure(structure)
    truth = {k: v for k, v in true_parameters.items() if k in s.parameters}
    q = skhydro.simulate(mesh, forcings, structure, truth, states).discharge
    q = q * (1.0 + 0.1 * rng.normal(size=q.shape))
    q.iloc[::17] = np.nan
    return q


class Case:
    """A Problem, its cost and the adjoint gradient, with a finite-difference probe."""

    def __init__(self, mesh, forcings, structure, parameters, states, observed, metric="nse", warmup=24,
                 num_threads=1, **cost_options):
        self.problem = Problem(mesh, forcings, structure, parameters, states, num_threads)
        self.cost = DischargeCost(observed, forcings.index, mesh.gauge_codes, metric=metric, warmup=warmup,
                                  **cost_options)
        self.result = problem_value_and_gradient(self.problem, self.cost.value_and_gradient)
        p, r = self.problem, self.result
        blocks = [(p.hparams, r.hparams), (p.rparams, r.rparams), (p.hstates0, r.hstates), (p.rstates0, r.rstates)]
        rows = [(values, grads, i) for values, grads in blocks for i in range(values.shape[0])]
        self.rows = dict(zip(p.structure.parameters + p.structure.states, rows))

    def value(self):
        return self.cost.value(self.problem.run()[0])

    def gradient(self, name):
        _, grads, i = self.rows[name]
        return grads[i]

    def _shifted(self, name, k, h):
        values, _, i = self.rows[name]
        x0 = values[i, k]
        try:
            values[i, k] = x0 + h
            return self.value()
        finally:
            values[i, k] = x0

    def finite_difference(self, name, k, rel_step, order=2):
        """Central differences of order 2, or 4 (five-point stencil: larger steps, same accuracy), as a
        one-element list; or, with ``order=1``, the forward and backward differences: where the trajectory
        sits on a kink (a min/max taken with equality somewhere in the run) the adjoint, which follows the
        branch the forward took, is one of the one-sided derivatives and the central difference neither."""
        values, _, i = self.rows[name]
        h = rel_step * max(abs(values[i, k]), 0.1)
        up, down = self._shifted(name, k, h), self._shifted(name, k, -h)
        if order == 1:
            mid = self.value()
            return [(up - mid) / h, (mid - down) / h]
        d1 = (up - down) / (2 * h)
        if order == 2:
            return [d1]
        d2 = (self._shifted(name, k, 2 * h) - self._shifted(name, k, -2 * h)) / (4 * h)
        return [(4 * d1 - d2) / 3]

    def directional_check(self, name, rng, n_directions=2):
        """Central differences along random directions over all cells against ``g · v``."""
        values, _, i = self.rows[name]
        g = self.gradient(name)
        x0 = values[i].copy()
        scale = np.maximum(np.abs(x0), 0.1)
        errors = []
        for _ in range(n_directions):
            v = rng.uniform(-1, 1, x0.size) * scale
            best = np.inf
            for step in STEPS:
                try:
                    values[i] = x0 + step * v
                    up = self.value()
                    values[i] = x0 - step * v
                    down = self.value()
                finally:
                    values[i] = x0
                fd = (up - down) / (2 * step)
                best = min(best, abs(fd - g @ v) / abs(g @ v))
                if best <= RTOL:
                    break
            errors.append(best)
        return max(errors)

    def check(self, name, cells=None):
        """Components of ``name`` (all above 1e-3 of the largest, or those of ``cells``) against FD.

        Returns the list of (cell, adjoint, finite differences) that match no step.
        """
        g = self.gradient(name)
        big = np.flatnonzero(np.abs(g) > 1e-3 * np.abs(g).max())
        cells = big if cells is None else np.intersect1d(cells, big)
        failures = []
        for k in cells:
            fds = []
            for step, order in [(s, 2) for s in STEPS] + [(1e-3, 4), (1e-4, 4)] + [(s, 1) for s in (1e-3, 1e-4, 1e-5, 1e-6)]:
                fds.extend(self.finite_difference(name, k, step, order))
                if any(abs(fd - g[k]) <= RTOL * abs(g[k]) for fd in fds[-2:]):
                    break
            else:
                failures.append((int(k), g[k], fds))
        return failures, len(cells)


def gauged_sub_basin(basin, code):
    """The catchment of one gauge of the synthetic basin, with a gauge on every cell."""
    m, g = basin.mesh, basin.mesh.gauges.loc[code]
    sub = skhydro.Mesh.from_flow_directions(m.flwdir, dx=m.dx, dy=m.dy,
                                            gauges=[dict(code=code, row=int(g.row), col=int(g.col))])
    rows, cols = np.nonzero(sub.active)
    gauges = [dict(code=f"C{r}_{c}", row=int(r), col=int(c)) for r, c in zip(rows, cols)]
    return skhydro.Mesh.from_flow_directions(m.flwdir, dx=m.dx, dy=m.dy, gauges=gauges)


@pytest.fixture(scope="module")
def synthetic():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240)


@pytest.fixture(scope="module")
def synthetic_snow():
    """The same basin with temperature, snowfall and melt (the forcings of the snow structures)."""
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240, snow=True)


@pytest.fixture(scope="module")
def basin_for(synthetic, synthetic_snow):
    return lambda structure: synthetic_snow if structure.startswith("ssn") else synthetic


@pytest.fixture(scope="module", params=STRUCTURES)
def small_case(request, basin_for):
    """The 178-cell catchment of gauge SYN003, gauged on every cell, 240 hourly steps, random inputs."""
    structure = request.param
    basin = basin_for(structure)
    rng = np.random.default_rng(1)
    mesh = gauged_sub_basin(basin, "SYN003")
    params, states = random_inputs(mesh, structure, rng)
    # the basin's laws give GR4's true parameters; the others are the random maps, perturbed (with
    # registry defaults for them, vic3l's cells would barely run off in 240 steps: near-constant
    # observations make the NSE cost huge and finite differences unable to resolve single cells)
    truth = {k: np.minimum(v * rng.uniform(0.85, 1.15, v.shape), 0.99) if k in ("ws", "ds", "aexc")
             else v * rng.uniform(0.85, 1.15, v.shape) for k, v in params.items() if k != "ci"}
    truth.update(basin.true_parameters)
    obs = observations(mesh, basin.forcings, structure, truth, states, rng)
    return Case(mesh, basin.forcings, structure, params, states, obs)


# ------------------------------------------------------------------- every component, small basin
def test_every_component_matches_finite_differences(small_case):
    report = {}
    for name in small_case.rows:
        failures, n = small_case.check(name)
        assert n > 0
        report[name] = failures
    assert not any(report.values()), {k: v[:3] for k, v in report.items() if v}


# ------------------------------------------------ sampled components, whole synthetic basin, costs
@pytest.mark.parametrize("metric, weights", [("nse", "mean"), ("kge", "median"), ("rmse", [0.1, 0.2, 0.3, 0.4]),
                                             ("nnse", "uquartile"), ("mse", "mean"), ("lgrm", "mean")])
def test_whole_synthetic_basin(synthetic, metric, weights):
    structure = "zero-gr4-kw"
    rng = np.random.default_rng(2)
    mesh = synthetic.mesh
    params, states = random_inputs(mesh, structure, rng)
    obs = observations(mesh, synthetic.forcings, structure, synthetic.true_parameters, states, rng)
    case = Case(mesh, synthetic.forcings, structure, params, states, obs, metric=metric, weights=weights)
    for name in case.rows:
        failures, _ = case.check(name, np.argsort(-np.abs(case.gradient(name)))[:4])
        assert not failures, (name, failures)
        assert case.directional_check(name, rng) <= RTOL, name


# ----------------------------------------------------------------------------------- hydro-smash data
@pytest.mark.smash
@pytest.mark.parametrize("routing", ["lag0", "lr", "kw"])
def test_cance_sampled_components(reference_case, routing):
    case_ = reference_case("Cance", routing)
    rng = np.random.default_rng(3)
    mesh, forcings = case_.mesh, case_.forcings
    params, states = random_inputs(mesh, case_.structure, rng)
    # observations: the default-parameter discharge of the dataset, with noise and gaps
    obs = case_.simulate().discharge * (1.0 + 0.05 * rng.normal(size=(forcings.ntime, len(mesh.gauge_codes))))
    obs.iloc[::13] = np.nan
    case = Case(mesh, forcings, case_.structure, params, states, obs, gauges=mesh.gauge_codes)
    for name in case.rows:
        failures, _ = case.check(name, np.argsort(-np.abs(case.gradient(name)))[:3])
        assert not failures, (name, failures)
        assert case.directional_check(name, rng) <= RTOL, name


@pytest.mark.smash
@pytest.mark.slow
@pytest.mark.parametrize("routing", ["lag0", "lr", "kw"])
def test_cance_every_resolvable_component(reference_case, routing):
    """Every component whose effect on the cost finite differences can resolve (|g x| >= 1e-9 J)."""
    case_ = reference_case("Cance", routing)
    rng = np.random.default_rng(4)
    params, states = random_inputs(case_.mesh, case_.structure, rng)
    obs = case_.simulate().discharge * (1.0 + 0.05 * rng.normal(size=(case_.forcings.ntime, 3)))
    case = Case(case_.mesh, case_.forcings, case_.structure, params, states, obs, gauges=case_.mesh.gauge_codes)
    for name in case.rows:
        values, grads, i = case.rows[name]
        effect = np.abs(grads[i]) * np.maximum(np.abs(values[i]), 0.1)
        failures, _ = case.check(name, np.flatnonzero(effect >= 1e-9 * abs(case.result.value)))
        assert not failures, (name, failures[:3])


# ------------------------------------------------------------------------ checkpoints and threads
@pytest.mark.parametrize("structure", STRUCTURES)
def test_checkpoint_interval_does_not_change_the_gradient(basin_for, structure):
    synthetic = basin_for(structure)
    rng = np.random.default_rng(5)
    mesh = synthetic.mesh
    params, states = random_inputs(mesh, structure, rng)
    problem = Problem(mesh, synthetic.forcings, structure, params, states)
    cost = DischargeCost(synthetic.observed, synthetic.forcings.index, mesh.gauge_codes)
    ref = problem_value_and_gradient(problem, cost.value_and_gradient, checkpoint_interval=1)
    for interval in (7, default_checkpoint_interval(synthetic.forcings.ntime), 239, 240, 10_000):
        other = problem_value_and_gradient(problem, cost.value_and_gradient, checkpoint_interval=interval)
        assert other.value == ref.value
        for a, b in [(ref.hparams, other.hparams), (ref.rparams, other.rparams), (ref.hstates, other.hstates),
                     (ref.rstates, other.rstates)]:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_checkpointed_forward_equals_simulation(basin_for, structure):
    synthetic = basin_for(structure)
    rng = np.random.default_rng(6)
    mesh = synthetic.mesh
    params, states = random_inputs(mesh, structure, rng)
    problem = Problem(mesh, synthetic.forcings, structure, params, states)
    captured = {}

    def cost(q):
        captured["q"] = q.copy()
        return 0.0, np.zeros_like(q)

    problem_value_and_gradient(problem, cost, checkpoint_interval=13)
    q_sim = skhydro.simulate(mesh, synthetic.forcings, structure, params, states).discharge.to_numpy()
    np.testing.assert_array_equal(captured["q"], q_sim)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_one_and_two_threads_identical(structure):
    # a comb: 2100 two-cell tributaries (rows 0-1, flowing south) into a west-to-east river (row 2), so one
    # routing level holds more than 2048 cells and is routed by several threads
    rng = np.random.default_rng(7)
    ncol = 2100
    flwdir = np.full((3, ncol), 5)
    flwdir[2] = 3
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, active_cells=np.ones(flwdir.shape, bool),
                                             gauges=[dict(code="OUT", row=2, col=ncol - 1),
                                                     dict(code="MID", row=2, col=1000)])
    assert np.diff(mesh.level_ptr).max() >= 2048
    nt = 48
    prcp = np.where(rng.random((nt, 3, ncol)) < 0.3, rng.exponential(3.0, (nt, 3, ncol)), 0.0)
    pet = np.full((nt, 3, ncol), 0.1)
    temp = rng.normal(0.5, 3.0, (nt, 3, ncol))
    forcings = skhydro.Forcings(prcp, pet, dt=3600, start="2020-01-01", temp=temp, prcp_partitioning=True)
    params, states = random_inputs(mesh, structure, rng)
    obs = pd.DataFrame(rng.uniform(0.1, 5, (nt, 2)), index=forcings.index, columns=["OUT", "MID"])
    results = [skhydro.value_and_gradient(mesh, forcings, structure, params, states, obs, num_threads=n)
               for n in (1, 2)]
    assert results[0][0] == results[1][0]
    for name in results[0][1]:
        np.testing.assert_array_equal(results[0][1][name], results[1][1][name])


# ------------------------------------------------------------------------------------- public API
def test_value_and_gradient_public_api(synthetic):
    value, grads = skhydro.value_and_gradient(synthetic.mesh, synthetic.forcings, "zero-gr4-lr",
                                              observed=synthetic.observed, cost="kge", gauges=["SYN001", "SYN003"],
                                              weights=[0.7, 0.3], warmup="2019-10-02")
    s = skhydro.structures.get_structure("zero-gr4-lr")
    assert set(grads) == set(s.parameters + s.states)
    for g in grads.values():
        assert g.shape == synthetic.mesh.shape
        assert np.isfinite(g).all()
        assert (g[~synthetic.mesh.active] == 0).all()
    sim = skhydro.simulate(synthetic.mesh, synthetic.forcings, "zero-gr4-lr").discharge
    cost = DischargeCost(synthetic.observed, synthetic.forcings.index, synthetic.mesh.gauge_codes, metric="kge",
                         gauges=["SYN001", "SYN003"], weights=[0.7, 0.3], warmup="2019-10-02")
    assert value == pytest.approx(cost.value(sim.to_numpy()), rel=1e-14)


def test_value_and_gradient_errors(synthetic):
    args = (synthetic.mesh, synthetic.forcings, "zero-gr4-kw")
    with pytest.raises(ValueError, match="observed"):
        skhydro.value_and_gradient(*args)
    with pytest.raises(ValueError, match="checkpoint_interval"):
        skhydro.value_and_gradient(*args, observed=synthetic.observed, checkpoint_interval=0)
    with pytest.raises(ValueError):
        skhydro.value_and_gradient(*args, observed=synthetic.observed, cost="r2")
    with pytest.raises(ValueError, match="llr"):
        skhydro.value_and_gradient(*args, parameters={"llr": 3.0}, observed=synthetic.observed)
