"""Parity with the reference implementation, hydro-smash 1.3.0, on its Cance (hourly) and Lez (daily) datasets.

Tolerances: smash computes everything in float32 (libm transcendentals, -O2), skhydro in float64, so
bit-identical results are out of reach. Following spec §10.3, a float64 implementation of the same equations
agrees with smash to ~0.2-5e-6 of the peak discharge for GR4 with routing lag0/lr/kw (float32 rounding of the
reference dominates, e.g. in the transfer-store outflow (h* - h)·c that cancels at low flow). We require
max_t |Q - Q_ref| / max_t |Q_ref| <= 1e-5 per gauge, an NSE >= 0.99999, and final normalised states within
1e-5 (absolute).
"""
import numpy as np
import pytest

import skhydro
from helpers import SMASH_OPTIONS, nse, smash_forcings, smash_forward

pytestmark = pytest.mark.smash

CASES = [(d, r) for d in ("Cance", "Lez") for r in ("lag0", "lr", "kw")]
REL_TOL = 1e-5
NSE_MIN = 0.99999
STATE_ATOL = 1e-5


def random_parameters(case, seed):
    """A seeded, spatially distributed parameter set (and initial states) as float32-representable maps."""
    rng = np.random.default_rng(seed)
    shape = case.mesh.shape
    dt = case.forcings.dt
    params = {
        "cp": rng.uniform(50, 800, shape),
        "ct": rng.uniform(20, 800, shape),
        "kexc": rng.uniform(-5, 2, shape),
    }
    if case.routing == "lr":
        # llr is in minutes: [1, 500] at hourly steps, scaled with dt like the default (5 -> 5 dt/3600)
        params["llr"] = np.exp(rng.uniform(np.log(1.0), np.log(500.0), shape)) * dt / 3600.0
    if case.routing == "kw":
        params["akw"] = rng.uniform(1, 20, shape)
        params["bkw"] = rng.uniform(0.3, 0.9, shape)
    states = {"hi": rng.uniform(0.0, 0.9, shape), "hp": rng.uniform(0.05, 0.95, shape),
              "ht": rng.uniform(0.05, 0.95, shape)}
    if case.routing == "lr":
        states["hlr"] = rng.uniform(0.0, 50.0, shape)
    as32 = lambda d: {k: v.astype(np.float32) for k, v in d.items()}  # noqa: E731
    return as32(params), as32(states)


def compare(case, ours, ref_model, state_atol=STATE_ATOL, rel_tol=REL_TOL):
    """Per-gauge discharge and final-state comparison of an skhydro result with a smash model."""
    q = ours.discharge.to_numpy()
    q_ref = case.q_of(ref_model)
    assert q.shape == q_ref.shape
    assert list(ours.discharge.columns) == [str(c) for c in ref_model.mesh.code]
    rel = np.abs(q - q_ref).max(axis=0) / np.abs(q_ref).max(axis=0)
    assert (rel <= rel_tol).all(), f"max |Q - Q_ref| / max |Q_ref| per gauge: {rel}"
    for g in range(q.shape[1]):
        assert nse(q[:, g], q_ref[:, g]) >= NSE_MIN, f"NSE at gauge {g}: {nse(q[:, g], q_ref[:, g])}"
    act = case.active
    final_ref = case.final_states_of(ref_model)
    assert set(final_ref) == set(ours.final_states)
    for name, ref in final_ref.items():
        got = ours.final_states[name][act]
        if name == "hi" and ours.parameters["ci"][act].min() < 1e-3:
            # without the interception adjustment (daily steps) ci is 1e-6 mm: the level is then the ratio
            # of two float32 round-off errors in the reference (any value in [0, 1]); compare the water
            # it stores, hi ci, in mm instead
            ci = ours.parameters["ci"][act]
            np.testing.assert_allclose(got * ci, ref[act] * ci, rtol=0, atol=state_atol, err_msg=name)
        elif skhydro.structures.variable(name).unit == "mm":
            # in mm, not normalised: 1e-5 of the field's scale, the same criterion as for the levels in
            # [0, 1]. (At the end of the Cance period flows are low and the float32 cancellation of the
            # reference's transfer outflow gives cell discharges ~1e-5-5e-5 apart, so cells with a small
            # hlr can differ by ~2e-5 mm while hlr reaches ~50 mm elsewhere.)
            scale = max(1.0, np.abs(ref[act]).max())
            np.testing.assert_allclose(got, ref[act], rtol=0, atol=state_atol * scale, err_msg=name)
        else:
            np.testing.assert_allclose(got, ref[act], rtol=0, atol=state_atol, err_msg=name)
    return rel


@pytest.mark.parametrize("dataset, routing", CASES)
def test_default_parameters(reference_case, dataset, routing):
    case = reference_case(dataset, routing)
    # smash's parameter maps (its adjusted ci included)
    compare(case, case.simulate(), case.model)
    # skhydro's own defaults, ci adjusted by skhydro at sub-daily steps
    own = skhydro.simulate(case.mesh, case.forcings, case.structure)
    compare(case, own, case.model)
    act = case.active
    for name, ref in case.parameters.items():
        np.testing.assert_allclose(own.parameters[name][act], ref[act], rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("dataset, routing", CASES)
def test_random_parameters(reference_case, dataset, routing):
    case = reference_case(dataset, routing)
    seed = 1000 + CASES.index((dataset, routing))
    params, states = random_parameters(case, seed)
    ref_model = smash_forward(case.model, parameters=params, states=states)
    ours_params = dict(case.parameters, **case.parameters_of(ref_model))
    act = case.active
    for name, value in params.items():  # smash holds exactly the float32 values we drew
        np.testing.assert_array_equal(ours_params[name][act], value[act].astype(np.float64))
    ours = case.simulate(parameters=ours_params, states={k: v.astype(np.float64) for k, v in states.items()})
    compare(case, ours, ref_model)
    # the cached reference is untouched
    assert np.array_equal(case.q_of(case.model), case.q_of(smash_forward(case.model)))


@pytest.mark.parametrize("routing", ["lr", "kw"])
def test_missing_data(reference_case, routing):
    # missing prcp (and pet) on blocks of cells and steps: -99 in smash, NaN or -99 in skhydro
    case = reference_case("Cance", routing)
    rng = np.random.default_rng(7)
    prcp = np.array(case.model.atmos_data.prcp)  # (nrow, ncol, ntime)
    pet = np.array(case.model.atmos_data.pet)
    nrow, ncol, nt = prcp.shape
    for _ in range(30):
        r, c, t = rng.integers(nrow - 4), rng.integers(ncol - 4), rng.integers(nt - 48)
        prcp[r:r + 4, c:c + 4, t:t + 48] = -99.0
    pet[rng.random(pet.shape) < 0.02] = -99.0
    # around the main flood too
    prcp[5:15, 10:20, 1190:1215] = -99.0
    ref_model = smash_forward(case.model, prcp=prcp, pet=pet)
    ours_prcp = np.moveaxis(prcp.astype(np.float64), -1, 0)
    ours_prcp[ours_prcp < 0] = np.nan
    forcings = skhydro.Forcings(ours_prcp, np.moveaxis(pet.astype(np.float64), -1, 0), dt=case.forcings.dt,
                                start=case.forcings.start)
    ours = skhydro.simulate(case.mesh, forcings, case.structure, parameters=case.parameters)
    compare(case, ours, ref_model)


# --------------------------------------------------------------------------------------------------
# reference numbers of spec §10.4 (hydro-smash 1.3.0, default parameters, adjusted ci)
# --------------------------------------------------------------------------------------------------
REFERENCE_NUMBERS = {
    # (dataset, routing): (sum Q per gauge, max Q per gauge, argmax per gauge)
    ("Cance", "lr"): ((10295.8, 1699.33, 443.491), (100.449, 20.1681, 5.35651), (1215, 1212, 1212)),
    ("Cance", "kw"): ((10102.8, 1674.43, 438.907), (81.4634, 14.0580, 4.06696), (1220, 1218, 1217)),
    ("Cance", "lag0"): ((10295.8, 1699.33, 443.491), (100.451, 20.1684, 5.35652), (1215, 1212, 1212)),
    ("Lez", "lr"): ((526.902, 502.343, 449.276), (17.9074, 17.2132, 15.6241), (238, 238, 238)),
    ("Lez", "kw"): ((527.056, 502.470, 449.399), (14.0771, 13.7100, 12.6127), (239, 239, 239)),
}


def own_default_run(case):
    return skhydro.simulate(case.mesh, case.forcings, case.structure).discharge.to_numpy()


@pytest.mark.parametrize("dataset, routing", list(REFERENCE_NUMBERS))
def test_reference_numbers(reference_case, dataset, routing):
    q = own_default_run(reference_case(dataset, routing))
    total, peak, argmax = REFERENCE_NUMBERS[dataset, routing]
    # the spec gives 6 significant digits (half a unit of the last digit is <= 5e-6 relative)
    np.testing.assert_allclose(q.sum(axis=0), total, rtol=1e-5)
    np.testing.assert_allclose(q.max(axis=0), peak, rtol=1e-5)
    np.testing.assert_array_equal(q.argmax(axis=0), argmax)


def test_reference_numbers_cance_kw(reference_case):
    case = reference_case("Cance", "kw")
    res = skhydro.simulate(case.mesh, case.forcings, case.structure)
    q = res.discharge
    np.testing.assert_allclose(q["V3524010"].to_numpy()[1218:1223],
                               [78.51324, 80.80251, 81.46340, 80.34666, 78.32295], rtol=1e-5)
    np.testing.assert_allclose(q.mean().to_numpy(), [7.01585, 1.16280, 0.304797], rtol=1e-5)
    act = case.active
    assert res.final_states["hp"][act].mean() == pytest.approx(0.890695, rel=1e-5)
    assert res.final_states["ht"][act].mean() == pytest.approx(0.276506, rel=1e-5)


def test_reference_numbers_lez_lr(reference_case):
    case = reference_case("Lez", "lr")
    res = skhydro.simulate(case.mesh, case.forcings, case.structure)
    np.testing.assert_allclose(res.discharge["Y3204040"].to_numpy()[236:241],
                               [6.087915, 8.511852, 17.90737, 12.85494, 10.35399], rtol=1e-5)
    act = case.active
    assert np.all(res.parameters["ci"][act] == 1e-6)  # no adjustment at daily steps
    assert np.all(res.parameters["llr"][act] == 120.0)  # 5 min scaled by dt / 3600
    assert case.forcings.prcp[:, act].sum(axis=0).mean() == pytest.approx(960.879, rel=1e-5)
    assert case.forcings.pet[:, act].sum(axis=0).mean() == pytest.approx(976.083, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# interception adjustment (spec §3.4)
# --------------------------------------------------------------------------------------------------
def test_adjust_interception_matches_smash(reference_case):
    case = reference_case("Cance", "lr")
    ci = skhydro.adjust_interception(case.mesh, case.forcings)
    act = case.active
    ref = np.array(case.model.get_rr_parameters("ci"), dtype=np.float64)
    np.testing.assert_allclose(ci[act], ref[act], rtol=0, atol=1e-6)
    assert np.isnan(ci[~act]).all()
    # the histogram of spec §10.4
    values, counts = np.unique(np.round(ci[act], 1), return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {0.8: 7, 0.9: 56, 1.0: 50, 1.1: 90, 1.2: 97, 1.3: 48,
                                                         1.4: 29, 1.5: 6}


# --------------------------------------------------------------------------------------------------
# France (906 044 cells, bounding-box mode, missing data): slow
# --------------------------------------------------------------------------------------------------
def interception_scores(prcp, pet, days, capacities):
    """|S(c) - A| of spec §3.4 in float64, for each cell (columns of ``prcp``/``pet``, (ntime, ncell))."""
    valid = (prcp >= 0) & (pet >= 0)
    target = 0.0
    for d in np.unique(days):
        sel = days == d
        target = target + np.minimum(np.where(prcp[sel] >= 0, prcp[sel], 0).sum(axis=0),
                                     np.where(pet[sel] >= 0, pet[sel], 0).sum(axis=0))
    h = np.zeros(prcp.shape[1])
    evap = np.zeros(prcp.shape[1])
    for t in range(prcp.shape[0]):
        p, e, v = prcp[t], pet[t], valid[t]
        ei = np.minimum(e, p + h * capacities)
        pn = np.maximum(0.0, p - capacities * (1 - h) - ei)
        h = np.where(v, h + (p - ei - pn) / capacities, h)
        evap = evap + np.where(v, ei, 0.0)
    return np.abs(evap - target), target


@pytest.mark.slow
def test_france():
    """France, 906 044 cells in bounding-box mode, 32 hourly steps, a third of the rain missing.

    The flows are tiny (2 m³/s at a 1.36e5 km² outlet). Most cells drain only their transfer store from its
    initial level 0.01, and in float32 the reference's outflow law h <- h / (1 + h⁴)^(1/4) loses it entirely
    (1 + 1e-8 rounds to 1): smash's transfer stores do not drain at all at such levels while ours emit ~1e-9
    m³/s per cell. Summed over ~1e5 upstream cells this is a systematic ~1e-4 (relative) excess of ours
    along the 810 partitions, so agreement is ~1e-4 here, not 1e-5. In addition the interception
    adjustment meets exact ties on ~2 % of the cells (see below), which moves the domain sum by ~2e-4.
    """
    smash = pytest.importorskip("smash")
    setup, mesh = smash.factory.load_dataset("France")
    setup["read_qobs"] = False
    setup["read_descriptor"] = False
    model = smash.Model(setup, mesh)
    ret = model.forward_run(common_options=SMASH_OPTIONS, return_options={"q_domain": True})
    q_ref = np.moveaxis(np.array(ret.q_domain, dtype=np.float64), -1, 0)
    m = model.mesh
    active = np.array(m.active_cell) == 1
    ours_mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                                  active_cells=active)
    assert ours_mesh.n_active == 906044 == m.nac
    np.testing.assert_array_equal(ours_mesh.partition, np.array(m.flwpar))
    # smash accumulates areas in float32: exact up to its rounding (our float64 sums are exact)
    np.testing.assert_allclose(ours_mesh.flwacc, np.array(m.flwacc), rtol=3e-6)
    forcings = smash_forcings(model)
    assert np.isnan(forcings.prcp[:, active]).mean() > 0.2  # missing rain: -9.9 (= -99 x 0.1) in smash

    # with smash's parameters: the whole domain, cells with a sizeable discharge
    params = {k: np.array(model.get_rr_parameters(k), dtype=np.float64)
                                for k in model.rr_parameters.keys}
    ours = skhydro.simulate(ours_mesh, forcings, "zero-gr4-lr", parameters=params, return_grid=True)
    q = ours.discharge_grid
    big = active & (q_ref.max(axis=0) > 1.0)
    rel = np.abs(q - q_ref)[:, big].max(axis=0) / np.abs(q_ref)[:, big].max(axis=0)
    assert rel.max() <= 2e-4, rel.max()
    assert np.quantile(rel, 0.5) <= 1e-4
    assert q[-1][active].sum() == pytest.approx(q_ref[-1][active].sum(), rel=2e-4)

    # the interception adjustment: where our choice differs from smash's, both are minimisers (a tie in
    # exact arithmetic broken differently by float32 rounding: short period, PET limited everywhere)
    ci = skhydro.adjust_interception(ours_mesh, forcings)
    ci_ref = params["ci"]
    differ = active & (np.abs(ci - ci_ref) > 1e-6)
    assert differ.mean() < 0.05
    prcp = np.nan_to_num(forcings.prcp[:, differ], nan=-99.0)
    pet = np.nan_to_num(forcings.pet[:, differ], nan=-99.0)
    days = forcings.index.normalize()
    s_ours, target = interception_scores(prcp, pet, days, ci[differ])
    s_ref, _ = interception_scores(prcp, pet, days, ci_ref[differ])
    np.testing.assert_allclose(s_ours, s_ref, rtol=0, atol=1e-6 * (1 + target.max()))

    # spec §10.4 with skhydro's own defaults (ci adjusted by skhydro)
    own = skhydro.simulate(ours_mesh, forcings, "zero-gr4-lr", return_grid=True)
    fl = np.where(active, ours_mesh.flwacc, -1.0)
    r, c = np.unravel_index(np.argmax(fl), fl.shape)
    assert (r, c) == (0, 865) and fl[r, c] == pytest.approx(1.3616973e11, rel=3e-6)
    np.testing.assert_allclose(own.discharge_grid[-3:, r, c], [2.23365, 3.85544, 2.86006], rtol=5e-4)
    assert own.discharge_grid[-1][active].sum() == pytest.approx(10848.95, rel=5e-4)


# ------------------------------------------------------------------------------------------------ gr5
@pytest.mark.parametrize("dataset, routing", CASES)
def test_gr5(reference_case, dataset, routing):
    """GR5 (threshold exchange kexc (ht - aexc)): smash's defaults, then random distributed maps."""
    case = reference_case(dataset, routing, "gr5")
    compare(case, case.simulate(), case.model)
    params, states = random_parameters(case, seed=11)
    params["aexc"] = np.random.default_rng(12).uniform(0.05, 0.9, case.mesh.shape).astype(np.float32)
    params = dict(params, ci=case.parameters["ci"])
    ref_model = smash_forward(case.model, parameters=params, states=states)
    # the linear exchange feeds the transfer level back on itself (a loss that grows as ht falls below aexc
    # when kexc > 0): float32 rounding of the reference drifts further on a few cells, 2e-5 on 1 of 383
    compare(case, case.simulate(parameters=params, states=states), ref_model, state_atol=5e-5)


# ------------------------------------------------------------------------------------------------ grd
@pytest.mark.parametrize("dataset, routing", CASES)
def test_grd(reference_case, dataset, routing):
    """GRD (no interception store, percolation constant 1000, no exchange): defaults, then random maps.

    Every drop passes through the transfer store, whose float32 outflow (h* - h) c cancels at low flow:
    the reference drifts by up to 1.7e-5 of the peak on Cance's smallest gauge (2.5 m3/s) at the end of
    the recession, while sums and peaks agree with spec §10.4 to 6 digits. Tolerance 2.5e-5 of the peak.
    """
    case = reference_case(dataset, routing, "grd")
    compare(case, case.simulate(), case.model, rel_tol=2.5e-5)
    params, states = random_parameters(case, seed=21)
    params = {k: v for k, v in params.items() if k not in ("kexc",)}
    states = {k: v for k, v in states.items() if k != "hi"}
    ref_model = smash_forward(case.model, parameters=params, states=states)
    compare(case, case.simulate(parameters=params, states=states), ref_model, rel_tol=2.5e-5)


# ------------------------------------------------------------------------------------------------ grc
@pytest.mark.parametrize("dataset, routing", CASES)
def test_grc(reference_case, dataset, routing):
    """GRC (percolation constant 1000, a slow transfer store fed by 36 % of R): defaults, then random maps."""
    case = reference_case(dataset, routing, "grc")
    compare(case, case.simulate(), case.model)
    params, states = random_parameters(case, seed=31)
    rng = np.random.default_rng(32)
    params = dict(params, ci=case.parameters["ci"], cl=rng.uniform(20, 800, case.mesh.shape).astype(np.float32))
    states = dict(states, hl=rng.uniform(0.05, 0.95, case.mesh.shape).astype(np.float32))
    ref_model = smash_forward(case.model, parameters=params, states=states)
    compare(case, case.simulate(parameters=params, states=states), ref_model)


# ------------------------------------------------------------------------------------------------ gr6
@pytest.mark.parametrize("dataset, routing", CASES)
def test_gr6(reference_case, dataset, routing):
    """GR6 (exponential store fed by 36 % of R, exchange on every branch): defaults, then random maps."""
    case = reference_case(dataset, routing, "gr6")
    compare(case, case.simulate(), case.model)
    params, states = random_parameters(case, seed=41)
    rng = np.random.default_rng(42)
    params = dict(params, ci=case.parameters["ci"], kexc=rng.uniform(-0.3, 0.3, case.mesh.shape).astype(np.float32),
                  aexc=rng.uniform(0.05, 0.9, case.mesh.shape).astype(np.float32),
                  be=rng.uniform(1, 20, case.mesh.shape).astype(np.float32))
    states = dict(states, he=rng.uniform(-200, 0, case.mesh.shape).astype(np.float32))
    ref_model = smash_forward(case.model, parameters=params, states=states)
    # linear exchange: the reference's float32 drift on a few transfer levels, as for gr5
    compare(case, case.simulate(parameters=params, states=states), ref_model, state_atol=5e-5)
