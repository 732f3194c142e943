"""Dot-product tests of each reverse kernel against finite differences of its forward twin (one cell).

For inputs ``x`` (parameters, initial states and, for routing, the inflow series), outputs ``F(x)`` (the
discharge or runoff series and final states), a random direction ``v`` and a random output weight ``w``:
``w · (F(x + hv) - F(x - hv)) / 2h`` must equal ``(Jᵀ w) · v`` from the reverse kernel. Regimes avoid
sitting exactly on a min/max switch; the finite difference is taken at two steps and must agree with
the adjoint at one of them (a kink crossed by a larger step, or round-off at a smaller one, spoils only
that one).
"""
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skhydro._kernels._gr4 import gr4_series, gr4_series_b
from skhydro._kernels._routing import kw_series, kw_series_b, lr_series, lr_series_b

DT = 3600.0
BETA = 2.25 * (86400.0 / DT) ** 0.25
RTOL = 1e-6


def dot_check(forward, reverse, x0, scale, rng, steps=(1e-5, 1e-6, 1e-7, 1e-8)):
    """Relative mismatch of the dot-product test along one random direction."""
    y0 = forward(x0)
    w = rng.normal(size=y0.size)
    v = rng.uniform(-1, 1, x0.size) * scale
    adjoint = reverse(x0, w) @ v
    best = np.inf
    for h in steps:
        fd = w @ (forward(x0 + h * v) - forward(x0 - h * v)) / (2 * h)
        best = min(best, abs(fd - adjoint) / max(abs(adjoint), 1e-300))
    return best


# ----------------------------------------------------------------------------------------------- gr4
def gr4_forcings(rng, n, missing=0.0):
    prcp = np.where(rng.random(n) < 0.35, rng.exponential(4.0, n), 0.0)
    pet = rng.uniform(0.0, 0.5, n) * (rng.random(n) < 0.8)
    if missing:
        prcp[rng.random(n) < missing] = -99.0
        pet[rng.random(n) < missing / 2] = -99.0
    return prcp, pet


def gr4_pair(prcp, pet):
    def forward(x):
        q, _, states = gr4_series(prcp, pet, *x[:4], BETA, *x[4:])
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        params_b, states_b = gr4_series_b(prcp, pet, *x[:4], BETA, *x[4:], w[:-3], w[-3:])
        return np.concatenate([params_b, states_b])

    return forward, reverse


GR4_REGIMES = {
    "typical": (dict(ci=1.2, cp=250.0, ct=90.0, kexc=-0.5, hi=0.3, hp=0.4, ht=0.2), 0.0),
    "gaining": (dict(ci=0.6, cp=80.0, ct=30.0, kexc=2.0, hi=0.1, hp=0.8, ht=0.6), 0.0),
    "near empty": (dict(ci=2.5, cp=900.0, ct=400.0, kexc=0.3, hi=0.01, hp=0.02, ht=0.01), 0.0),
    "near full": (dict(ci=1.0, cp=60.0, ct=25.0, kexc=-3.0, hi=0.9, hp=0.95, ht=0.9), 0.0),
    "missing forcings": (dict(ci=1.5, cp=200.0, ct=100.0, kexc=-1.0, hi=0.5, hp=0.5, ht=0.4), 0.15),
}


@pytest.mark.parametrize("regime", list(GR4_REGIMES))
def test_gr4_dot_product(regime):
    values, missing = GR4_REGIMES[regime]
    rng = np.random.default_rng(zlib.crc32(regime.encode()))  # str hash() changes between runs
    prcp, pet = gr4_forcings(rng, 300, missing)
    forward, reverse = gr4_pair(prcp, pet)
    x0 = np.array([values[k] for k in ("ci", "cp", "ct", "kexc", "hi", "hp", "ht")])
    scale = np.maximum(np.abs(x0), 0.05)
    for _ in range(3):
        assert dot_check(forward, reverse, x0, scale, rng) <= RTOL


def test_gr4_transfer_floor():
    # an exchange loss large enough to hit the 1e-6 transfer floor on dry steps: its derivative is zero
    rng = np.random.default_rng(5)
    prcp, pet = gr4_forcings(rng, 200)
    forward, reverse = gr4_pair(prcp, pet)
    x0 = np.array([1.0, 150.0, 20.0, -40.0, 0.2, 0.3, 0.05])
    assert dot_check(forward, reverse, x0, np.maximum(np.abs(x0), 0.05), rng) <= RTOL


def test_gr4_each_component():
    rng = np.random.default_rng(6)
    prcp, pet = gr4_forcings(rng, 300)
    forward, reverse = gr4_pair(prcp, pet)
    x0 = np.array([1.2, 250.0, 90.0, -0.5, 0.3, 0.4, 0.2])
    w = rng.normal(size=forward(x0).size)
    g = reverse(x0, w)
    for i in np.flatnonzero(np.abs(g) > 1e-3 * np.abs(g).max()):
        h = 1e-6 * max(abs(x0[i]), 0.05)
        e = np.zeros_like(x0)
        e[i] = h
        fd = w @ (forward(x0 + e) - forward(x0 - e)) / (2 * h)
        assert fd == pytest.approx(g[i], rel=1e-5), i


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), ci=st.floats(0.3, 3.0), cp=st.floats(30.0, 1000.0),
       ct=st.floats(10.0, 500.0),
       # kexc = 0 exactly is a kink (qd = max(0, prd + lexc) with prd = 0 on steps without percolation)
       kexc=st.floats(-5.0, 5.0).filter(lambda k: abs(k) > 1e-3), hi=st.floats(0.01, 0.95),
       hp=st.floats(0.01, 0.95), ht=st.floats(0.01, 0.95))
def test_gr4_dot_product_property(seed, ci, cp, ct, kexc, hi, hp, ht):
    rng = np.random.default_rng(seed)
    prcp, pet = gr4_forcings(rng, 120, missing=0.05)
    forward, reverse = gr4_pair(prcp, pet)
    x0 = np.array([ci, cp, ct, kexc, hi, hp, ht])
    assert dot_check(forward, reverse, x0, np.maximum(np.abs(x0), 0.05), rng) <= 1e-5


# ------------------------------------------------------------------------------------------- routing
def inflows(rng, n, low=0.0):
    qt = low + rng.exponential(2.0, n) * (rng.random(n) < 0.7)
    qup = low + 50.0 * np.abs(np.sin(np.arange(n) / 15.0)) + rng.exponential(5.0, n)
    return qt, qup


@pytest.mark.parametrize("llr", [5.0, 60.0, 500.0])
def test_lr_dot_product(llr):
    rng = np.random.default_rng(int(llr))
    n, area = 200, 3e8
    qt, qup = inflows(rng, n)

    def forward(x):
        q, h = lr_series(x[2:2 + n], x[2 + n:], x[0], DT, area, x[1])
        return np.concatenate([q, h[-1:]])

    def reverse(x, w):
        llr_b, h_b, qt_b, qup_b = lr_series_b(x[2:2 + n], x[2 + n:], x[0], DT, area, x[1], w[:-1], w[-1])
        return np.concatenate([[llr_b, h_b], qt_b, qup_b])

    x0 = np.concatenate([[llr, 3.0], qt, qup])
    for _ in range(3):
        assert dot_check(forward, reverse, x0, np.maximum(np.abs(x0), 0.1), rng) <= RTOL


@pytest.mark.parametrize("akw, bkw, low", [(5.0, 0.6, 0.0), (1.5, 0.35, 0.0), (18.0, 0.85, 0.0), (5.0, 0.6, 2e-6)])
def test_kw_dot_product(akw, bkw, low):
    rng = np.random.default_rng(int(akw * 100))
    n = 200
    qt, qup = inflows(rng, n, low)
    qt[:10] = 0.0  # below the 1e-6 floor: constant there
    qup[:5] = 0.0

    def forward(x):
        return kw_series(x[2:2 + n], x[2 + n:], x[0], x[1], DT / 1000.0)

    def reverse(x, w):
        akw_b, bkw_b, qt_b, qup_b = kw_series_b(x[2:2 + n], x[2 + n:], x[0], x[1], DT / 1000.0, w)
        return np.concatenate([[akw_b, bkw_b], qt_b, qup_b])

    x0 = np.concatenate([[akw, bkw], qt, qup])
    scale = np.maximum(np.abs(x0), 0.1)
    scale[2:12] = 0.0  # keep the floored inflows on their floor
    scale[2 + n:2 + n + 5] = 0.0
    for _ in range(3):
        assert dot_check(forward, reverse, x0, scale, rng) <= RTOL


def test_kw_floored_inputs_get_no_gradient():
    qt, qup = np.zeros(20), np.zeros(20)
    akw_b, bkw_b, qt_b, qup_b = kw_series_b(qt, qup, 5.0, 0.6, 3.6, np.ones(20))
    assert (qt_b == 0).all() and (qup_b == 0).all()
