"""GRD, GRC and GR6 point functions: dot-product tests of the reverse twins against finite differences of
the forward ones (one cell, conventions of test_operator_adjoints.py), and their mass balances."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skhydro._kernels._gr6 import gr6_series, gr6_series_b
from skhydro._kernels._grc import grc_series, grc_series_b
from skhydro._kernels._grd import grd_series, grd_series_b

BETA = 2.25 * 24.0 ** 0.25


def forcings(rng, n, missing=0.0):
    prcp = np.where(rng.random(n) < 0.35, rng.exponential(4.0, n), 0.0)
    pet = rng.uniform(0.0, 0.5, n) * (rng.random(n) < 0.8)
    if missing:
        prcp[rng.random(n) < missing] = -99.0
        pet[rng.random(n) < missing / 2] = -99.0
    return prcp, pet


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
        params_b, states_b = series_b(prcp, pet, *x[:n_params], *fixed, *x[n_params:], w[:-n_states], w[-n_states:])
        return np.concatenate([params_b, states_b])

    return forward, reverse


@pytest.mark.parametrize("missing", [0.0, 0.1])
@pytest.mark.parametrize("name", ["grd", "grc", "gr6"])
def test_dot_product(name, missing):
    rng = np.random.default_rng(7 + int(missing * 100) + len(name))
    prcp, pet = forcings(rng, 300, missing)
    if name == "grd":
        f, r = pair(grd_series, grd_series_b, prcp, pet, 2, 2)
        x0 = np.array([250.0, 90.0, 0.4, 0.2])
    elif name == "grc":
        f, r = pair(grc_series, grc_series_b, prcp, pet, 5, 4)
        x0 = np.array([1.2, 250.0, 90.0, 300.0, -0.5, 0.3, 0.4, 0.2, 0.3])
    else:
        f, r = pair(gr6_series, gr6_series_b, prcp, pet, 6, 4, fixed=(BETA,))
        x0 = np.array([1.2, 250.0, 90.0, 8.0, 0.3, 0.2, 0.3, 0.4, 0.2, -30.0])
    assert dot_error(f, r, x0, rng) <= 1e-6


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
