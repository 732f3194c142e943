"""GRD, GRC, GR6 and LOIEAU point functions: dot-product tests of the reverse twins against finite
differences of the forward ones (one cell, conventions of test_operator_adjoints.py), with respect to the
parameters, initial states and the precipitation (which the snow melt joins), and their mass balances."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skhydro._kernels._gr6 import gr6_series, gr6_series_b
from skhydro._kernels._grc import grc_series, grc_series_b
from skhydro._kernels._gr4 import gr4_series, gr4_series_b
from skhydro._kernels._grd import grd_series, grd_series_b
from skhydro._kernels._loieau import loieau_series, loieau_series_b
from helpers import one_cell_forcings

BETA = 2.25 * 24.0 ** 0.25


forcings = one_cell_forcings


def dot_error(forward, reverse, x0, rng, n_directions=3):
    """Worst relative mismatch of w·(F(x+hv) - F(x-hv))/2h against (Jᵀw)·v over random v, w."""
    worst = 0.0
    y0 = forward(x0)
    for _ in range(n_directions):
        w = rng.normal(size=y0.size)
        v = rng.uniform(-1, 1, x0.size) * np.maximum(np.abs(x0), 0.05)
        adjoint = reverse(x0, w) @ v
        best = min(abs(w @ (forward(x0 + h * v) - forward(x0 - h * v)) / (2 * h) - adjoint)
                   for h in (1e-5, 1e-6, 1e-7, 1e-8))
        worst = max(worst, best / abs(adjoint))
    return worst


def pair(series, series_b, prcp, pet, n_params, n_states, fixed=()):
    """Forward/reverse on x = parameters then initial states (``fixed`` arguments inserted after the
    parameters, e.g. beta)."""
    def forward(x):
        q, _, states = series(prcp, pet, *x[:n_params], *fixed, *x[n_params:])
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        params_b, states_b, _ = series_b(prcp, pet, *x[:n_params], *fixed, *x[n_params:], w[:-n_states], w[-n_states:])
        return np.concatenate([params_b, states_b])

    return forward, reverse


@pytest.mark.parametrize("missing", [0.0, 0.1])
@pytest.mark.parametrize("name", ["grd", "grc", "gr6", "loieau"])
def test_dot_product(name, missing):
    rng = np.random.default_rng(7 + int(missing * 100) + len(name))
    prcp, pet = forcings(rng, 300, missing)
    if name == "grd":
        f, r = pair(grd_series, grd_series_b, prcp, pet, 2, 2)
        x0 = np.array([250.0, 90.0, 0.4, 0.2])
    elif name == "grc":
        f, r = pair(grc_series, grc_series_b, prcp, pet, 5, 4)
        x0 = np.array([1.2, 250.0, 90.0, 300.0, -0.5, 0.3, 0.4, 0.2, 0.3])
    elif name == "gr6":
        f, r = pair(gr6_series, gr6_series_b, prcp, pet, 6, 4, fixed=(BETA,))
        x0 = np.array([1.2, 250.0, 90.0, 8.0, 0.3, 0.2, 0.3, 0.4, 0.2, -30.0])
    else:
        f, r = pair(loieau_series, loieau_series_b, prcp, pet, 3, 2, fixed=(BETA,))
        x0 = np.array([250.0, 90.0, 1.7, 0.4, 0.2])
    assert dot_error(f, r, x0, rng) <= 1e-6


# Each operator with fixed parameters and states, as a function of its precipitation series.
PRCP_CASES = {
    "gr4": (gr4_series, gr4_series_b, (1.2, 250.0, 90.0, -0.5, BETA, 0.3, 0.4, 0.2), {}),
    "gr5": (gr4_series, gr4_series_b, (1.2, 250.0, 90.0, 0.5, BETA, 0.3, 0.4, 0.2), {"aexc": 0.3}),
    "grd": (grd_series, grd_series_b, (250.0, 90.0, 0.4, 0.2), {}),
    "grc": (grc_series, grc_series_b, (1.2, 250.0, 90.0, 300.0, -0.5, 0.3, 0.4, 0.2, 0.3), {}),
    "gr6": (gr6_series, gr6_series_b, (1.2, 250.0, 90.0, 8.0, 0.3, 0.2, BETA, 0.3, 0.4, 0.2, -30.0), {}),
    "loieau": (loieau_series, loieau_series_b, (250.0, 90.0, 1.7, BETA, 0.4, 0.2), {}),
}


@pytest.mark.parametrize("missing", [0.0, 0.1])
@pytest.mark.parametrize("name", sorted(PRCP_CASES))
def test_dot_product_precipitation(name, missing):
    """The precipitation adjoint (the snow melt's way back to kmlt and hs): only wet steps are perturbed,
    away from the validity test at P = 0; dry steps are tested by the (P = 0.2 mm) rain on half of them."""
    series, series_b, args, kwargs = PRCP_CASES[name]
    rng = np.random.default_rng(11 + len(name) + int(100 * missing))
    prcp, pet = forcings(rng, 300, missing)
    prcp[(prcp == 0.0) & (rng.random(prcp.size) < 0.5)] = 0.2
    wet = prcp > 0.0

    def forward(x):
        p = prcp.copy()
        p[wet] = x
        q, _, states = series(p, pet, *args, **kwargs)
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        n_states = w.size - prcp.size
        _, _, prcp_b = series_b(prcp, pet, *args, w[:-n_states], w[-n_states:], **kwargs)
        return prcp_b[wet]

    assert dot_error(forward, reverse, prcp[wet], rng) <= 1e-6


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), cp=st.floats(20.0, 1000.0), ct=st.floats(10.0, 800.0),
       hp=st.floats(0.0, 0.95), ht=st.floats(0.0, 0.95))
def test_grd_mass_balance(seed, cp, ct, hp, ht):
    """P = q + ei + es + ΔS - floor: no interception store, no exchange (the transfer floor adds water)."""
    rng = np.random.default_rng(seed)
    p, e = forcings(rng, 150)
    q, fl, states = grd_series(p, e, cp, ct, hp, ht)
    ei, es, prr = fl[0], fl[6], fl[7]  # fluxes: ei, pn, en, pr, perc, ps, es, prr, qr
    storage = cp * states[0] + ct * states[1]
    floor = ct * np.maximum(0.0, 1e-6 - (states[1, :-1] + prr / ct))
    residual = p.sum() - (q.sum() + ei.sum() + es.sum() + storage[-1] - storage[0] - floor.sum())
    assert abs(residual) <= 1e-9 * (p.sum() + cp + ct + 1.0)
    np.testing.assert_array_equal(q, fl[8])


def floor_water(level_before, inflow, capacity):
    """Water the 1e-6 floor of a transfer store adds (mm)."""
    return capacity * np.maximum(0.0, 1e-6 - (level_before + inflow / capacity))


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), cl=st.floats(10.0, 800.0), kexc=st.floats(-5.0, 3.0),
       levels=st.tuples(*[st.floats(0.0, 0.95)] * 4))
def test_grc_mass_balance(seed, cl, kexc, levels):
    """P = q + ei + es + ΔS - exchange - floors, exchange = l (routing branch) + (qd - prd) (direct)."""
    rng = np.random.default_rng(seed)
    p, e = forcings(rng, 150)
    ci, cp, ct = 1.2, 250.0, 90.0
    q, fl, states = grc_series(p, e, ci, cp, ct, cl, kexc, *levels)
    en, es, lexc, prr, prd, prl, qd = fl[1], fl[5], fl[6], fl[7], fl[8], fl[9], fl[11]
    storage = ci * states[0] + cp * states[1] + ct * states[2] + cl * states[3]
    exchange = lexc + (qd - prd)
    floors = floor_water(states[2, :-1], prr, ct) + floor_water(states[3, :-1], prl, cl)
    residual = p.sum() - (q.sum() + (e - en).sum() + es.sum() + storage[-1] - storage[0] - exchange.sum()
                          - floors.sum())
    assert abs(residual) <= 1e-9 * (p.sum() + ci + cp + ct + cl + 1.0)


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), be=st.floats(0.5, 20.0), kexc=st.floats(-3.0, 3.0),
       aexc=st.floats(0.01, 0.99), he=st.floats(-300.0, 50.0), levels=st.tuples(*[st.floats(0.0, 0.95)] * 3))
def test_gr6_mass_balance(seed, be, kexc, aexc, he, levels):
    """As GRC, with the exponential store's level (mm) in the storage and the exchange l applied to the
    routing and exponential branches and (clipped) to the direct one."""
    rng = np.random.default_rng(seed)
    p, e = forcings(rng, 150)
    ci, cp, ct = 1.2, 250.0, 90.0
    q, fl, states = gr6_series(p, e, ci, cp, ct, be, kexc, aexc, BETA, *levels, he)
    en, es, lexc, prr, prd, qd = fl[1], fl[5], fl[6], fl[7], fl[8], fl[11]
    storage = ci * states[0] + cp * states[1] + ct * states[2] + states[3]
    exchange = 2.0 * lexc + (qd - prd)
    floors = floor_water(states[2, :-1], prr, ct)
    residual = p.sum() - (q.sum() + (e - en).sum() + es.sum() + storage[-1] - storage[0] - exchange.sum()
                          - floors.sum())
    assert abs(residual) <= 1e-9 * (p.sum() + ci + cp + ct + abs(he) + be + 1.0)


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), ca=st.floats(20.0, 1000.0), cc=st.floats(10.0, 800.0),
       kb=st.floats(0.1, 4.0), ha=st.floats(0.0, 0.95), hc=st.floats(0.0, 0.95))
def test_loieau_mass_balance(seed, ca, cc, kb, ha, hc):
    """P = q/kb + ei + es + ΔS - floor: kb scales the runoff only (it is the model's water-balance
    correction), so the balance holds for the runoff before it."""
    rng = np.random.default_rng(seed)
    p, e = forcings(rng, 150)
    q, fl, states = loieau_series(p, e, ca, cc, kb, BETA, ha, hc)
    ei, es, prr, qr, qd = fl[0], fl[6], fl[7], fl[9], fl[10]
    storage = ca * states[0] + cc * states[1]
    floor = floor_water(states[1, :-1], prr, cc)
    residual = p.sum() - ((q / kb).sum() + ei.sum() + es.sum() + storage[-1] - storage[0] - floor.sum())
    assert abs(residual) <= 1e-9 * (p.sum() + ca + cc + 1.0)
    np.testing.assert_allclose(q, kb * (qr + qd), rtol=1e-14)
