"""VIC3L point function: dot-product tests of its reverse twin against finite differences of the forward one
(one cell, conventions of test_gr_variants_adjoints.py), its mass balance, and cell-level parity with
hydro-smash 1.3.0 (``zero-vic3l-zero``: the discharge of each cell is its own local runoff)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import SMASH_OPTIONS
from skhydro._kernels._vic3l import vic3l_series, vic3l_series_b

PARAMETERS = ("b", "cusl", "cmsl", "cbsl", "ks", "pbc", "ds", "dsm", "ws")
STATES = ("hcl", "husl", "hmsl", "hbsl")
LEVEL_MIN, LEVEL_MAX = 1e-6, 0.999999  # the clip of the canopy, upper and middle levels


def forcings(rng, n, wet=0.35, mean=4.0, pet_max=0.5, missing=0.0):
    """Hourly-like rain (mm, many zeros) and PET; -99 codes a missing value."""
    prcp = np.where(rng.random(n) < wet, rng.exponential(mean, n), 0.0)
    pet = rng.uniform(0.0, pet_max, n) * (rng.random(n) < 0.8)
    if missing:
        prcp[rng.random(n) < missing] = -99.0
        pet[rng.random(n) < missing / 2] = -99.0
    return prcp, pet


def dot_error(forward, reverse, x0, rng, n_directions=3):
    """Worst relative mismatch of the directional derivative w·dF/dx v against (Jᵀw)·v over random v, w.

    The derivative is estimated by central differences at h = 1e-4 ... 1e-8 and by their fourth-order
    Richardson extrapolation at h = 1e-3 ... 1e-5 (near full layers the levels' powers are strongly curved),
    and the closest estimate counts: a step that crosses a min/max switch spoils only some of them.
    """
    worst = 0.0
    y0 = forward(x0)
    for _ in range(n_directions):
        w = rng.normal(size=y0.size)
        v = rng.uniform(-1, 1, x0.size) * np.maximum(np.abs(x0), 0.05)
        adjoint = reverse(x0, w) @ v

        def central(h):
            return w @ (forward(x0 + h * v) - forward(x0 - h * v)) / (2 * h)

        estimates = [central(h) for h in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)]
        estimates += [(4.0 * central(h / 2) - central(h)) / 3.0 for h in (1e-3, 1e-4, 1e-5)]
        worst = max(worst, min(abs(fd - adjoint) for fd in estimates) / abs(adjoint))
    return worst


def pair(prcp, pet):
    """Forward/reverse on x = the 9 parameters then the 4 initial states; outputs q then the final states."""
    def forward(x):
        q, _, states = vic3l_series(prcp, pet, *x)
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        params_b, states_b, _ = vic3l_series_b(prcp, pet, *x, w[:-4], w[-4:])
        return np.concatenate([params_b, states_b])

    return forward, reverse


# (b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws, hcl, husl, hmsl, hbsl), forcing options
REGIMES = {
    "typical": ((0.1, 100.0, 500.0, 2000.0, 20.0, 10.0, 0.01, 10.0, 0.8, 0.3, 0.3, 0.3, 0.1), {}),
    # little rain, strong PET: the canopy empties (clip at 1e-6), low layers, drainage on its 1e-6 floor
    "dry layers": ((0.05, 100.0, 500.0, 2000.0, 2.0, 20.0, 0.01, 10.0, 0.8, 1e-4, 1e-3, 2e-3, 1e-3),
                   dict(wet=0.1, mean=0.5)),
    # fast drainage on the floor of its law empties the upper layer, which the next step clips back up
    "fast drainage": ((0.2, 20.0, 200.0, 500.0, 1e4, 1.0, 0.05, 1.0, 0.6, 0.2, 0.01, 0.05, 0.2),
                      dict(wet=0.2, mean=1.0)),
    # a 1 mm upper layer under strong PET: the evaporation takes all its water
    "evaporation cap": ((0.3, 1.0, 200.0, 500.0, 0.1, 2.0, 0.05, 1.0, 0.6, 0.5, 0.3, 0.3, 0.3),
                        dict(wet=0.15, mean=1.0, pet_max=3.0)),
    # small layers near full under storms: infiltration saturates (i0 + pn > M), the upper and middle
    # levels clip at 0.999999, drainage is bounded by the room below
    "near full": ((0.3, 20.0, 150.0, 300.0, 50.0, 3.0, 0.2, 0.5, 0.4, 0.9, 0.95, 0.9, 0.9),
                  dict(wet=0.6, mean=20.0)),
    "hbsl above ws": ((0.2, 50.0, 300.0, 400.0, 30.0, 4.0, 0.1, 2.0, 0.3, 0.5, 0.6, 0.7, 0.9), {}),
    "hbsl below ws": ((0.2, 50.0, 300.0, 1000.0, 5.0, 8.0, 0.3, 0.2, 0.9, 0.5, 0.5, 0.4, 0.2), {}),
    # ds dsm / ws > cbsl: the baseflow takes all the water of the bottom layer on every step
    "baseflow cap": ((0.2, 50.0, 300.0, 100.0, 5.0, 5.0, 0.5, 1e4, 0.3, 0.5, 0.5, 0.5, 0.5), {}),
    "large b": ((0.8, 50.0, 300.0, 1000.0, 5.0, 5.0, 0.1, 2.0, 0.3, 0.5, 0.5, 0.5, 0.6), dict(mean=6.0)),
    "small b": ((1e-3, 50.0, 300.0, 1000.0, 5.0, 5.0, 0.1, 2.0, 0.7, 0.5, 0.5, 0.5, 0.5), dict(mean=6.0)),
}


@pytest.mark.parametrize("missing", [0.0, 0.1])
@pytest.mark.parametrize("regime", list(REGIMES))
def test_dot_product(regime, missing):
    x0, options = REGIMES[regime]
    rng = np.random.default_rng(list(REGIMES).index(regime) + int(100 * missing))
    prcp, pet = forcings(rng, 300, missing=missing, **options)
    forward, reverse = pair(prcp, pet)
    assert dot_error(forward, reverse, np.array(x0), rng) <= 1e-6


@pytest.mark.parametrize("regime", ["typical", "near full", "dry layers"])
def test_dot_product_precipitation(regime):
    """dJ/dprcp on the rainy steps (prcp = 0 sits on the validity kink, prcp >= 0, so it is left out)."""
    x0, options = REGIMES[regime]
    rng = np.random.default_rng(11 + list(REGIMES).index(regime))
    prcp, pet = forcings(rng, 300, missing=0.1, **options)
    rainy = prcp > 0.0
    params = x0

    def forward(x):
        p = prcp.copy()
        p[rainy] = x
        q, _, states = vic3l_series(p, pet, *params)
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        p = prcp.copy()
        p[rainy] = x
        _, _, prcp_b = vic3l_series_b(p, pet, *params, w[:-4], w[-4:])
        assert (prcp_b[p < 0.0] == 0.0).all()
        return prcp_b[rainy]

    assert dot_error(forward, reverse, prcp[rainy], rng) <= 1e-6


# ------------------------------------------------------------------------------------------- mass balance
def clip_water(level):
    """Water (in units of the capacity) the [1e-6, 0.999999] clip adds to a level."""
    return np.clip(level, LEVEL_MIN, LEVEL_MAX) - level


def upper_evaporation(en, husl, b, cusl):
    """ARNO evaporation from the upper layer (spec §6.6 step 2): it is no output of the operator."""
    r = (1.0 - husl) ** (1.0 / (1.0 + b))
    s = 1.0 + sum(b * r ** k / (b + k) for k in range(1, 6))
    es = np.where(r > 0.0, en * (1.0 - r ** b + r ** b * (1.0 - r) * s), en)
    return np.minimum(es, husl * cusl)


@settings(deadline=None, max_examples=80)
@given(seed=st.integers(0, 2**31 - 1), b=st.floats(1e-3, 0.8), cusl=st.floats(1.0, 500.0),
       cmsl=st.floats(10.0, 2000.0), cbsl=st.floats(10.0, 2000.0), log_ks=st.floats(0.0, 5.0),
       pbc=st.floats(1.0, 30.0), ds=st.floats(1e-6, 0.999999), log_dsm=st.floats(-3.0, 5.0),
       ws=st.floats(1e-6, 0.999999), levels=st.tuples(*[st.floats(LEVEL_MIN, LEVEL_MAX)] * 4),
       mean=st.floats(0.5, 30.0), missing=st.sampled_from([0.0, 0.1]))
def test_mass_balance(seed, b, cusl, cmsl, cbsl, log_ks, pbc, ds, log_dsm, ws, levels, mean, missing):
    """P = q + ec + es + ΔS - clips on the valid steps (baseflow alone on the others).

    ΔS counts the canopy (1 mm) and the three layers. The clips after the canopy and infiltration updates
    add or remove water: the canopy's follows from the outputs (hcl + P - ec - pn, ec = pet - en); for the
    layers, es is recomputed from the start level and the infiltration iu + im = pn - qr split as the
    operator does, the upper layer first up to its room.
    """
    rng = np.random.default_rng(seed)
    p, e = forcings(rng, 200, mean=mean, pet_max=2.0, missing=missing)
    ks, dsm = 10.0 ** log_ks, 10.0 ** log_dsm
    q, fl, states = vic3l_series(p, e, b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws, *levels)
    pn, en, qr, qb = fl
    np.testing.assert_array_equal(q, qr + qb)
    valid = (p >= 0.0) & (e >= 0.0)
    hcl, husl, hmsl = states[0, :-1], states[1, :-1], states[2, :-1]

    ec = np.where(valid, e - en, 0.0)
    es = np.where(valid, upper_evaporation(en, husl, b, cusl), 0.0)
    h1 = husl - es / cusl
    infiltrated = pn - qr
    iu = np.minimum((1.0 - h1) * cusl, infiltrated)
    im = infiltrated - iu
    clips = np.where(valid, clip_water(hcl + p - ec - pn) + cusl * clip_water(h1 + iu / cusl)
                     + cmsl * clip_water(hmsl + im / cmsl), 0.0)

    storage = states[0] + cusl * states[1] + cmsl * states[2] + cbsl * states[3]
    rain = p[valid].sum()
    residual = rain - (q.sum() + ec.sum() + es.sum() + storage[-1] - storage[0] - clips.sum())
    assert abs(residual) <= 1e-9 * (rain + 1.0 + cusl + cmsl + cbsl)


# ---------------------------------------------------------------------------------- parity with smash
# spec §10.3: a float64 implementation agrees with the reference to ~7e-5 of the peak discharge, limited by
# float32 artefacts of the reference, chiefly its infiltration C - W - C(1 - (i0 + pn)/M)^(b+1), which
# cancels to ~ulp32(C) instead of 0 on steps with pn = 0 and so emits up to ~1e-4 mm of spurious runoff.
# That water comes out of the soil and piles up in the slowly drained middle layer: over Cance's 1440 hourly
# steps ~0.01 mm, i.e. ~2e-5 of a 500 mm layer, hence a state tolerance above the 1e-5 of the GR family.
REL_TOL = 2e-4
STATE_ATOL = 5e-5
BOUNDS = {"b": (1e-3, 0.8), "cusl": (10.0, 500.0), "cmsl": (100.0, 2000.0), "cbsl": (100.0, 2000.0),
          "ks": (1.0, 1e5), "pbc": (1.0, 30.0), "ds": (1e-6, 0.999999), "dsm": (1e-3, 1e5),
          "ws": (1e-6, 0.999999)}


def smash_vic3l(dataset, parameters=None, states=None):
    """``zero-vic3l-zero`` smash model on a bundled dataset, forward-run, and its per-cell discharge."""
    smash = pytest.importorskip("smash")
    setup, mesh = smash.factory.load_dataset(dataset)
    setup.update(hydrological_module="vic3l", routing_module="zero", read_qobs=False, read_descriptor=False)
    model = smash.Model(setup, mesh)
    for name, value in (parameters or {}).items():
        model.set_rr_parameters(name, value)
    for name, value in (states or {}).items():
        model.set_rr_initial_states(name, value)
    ret = model.forward_run(return_options={"q_domain": True}, common_options=SMASH_OPTIONS)
    return model, np.array(ret.q_domain, dtype=np.float64)


def cell_parity(model, q_domain):
    """Run :func:`vic3l_series` on every active cell of a smash model: worst max|ΔQ| over the basin's peak
    discharge, and worst final-state difference."""
    m = model.mesh
    params = {k: np.array(model.get_rr_parameters(k), dtype=np.float64) for k in PARAMETERS}
    initial = {k: np.array(model.get_rr_initial_states(k), dtype=np.float64) for k in STATES}
    final = {k: np.array(model.get_rr_final_states(k), dtype=np.float64) for k in STATES}
    # (nrow, ncol, ntime), float32: any negative value is a missing one, as for the operator
    prcp = np.array(model.atmos_data.prcp, dtype=np.float64)
    pet = np.array(model.atmos_data.pet, dtype=np.float64)
    active = np.array(m.active_cell) == 1
    peak = np.abs(q_domain[active]).max()
    dq = dstate = 0.0
    for i, j in zip(*np.nonzero(active)):
        q, _, st_ = vic3l_series(prcp[i, j].copy(), pet[i, j].copy(), *(params[k][i, j] for k in PARAMETERS),
                                 *(initial[k][i, j] for k in STATES))
        discharge = q * 1e-3 * m.dx[i, j] * m.dy[i, j] / model.setup.dt  # mm per step -> m3/s
        dq = max(dq, np.abs(discharge - q_domain[i, j]).max())
        dstate = max(dstate, max(abs(st_[s, -1] - final[k][i, j]) for s, k in enumerate(STATES)))
    return dq / peak, dstate


@pytest.mark.smash
@pytest.mark.parametrize("dataset", ["Cance", "Lez"])
def test_smash_parity_default(dataset):
    rel, dstate = cell_parity(*smash_vic3l(dataset))
    assert rel <= REL_TOL
    assert dstate <= STATE_ATOL


@pytest.mark.smash
@pytest.mark.parametrize("dataset", ["Cance", "Lez"])
def test_smash_parity_random(dataset):
    """Spatially uniform random parameters (log-uniform for ks and dsm) and initial states in the bounds."""
    rng = np.random.default_rng(2024)
    params = {}
    for name, (low, high) in BOUNDS.items():
        if name in ("ks", "dsm"):
            params[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        else:
            params[name] = float(rng.uniform(low, high))
    states = {name: float(rng.uniform(0.05, 0.95)) for name in STATES}
    rel, dstate = cell_parity(*smash_vic3l(dataset, params, states))
    assert rel <= REL_TOL
    assert dstate <= STATE_ATOL
