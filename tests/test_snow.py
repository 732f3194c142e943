"""The snow operator ``ssn`` (degree-day store, spec §5) and the snow forcings (spec §2.4): forward and
reverse kernels, mass balance, the rain/snow partitioning and validation."""
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skhydro
from skhydro._kernels._snow import ssn_series, ssn_series_b
from skhydro.forcings import partition_precipitation


def snow_forcings(rng, n, missing=0.0):
    snow = np.where(rng.random(n) < 0.3, rng.exponential(3.0, n), 0.0)
    temp = rng.normal(0.0, 4.0, n)
    if missing:
        snow[rng.random(n) < missing] = -99.0
        temp[rng.random(n) < missing] = -99.0
    return snow, temp


def melt_reference(snow, temp, kmlt, hs):
    """Spec §5 written out in Python."""
    out = []
    for s, t in zip(snow, temp):
        if s >= 0 and t > -99:
            hs += s
            m = min(max(0.0, kmlt * t), hs)
            hs -= m
        else:
            m = 0.0
        out.append(m)
    return np.array(out), hs


@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_forward_matches_the_spec(missing):
    rng = np.random.default_rng(1)
    snow, temp = snow_forcings(rng, 500, missing)
    mlt, levels = ssn_series(snow, temp, 0.7, 5.0)
    ref, hs_end = melt_reference(snow, temp, 0.7, 5.0)
    np.testing.assert_allclose(mlt, ref, rtol=1e-15, atol=1e-15)
    assert levels[-1] == pytest.approx(hs_end, rel=1e-14)
    assert (mlt[temp <= 0] == 0).all() and (levels >= 0).all()


@pytest.mark.parametrize("missing", [0.0, 0.1])
@pytest.mark.parametrize("kmlt, hs", [(0.7, 5.0), (3.0, 0.0), (0.05, 40.0)])
def test_dot_product(kmlt, hs, missing):
    """Reverse twin against central differences on (kmlt, hs0) for random adjoints of melt and final level."""
    rng = np.random.default_rng(int(10 * kmlt) + int(hs) + int(100 * missing))
    snow, temp = snow_forcings(rng, 400, missing)

    def forward(x):
        mlt, levels = ssn_series(snow, temp, x[0], x[1])
        return np.append(mlt, levels[-1])

    x0 = np.array([kmlt, hs])
    for _ in range(3):
        w = rng.normal(size=snow.size + 1)
        v = rng.uniform(-1, 1, 2) * np.maximum(x0, 0.05)
        adjoint = np.array(ssn_series_b(snow, temp, *x0, w[:-1], w[-1])) @ v
        fd = min((abs(w @ (forward(x0 + h * v) - forward(x0 - h * v)) / (2 * h) - adjoint)
                  for h in (1e-5, 1e-6, 1e-7)))
        assert fd <= 1e-6 * abs(adjoint)


@settings(deadline=None, max_examples=80)
@given(seed=st.integers(0, 2**31 - 1), kmlt=st.floats(1e-3, 10.0), hs=st.floats(0.0, 100.0))
def test_mass_balance(seed, kmlt, hs):
    """Snowfall = melt + storage change, exactly, and the store never goes negative."""
    rng = np.random.default_rng(seed)
    snow, temp = snow_forcings(rng, 200, missing=0.05)
    mlt, levels = ssn_series(snow, temp, kmlt, hs)
    fallen = np.where((snow >= 0) & (temp > -99), snow, 0.0).sum()
    assert abs(fallen - mlt.sum() - (levels[-1] - levels[0])) <= 1e-10 * (fallen + hs + 1.0)
    assert (levels >= 0).all() and (mlt >= 0).all()


# ------------------------------------------------------------------------------------------ forcings
def test_partitioning_formula():
    rng = np.random.default_rng(4)
    prcp = rng.exponential(2.0, (30, 3, 4))
    snow = rng.exponential(1.0, prcp.shape)
    temp = rng.normal(0.5, 3.0, prcp.shape)
    prcp[0, 0, 0] = -99.0
    snow[1, 0, 0] = np.nan
    temp[2, 0, 0] = -99.0
    rain, snowfall = partition_precipitation(prcp, snow, temp)
    total = prcp + np.nan_to_num(snow, nan=0.0)  # a missing snowfall adds nothing
    liquid = np.where(temp > -99, 1.0 - 1.0 / (1.0 + np.exp(2.5 * temp - 1.0)), 1.0)  # missing T: all rain
    valid = np.ones(prcp.shape, bool)
    valid[0, 0, 0] = False
    np.testing.assert_allclose(rain[valid], (liquid * total)[valid], rtol=1e-12, atol=1e-14 * total.max())
    np.testing.assert_allclose(rain[valid] + snowfall[valid], total[valid], rtol=1e-12)
    assert rain[1, 0, 0] == pytest.approx(liquid[1, 0, 0] * prcp[1, 0, 0], rel=1e-12)
    assert snowfall[2, 0, 0] == 0.0 and rain[2, 0, 0] == total[2, 0, 0]
    assert rain[0, 0, 0] == -99.0 and snowfall[0, 0, 0] == -99.0  # missing rain: the total is missing


def make_forcings(**kwargs):
    rng = np.random.default_rng(5)
    prcp = rng.exponential(1.0, (48, 3, 3))
    pet = np.full(prcp.shape, 0.1)
    return skhydro.Forcings(prcp, pet, dt=3600, start="2020-01-01", **kwargs), prcp


def test_forcings_with_snow_and_temperature():
    temp = np.random.default_rng(6).normal(0.0, 3.0, (48, 3, 3))
    f, prcp = make_forcings(temp=temp, prcp_partitioning=True)
    assert f.snow.shape == f.temp.shape == prcp.shape
    np.testing.assert_allclose(f.prcp + f.snow, prcp, rtol=1e-12)
    assert not f.temp.flags.writeable and not f.snow.flags.writeable
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g.snow, f.snow)
    # without a snowfall field no snow falls, whatever the temperature
    f, _ = make_forcings(temp=temp)
    assert f.snow is None
    mesh = skhydro.Mesh.from_flow_directions(np.array([[5, 5, 5], [5, 5, 5], [3, 3, 5]]), dx=1000.0,
                                             active_cells=np.ones((3, 3), bool),
                                             gauges=[dict(code="OUT", row=2, col=2)])
    snow_v, temp_v = f.snow_vectors(mesh)
    assert (snow_v == 0).all() and temp_v.shape == (48, 9)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(temp=np.zeros((47, 3, 3))), ValueError, "shape"),
    (dict(temp=np.full((48, 3, 3), np.inf)), ValueError, "infinite"),
    (dict(temp=np.zeros((48, 3, 3), complex)), TypeError, "real"),
    (dict(snow=-np.ones((48, 3, 3)), temp=np.zeros((48, 3, 3))), ValueError, "negative"),
    (dict(snow=np.ones((48, 3, 2)), temp=np.zeros((48, 3, 3))), ValueError, "shape"),
    (dict(prcp_partitioning=True), ValueError, "temperature"),
])
def test_forcings_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_forcings(**kwargs)


def test_snow_structure_needs_temperature():
    basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=50)
    with pytest.raises(ValueError, match="temperature"):
        skhydro.simulate(basin.mesh, basin.forcings, "ssn-gr4-kw")


def test_snow_delays_runoff_on_the_synthetic_basin():
    """Cold-season snow stays in the store and melts later: total melt + final stock = snowfall."""
    basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=600, snow=True,
                                                  initial_states={"hp": 0.5, "ht": 0.3})
    assert basin.structure == "ssn-gr4-kw" and "kmlt" in basin.true_parameters
    res = skhydro.simulate(basin.mesh, basin.forcings, basin.structure, basin.true_parameters, return_fluxes=True)
    act = basin.mesh.active
    fallen = np.where(basin.forcings.snow >= 0, basin.forcings.snow, 0.0)[:, act].sum(axis=0)
    melted = res.fluxes["mlt"][:, act].sum(axis=0)
    stock = res.final_states["hs"][act] - 1e-6
    np.testing.assert_allclose(melted + stock, fallen, rtol=1e-10, atol=1e-9)
    assert melted.sum() > 0.2 * fallen.sum() and stock.max() > 0
