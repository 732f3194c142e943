"""Operator properties: water balance of GR4 and of the routing, threads, segment restarts."""
import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import skhydro
from skhydro._kernels._gr4 import gr4_series
from skhydro._kernels._routing import kw_series, lr_series
from skhydro.simulation import Problem
from helpers import random_forcing, random_tree_flwdir

FLUXES = ("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qr", "qd")
BETA_HOURLY = 2.25 * 24 ** 0.25

rain = st.one_of(st.just(0.0), st.floats(0.0, 80.0, allow_nan=False, allow_infinity=False))
evap = st.one_of(st.just(0.0), st.floats(0.0, 6.0, allow_nan=False, allow_infinity=False))
level = st.floats(1e-4, 1.0 - 1e-4)


def series(elements, min_size=1, max_size=150):
    return st.integers(min_size, max_size).flatmap(lambda n: hnp.arrays(np.float64, n, elements=elements))


@st.composite
def gr4_inputs(draw, kexc=st.floats(-50.0, 3.0)):
    prcp = draw(series(rain))
    pet = draw(hnp.arrays(np.float64, prcp.size, elements=evap))
    params = dict(ci=draw(st.floats(0.1, 3.0)), cp=draw(st.floats(10.0, 1000.0)), ct=draw(st.floats(10.0, 1000.0)),
                  kexc=draw(kexc), beta=draw(st.sampled_from([BETA_HOURLY, 2.25])))
    states = dict(hi=draw(level), hp=draw(level), ht=draw(level))
    return prcp, pet, params, states


def run_gr4(prcp, pet, params, states):
    p = params
    q, fl, st_ = gr4_series(prcp, pet, p["ci"], p["cp"], p["ct"], p["kexc"], p["beta"],
                            states["hi"], states["hp"], states["ht"])
    return q, dict(zip(FLUXES, fl)), st_


def gr4_balance(prcp, pet, params, q, fx, states):
    """Terms of  ΣP = Σq + Σ(ei + es) + ΔS − Σ exchange − Σ floor  (all mm).

    Per valid step (spec §6.1-6.2, derived from the operator equations):
      ci Δhi = P − ei − pn,   cp Δhp = ps − es − perc,   pn = pr + ps,
      ct Δht = prr − qr + floor,  with prr = 0.9 (pr + perc) + lexc and
      floor = ct max(0, 1e-6 − (ht + prr/ct))  (the transfer level is floored at 1e-6: water appears),
      q = qr + qd,  qd = max(0, prd + lexc),  prd = 0.1 (pr + perc).
    Hence P = q + ei + es + ΔS − [lexc + (qd − prd)] − floor, where lexc is the exchange applied in the
    routing branch and qd − prd the one actually applied in the direct branch (clipped at −prd), and
    ei = pet − en is the interception evaporation.
    """
    ci, cp, ct = params["ci"], params["cp"], params["ct"]
    ei = pet - fx["en"]
    storage = ci * states[0] + cp * states[1] + ct * states[2]
    exchange = fx["lexc"] + (fx["qd"] - fx["prd"])
    floor = ct * np.maximum(0.0, 1e-6 - (states[2, :-1] + fx["prr"] / ct))
    return dict(P=prcp.sum(), q=q.sum(), evap=(ei + fx["es"]).sum(), dS=storage[-1] - storage[0],
                exchange=exchange.sum(), floor=floor.sum())


@settings(deadline=None, max_examples=150)
@given(gr4_inputs())
def test_gr4_mass_balance(inputs):
    prcp, pet, params, states0 = inputs
    q, fx, states = run_gr4(prcp, pet, params, states0)
    b = gr4_balance(prcp, pet, params, q, fx, states)
    tol = 1e-9 * (b["P"] + pet.sum() + params["ci"] + params["cp"] + params["ct"] + 1.0)
    residual = b["P"] - (b["q"] + b["evap"] + b["dS"] - b["exchange"] - b["floor"])
    assert abs(residual) <= tol, (b, residual)
    event("transfer floor active" if b["floor"] > 0 else "transfer floor inactive")
    # states stay in [0, 1] (up to one rounding error) and fluxes are non-negative
    assert states.min() >= -1e-12 and states.max() <= 1.0 + 1e-12
    assert states[2].min() >= 0.0
    for name in ("pn", "en", "pr", "perc", "ps", "es", "prd", "qr", "qd"):
        assert fx[name].min() >= 0.0, name
    assert q.min() >= 0.0
    np.testing.assert_allclose(q, fx["qr"] + fx["qd"], rtol=1e-15, atol=0)
    # evaporation never exceeds PET
    assert np.all(pet - fx["en"] + fx["es"] <= pet * (1 + 1e-12) + 1e-15)


@settings(deadline=None, max_examples=100)
@given(gr4_inputs(kexc=st.floats(-5.0, 5.0)), st.floats(0.01, 0.99))
def test_gr5_mass_balance(inputs, aexc):
    # GR5 differs by its exchange kexc (ht - aexc) only: the same balance closes
    prcp, pet, params, states0 = inputs
    p = params
    q, fl, states = gr4_series(prcp, pet, p["ci"], p["cp"], p["ct"], p["kexc"], p["beta"],
                               states0["hi"], states0["hp"], states0["ht"], aexc=aexc)
    fx = dict(zip(FLUXES, fl))
    valid = (prcp >= 0) & (pet >= 0)
    np.testing.assert_allclose(fx["lexc"][valid], (p["kexc"] * (states[2, :-1] - aexc))[valid], rtol=1e-12,
                               atol=1e-15)
    b = gr4_balance(prcp, pet, params, q, fx, states)
    tol = 1e-9 * (b["P"] + pet.sum() + params["ci"] + params["cp"] + params["ct"] + 1.0)
    assert abs(b["P"] - (b["q"] + b["evap"] + b["dS"] - b["exchange"] - b["floor"])) <= tol


def test_gr4_transfer_floor_creates_water():
    # a strong loss empties the transfer store below its 1e-6 floor: the floor adds water (spec §11.4)
    prcp, pet = np.r_[0.0, 5.0, 0.0, 0.0], np.r_[0.1, 0.0, 0.2, 0.0]
    params = dict(ci=1.0, cp=100.0, ct=10.0, kexc=-50.0, beta=BETA_HOURLY)
    q, fx, states = run_gr4(prcp, pet, params, dict(hi=0.2, hp=0.6, ht=0.6))
    b = gr4_balance(prcp, pet, params, q, fx, states)
    assert b["floor"] > 0.1
    assert states[2, 1] == pytest.approx(1e-6 / (1 + 1e-24) ** 0.25, rel=1e-12)
    residual = b["P"] - (b["q"] + b["evap"] + b["dS"] - b["exchange"] - b["floor"])
    assert abs(residual) <= 1e-12 * (b["P"] + 200.0)


@settings(deadline=None, max_examples=60)
@given(gr4_inputs(kexc=st.floats(0.0, 5.0)))
def test_gr4_mass_balance_without_losses(inputs):
    # with a non-negative exchange the transfer floor never acts: the plain balance closes
    prcp, pet, params, states0 = inputs
    q, fx, states = run_gr4(prcp, pet, params, states0)
    b = gr4_balance(prcp, pet, params, q, fx, states)
    assert b["floor"] == 0.0
    assert np.all(fx["qd"] == fx["prd"] + fx["lexc"])  # no clipping in the direct branch
    tol = 1e-9 * (b["P"] + pet.sum() + params["ci"] + params["cp"] + params["ct"] + 1.0)
    assert abs(b["P"] - (b["q"] + b["evap"] + b["dS"] - b["exchange"])) <= tol


@settings(deadline=None, max_examples=40)
@given(gr4_inputs())
def test_gr4_missing_steps(inputs):
    prcp, pet, params, states0 = inputs
    prcp = prcp.copy()
    prcp[::3] = -99.0
    q, fx, states = run_gr4(prcp, pet, params, states0)
    miss = prcp < 0
    # interception and production keep their level on missing steps, the transfer store too (it emits
    # the outflow that keeps its level)
    np.testing.assert_array_equal(states[0, 1:][miss], states[0, :-1][miss])
    np.testing.assert_array_equal(states[1, 1:][miss], states[1, :-1][miss])
    np.testing.assert_allclose(states[2, 1:][miss], states[2, :-1][miss], rtol=1e-12)
    h = states[2, :-1][miss]
    # q = (h* - h) ct cancels at low levels: compare to within a few ulps of the level, times ct
    np.testing.assert_allclose(q[miss], params["ct"] * h * ((1 - h ** 4) ** -0.25 - 1), rtol=1e-9,
                               atol=1e-14 * params["ct"])
    for name in ("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qd"):
        assert (fx[name][miss] == 0).all()


@settings(deadline=None, max_examples=100)
@given(qt=series(st.floats(0.0, 50.0)), data=st.data())
def test_linear_reservoir_volume_balance(qt, data):
    n = qt.size
    qup = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 500.0)))
    llr = data.draw(st.floats(0.01, 1000.0))
    dt = data.draw(st.sampled_from([900.0, 3600.0, 86400.0]))
    area_up = data.draw(st.floats(1e6, 1e10))
    hlr0 = data.draw(st.floats(1e-6, 500.0))
    q, h = lr_series(qt, qup, llr, dt, area_up, hlr0)
    # m³: inflow (upstream + local) = outflow + storage change (hlr mm over the upstream area)
    volume_in = ((qup + qt) * dt).sum()
    volume_out = (q * dt).sum()
    d_storage = (h[-1] - h[0]) * 1e-3 * area_up
    scale = volume_in + h[0] * 1e-3 * area_up + 1.0
    assert abs(volume_in - volume_out - d_storage) <= 1e-11 * scale
    assert (q >= qt).all() and (h >= 0).all()
    # the store decays by exp(-dt / (60 llr)) after each inflow
    np.testing.assert_allclose(h[1:], (h[:-1] + qup * dt / (1e-3 * area_up)) * np.exp(-dt / (60 * llr)),
                               rtol=1e-12)


def test_linear_reservoir_empties():
    q, h = lr_series(np.zeros(200), np.r_[10.0, np.zeros(199)], 30.0, 3600.0, 1e8, 0.0)
    assert h[-1] < 1e-50 * h[1]
    assert (q * 3600).sum() == pytest.approx(10.0 * 3600, rel=1e-12)


@settings(deadline=None, max_examples=60)
@given(qup=st.floats(0.0, 1000.0), qt=st.floats(0.0, 50.0), akw=st.floats(1.0, 20.0), bkw=st.floats(0.3, 0.9),
       r=st.floats(1.0, 90.0))
def test_kinematic_wave_steady_state(qup, qt, akw, bkw, r):
    assume(qup + qt >= 0.1)
    n = 3000
    q = kw_series(np.full(n, qt), np.full(n, qup), akw, bkw, r)
    assert (q > 0).all()
    # fixed point of the implicit scheme: Q = max(ε, Qup) + max(ε, qt)
    expected = max(1e-6, qup) + max(1e-6, qt)
    assert q[-1] == pytest.approx(expected, rel=1e-8)


@settings(deadline=None, max_examples=60)
@given(qt=series(st.floats(0.0, 50.0), max_size=200), data=st.data())
def test_kinematic_wave_positive_and_bounded(qt, data):
    n = qt.size
    qup = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 500.0)))
    akw, bkw = data.draw(st.floats(1.0, 20.0)), data.draw(st.floats(0.3, 0.9))
    r = data.draw(st.floats(0.05, 90.0))
    q = kw_series(qt, qup, akw, bkw, r)
    assert np.isfinite(q).all() and (q > 0).all()
    # a convex combination of previous Q and of the current inflows: never above the largest of them
    upper = np.maximum.accumulate(np.maximum(qup, 1e-6) + np.maximum(qt, 1e-6) + np.r_[0.0, np.maximum(qt[:-1], 0)])
    assert (q <= upper * (1 + 1e-12)).all()


# --------------------------------------------------------------------------------------------------
# whole model
# --------------------------------------------------------------------------------------------------
def tree_basin(seed, nrow=9, ncol=8, ntime=96, p_missing=0.0):
    rng = np.random.default_rng(seed)
    outlet = (nrow - 1, int(rng.integers(ncol)))
    flwdir = random_tree_flwdir(nrow, ncol, outlet, rng)
    dx = rng.uniform(800, 1200, (nrow, ncol))
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=dx, dy=dx[::-1], gauges=[{"code": "out", "row": outlet[0],
                                                                              "col": outlet[1]}])
    prcp, pet = random_forcing(ntime, (nrow, ncol), rng, p_missing=p_missing)
    forcings = skhydro.Forcings(prcp, pet, dt=3600, start="2021-03-01")
    params = {"ci": rng.uniform(0.5, 2.0, (nrow, ncol)), "cp": rng.uniform(50, 800, (nrow, ncol)),
              "ct": rng.uniform(20, 800, (nrow, ncol)), "kexc": rng.uniform(-2, 1, (nrow, ncol))}
    states = {"hp": rng.uniform(0.1, 0.9, (nrow, ncol)), "ht": rng.uniform(0.1, 0.9, (nrow, ncol))}
    return mesh, forcings, params, states, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lag0_outlet_volume_equals_local_runoff(seed):
    mesh, forcings, params, states, _ = tree_basin(seed, p_missing=0.05)
    res = skhydro.simulate(mesh, forcings, "zero-gr4-lag0", parameters=params, states=states, return_fluxes=True,
                           return_grid=True)
    qt = res.fluxes["qt"]
    assert np.isnan(qt[:, ~mesh.active]).all()
    local = np.nansum(qt, axis=(1, 2))  # m³/s, every active cell drains to the outlet
    q_out = res.discharge["out"].to_numpy()
    np.testing.assert_allclose(q_out, local, rtol=1e-12)  # instantaneous accumulation: step by step
    dt = forcings.dt
    assert (q_out * dt).sum() == pytest.approx((local * dt).sum(), rel=1e-13)
    # the grid output and the gauge output agree
    r, c = mesh.gauges.loc["out", ["row", "col"]]
    np.testing.assert_array_equal(res.discharge_grid[:, r, c], q_out)
    # qt is the hydrological runoff (qr + qd, mm) over the cell area
    cell_area = mesh.dx * mesh.dy
    np.testing.assert_allclose(qt, (res.fluxes["qr"] + res.fluxes["qd"]) * 1e-3 * cell_area / dt, rtol=1e-13)


@pytest.mark.parametrize("seed", [0, 3])
def test_lr_outlet_volume_balance(seed):
    mesh, forcings, params, states, rng = tree_basin(seed)
    params = dict(params, llr=rng.uniform(1, 500, mesh.shape))
    states = dict(states, hlr=rng.uniform(0, 20, mesh.shape))
    res = skhydro.simulate(mesh, forcings, "zero-gr4-lr", parameters=params, states=states, return_fluxes=True)
    area_up = mesh.flwacc - mesh.dx * mesh.dy

    def stored(hlr):  # m³ held by the linear reservoirs
        return np.nansum(np.where(mesh.active, hlr, np.nan) * 1e-3 * area_up)

    dt = forcings.dt
    local = np.nansum(res.fluxes["qt"]) * dt
    out = res.discharge["out"].sum() * dt
    d_storage = stored(res.final_states["hlr"]) - stored(states["hlr"])
    assert out + d_storage == pytest.approx(local, rel=1e-12)


@pytest.mark.parametrize("routing", ["lag0", "lr", "kw"])
def test_threads_give_identical_results(routing):
    # big enough for the routing levels to run in parallel (levels of >= 2048 cells)
    rng = np.random.default_rng(11)
    shape = (170, 150)
    flwdir = random_tree_flwdir(*shape, (169, 75), rng)
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "out", "row": 169, "col": 75},
                                                                      {"code": "mid", "row": 80, "col": 70}])
    assert np.diff(mesh.level_ptr).max() >= 2048 and np.sum(np.diff(mesh.level_ptr)[1:] >= 2048) >= 1
    prcp, pet = random_forcing(24, shape, rng, p_missing=0.02)
    forcings = skhydro.Forcings(prcp, pet, dt=3600, start="2021-03-01")
    params = {"ci": 1.0, "cp": rng.uniform(50, 800, shape), "kexc": rng.uniform(-2, 1, shape)}
    one = skhydro.simulate(mesh, forcings, f"zero-gr4-{routing}", parameters=params, num_threads=1)
    for n in (2, 4):
        many = skhydro.simulate(mesh, forcings, f"zero-gr4-{routing}", parameters=params, num_threads=n)
        np.testing.assert_array_equal(many.discharge.to_numpy(), one.discharge.to_numpy())
        for k in one.final_states:
            np.testing.assert_array_equal(many.final_states[k], one.final_states[k])


@pytest.mark.parametrize("num_threads", [2, 3, 4])
def test_adjust_interception_threads(num_threads):
    mesh, forcings, params, *_ = tree_basin(5, nrow=20, ncol=20, ntime=24 * 20)
    one = skhydro.adjust_interception(mesh, forcings, 1)
    np.testing.assert_array_equal(skhydro.adjust_interception(mesh, forcings, num_threads), one)
    # the simulation adjusts ci itself (with its own thread count) when no ci is given
    params = {k: v for k, v in params.items() if k != "ci"}
    res = [skhydro.simulate(mesh, forcings, "zero-gr4-lag0", parameters=params, num_threads=n)
           for n in (1, num_threads)]
    np.testing.assert_array_equal(res[1].parameters["ci"], res[0].parameters["ci"])
    np.testing.assert_array_equal(res[1].discharge.to_numpy(), res[0].discharge.to_numpy())


@pytest.mark.parametrize("routing", ["lag0", "lr", "kw"])
@pytest.mark.parametrize("split", [1, 37, 95])
def test_segment_restart_is_exact(routing, split):
    mesh, forcings, params, states, rng = tree_basin(4, ntime=96, p_missing=0.03)
    structure = f"zero-gr4-{routing}"
    if routing == "lr":
        params = dict(params, llr=rng.uniform(1, 100, mesh.shape))
    if routing == "kw":
        params = dict(params, akw=rng.uniform(1, 20, mesh.shape), bkw=rng.uniform(0.3, 0.9, mesh.shape))
    problem = Problem(mesh, forcings, structure, params, states)
    q_full, _, _, h_full, r_full, b_full = problem.run()
    h, r = problem.hstates0.copy(), problem.rstates0.copy()
    b = np.zeros((2, mesh.n_active))
    q1, *_ = problem.run(0, split, h, r, b)
    q2, *_ = problem.run(split, forcings.ntime, h, r, b)
    np.testing.assert_array_equal(np.concatenate([q1, q2]), q_full)
    np.testing.assert_array_equal(h, h_full)
    np.testing.assert_array_equal(r, r_full)
    np.testing.assert_array_equal(b, b_full)
    # and simulate() gives the same as the problem run in one go
    res = skhydro.simulate(mesh, forcings, structure, parameters=params, states=states)
    np.testing.assert_array_equal(res.discharge.to_numpy(), q_full)
    for i, name in enumerate(problem.structure.states[:3]):
        np.testing.assert_array_equal(mesh.to_vector(res.final_states[name]), h_full[i])


def test_full_normalised_state_rejected():
    # a full store (level 1) has no finite "unchanged level" inflow on missing-rain steps: refuse it
    mesh = skhydro.Mesh.from_flow_directions(np.array([[3, 0]]), dx=1000.0, gauges=[{"code": "g", "row": 0, "col": 1}])
    f = skhydro.Forcings(np.full((5, 1, 2), np.nan), np.zeros((5, 1, 2)), dt=3600, start="2020-01-01")
    with pytest.raises(ValueError, match="state 'ht'"):
        skhydro.simulate(mesh, f, "zero-gr4-lag0", parameters={"ci": 1.0}, states={"ht": 1.0})
    res = skhydro.simulate(mesh, f, "zero-gr4-lag0", parameters={"ci": 1.0}, states={"ht": 0.0, "hp": 0.0})
    assert np.isfinite(res.discharge.to_numpy()).all()
