"""Forcings: validation, time axis, daily-interannual PET disaggregation, missing values."""
import os

import numpy as np
import pandas as pd
import pytest

import skhydro
from skhydro.forcings import disaggregate_daily_interannual_pet
from helpers import smash_dataset_dir

# hourly share of the daily PET for the step ending at hour h (spec §2.3)
R = np.array([0, 0, 0, 0, 0, 0, 0, 0.035, 0.062, 0.079, 0.097, 0.110, 0.117, 0.117, 0.110, 0.097, 0.079,
              0.062, 0.035, 0, 0, 0, 0, 0])


def zeros(shape=(24, 2, 3)):
    return np.zeros(shape)


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(24, 6), (24,), (24, 2, 3, 1)])
def test_wrong_ndim(shape):
    with pytest.raises(ValueError, match=r"prcp must be a \(ntime, nrow, ncol\) array"):
        skhydro.Forcings(np.zeros(shape), zeros(), dt=3600, start="2020-01-01")
    with pytest.raises(ValueError, match=r"pet must be a \(ntime, nrow, ncol\) array"):
        skhydro.Forcings(zeros(), np.zeros(shape), dt=3600, start="2020-01-01")


@pytest.mark.parametrize("shape", [(23, 2, 3), (24, 3, 2), (24, 2, 4)])
def test_mismatched_shapes(shape):
    with pytest.raises(ValueError, match="pet must have shape"):
        skhydro.Forcings(zeros(), np.zeros(shape), dt=3600, start="2020-01-01")


@pytest.mark.parametrize("value", [-1.0, -1e-9, -98.9, -99.5, -9999.0, -np.inf, np.inf])
@pytest.mark.parametrize("field", ["prcp", "pet"])
def test_bad_values(field, value):
    arrays = {"prcp": zeros(), "pet": zeros()}
    arrays[field][5, 1, 2] = value
    match = "infinite" if np.isinf(value) else "negative values"
    with pytest.raises(ValueError, match=match):
        skhydro.Forcings(arrays["prcp"], arrays["pet"], dt=3600, start="2020-01-01")


@pytest.mark.parametrize("dt", [0, -3600, 1.5, 3600.5, np.nan, np.inf, -np.inf, True, "3600", None])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be a positive whole number"):
        skhydro.Forcings(zeros(), zeros(), dt=dt, start="2020-01-01")


def test_no_time_step():
    with pytest.raises(ValueError, match="no time step"):
        skhydro.Forcings(np.zeros((0, 2, 3)), np.zeros((0, 2, 3)), dt=3600, start="2020-01-01")


def test_non_numeric():
    with pytest.raises(TypeError, match="real numeric"):
        skhydro.Forcings(zeros().astype(complex), zeros(), dt=3600, start="2020-01-01")


def test_missing_values_accepted_and_kept():
    prcp, pet = zeros(), np.full((24, 2, 3), 0.1)
    prcp[3, 0, 0], prcp[4, 1, 1], pet[7, 1, 2] = np.nan, -99.0, np.nan
    f = skhydro.Forcings(prcp, pet, dt=3600.0, start="2020-01-01")
    assert f.dt == 3600 and isinstance(f.dt, int)
    assert np.isnan(f.prcp[3, 0, 0]) and f.prcp[4, 1, 1] == -99.0 and np.isnan(f.pet[7, 1, 2])
    assert f.prcp.dtype == np.float64 and not f.prcp.flags.writeable
    prcp[0, 0, 0] = 5.0  # the forcings hold a copy
    assert f.prcp[0, 0, 0] == 0.0
    mesh = skhydro.Mesh.from_flow_directions(np.array([[3, 3, 5], [3, 3, 0]]), dx=1000.0,
                                             gauges=[{"code": "o", "row": 1, "col": 2}])
    p, e = f.active_vectors(mesh)
    assert p.shape == (24, 6)
    # NaN and -99 both become the reference's -99 in the kernels' vectors
    grid_p, grid_e = mesh.to_grid(p), mesh.to_grid(e)
    assert grid_p[3, 0, 0] == -99.0 and grid_p[4, 1, 1] == -99.0 and grid_e[7, 1, 2] == -99.0
    assert (p >= 0).sum() == p.size - 2


def test_nan_and_minus_99_simulate_identically():
    rng = np.random.default_rng(0)
    mesh = skhydro.Mesh.from_flow_directions(np.array([[3, 3, 5], [3, 3, 0]]), dx=1000.0,
                                             gauges=[{"code": "o", "row": 1, "col": 2}])
    prcp = rng.gamma(0.5, 2.0, (48, 2, 3))
    pet = rng.uniform(0, 0.3, (48, 2, 3))
    miss_p, miss_e = rng.random(prcp.shape) < 0.1, rng.random(prcp.shape) < 0.1
    results = []
    for code in (np.nan, -99.0):
        f = skhydro.Forcings(np.where(miss_p, code, prcp), np.where(miss_e, code, pet), dt=3600,
                             start="2020-01-01")
        results.append(skhydro.simulate(mesh, f, "zero-gr4-kw", parameters={"ci": 1.0}))
    pd.testing.assert_frame_equal(results[0].discharge, results[1].discharge)
    for k in results[0].final_states:
        np.testing.assert_array_equal(results[0].final_states[k], results[1].final_states[k])


def test_index_is_step_end_stamps():
    f = skhydro.Forcings(zeros((5, 1, 1)), zeros((5, 1, 1)), dt=1800, start="2014-09-15 00:00")
    expected = pd.date_range("2014-09-15 00:30", periods=5, freq="30min")
    np.testing.assert_array_equal(f.index, expected)
    assert f.index[0] == f.start + pd.Timedelta(seconds=f.dt)
    assert f.ntime == 5 and f.shape == (1, 1)
    daily = skhydro.Forcings(zeros((3, 1, 1)), zeros((3, 1, 1)), dt=86400, start="2012-08-01")
    assert list(daily.index) == [pd.Timestamp("2012-08-02"), pd.Timestamp("2012-08-03"),
                                 pd.Timestamp("2012-08-04")]


# --------------------------------------------------------------------------------------------------
# daily-interannual PET
# --------------------------------------------------------------------------------------------------
def leap_day_values(nrow=1, ncol=1):
    """A (366, nrow, ncol) climatology whose value on leap-year day-of-year d (1-based) is d."""
    return np.broadcast_to(np.arange(1, 367, dtype=float)[:, None, None], (366, nrow, ncol)).copy()


def test_pet_hourly_weights():
    daily = np.full((366, 1, 2), 10.0)
    f = skhydro.Forcings(zeros((72, 1, 2)), daily, dt=3600, start="2014-10-01 00:00", daily_interannual_pet=True)
    pet = f.pet[:, 0, 0]
    hours = f.index.hour.to_numpy()
    # the step ending at 07:00 (06:00-07:00) gets 0.035 of the daily value
    assert pet[np.flatnonzero(hours == 7)[0]] == pytest.approx(0.35, rel=1e-7)
    assert f.index[6] == pd.Timestamp("2014-10-01 07:00") and pet[6] == pytest.approx(0.35, rel=1e-7)
    np.testing.assert_allclose(pet, 10.0 * R[hours], rtol=1e-7)
    assert (pet[(hours <= 6) | (hours >= 19)] == 0).all()
    # a whole day (steps ending 01:00 .. 24:00) sums to the daily value
    assert pet[:24].sum() == pytest.approx(10.0, rel=1e-6)


def test_pet_sub_hourly_and_multi_hour_weights():
    daily = np.full((366, 1, 1), 24.0)
    half = skhydro.Forcings(zeros((96, 1, 1)), daily, dt=1800, start="2014-10-01", daily_interannual_pet=True)
    # weight index = (seconds from midnight to the end stamp) / dt: step 0 ends at 00:30 -> index 1
    np.testing.assert_allclose(half.pet[:, 0, 0], 24.0 * np.roll(np.tile(np.repeat(R, 2) / 2, 2), -1), rtol=1e-7)
    assert half.index[13] == pd.Timestamp("2014-10-01 07:00") and half.pet[13, 0, 0] == pytest.approx(0.42)
    assert half.pet[12, 0, 0] == 0.0  # the step ending 06:30
    assert half.pet[:48].sum() == pytest.approx(24.0, rel=1e-6)
    three = skhydro.Forcings(zeros((16, 1, 1)), daily, dt=10800, start="2014-10-01", daily_interannual_pet=True)
    # blocks of three hourly weights (spec §2.3); step 0 ends at 03:00 -> block 1 = R[3:6]
    np.testing.assert_allclose(three.pet[:, 0, 0], 24.0 * np.roll(np.tile(R.reshape(8, 3).sum(axis=1), 2), -1),
                               rtol=1e-7)
    day = skhydro.Forcings(zeros((3, 1, 1)), daily, dt=86400, start="2014-10-01", daily_interannual_pet=True)
    np.testing.assert_allclose(day.pet[:, 0, 0], 24.0, rtol=1e-7)


def test_pet_leap_year_day_of_year_quirk():
    daily = leap_day_values()
    f = skhydro.Forcings(zeros((24, 1, 1)), daily, dt=3600, start="2014-10-01", daily_interannual_pet=True)
    doy_0930 = pd.Timestamp("2020-09-30").day_of_year
    assert doy_0930 == 274
    # 2014-10-01 (not a leap year) uses the file of 30 September
    assert f.pet[11, 0, 0] == pytest.approx(doy_0930 * R[12], rel=1e-7)  # step ending 12:00
    # before March, and in a leap year, dates keep their own day
    f = skhydro.Forcings(zeros((24, 1, 1)), daily, dt=3600, start="2014-02-10", daily_interannual_pet=True)
    assert f.pet[11, 0, 0] == pytest.approx(pd.Timestamp("2020-02-10").day_of_year * R[12], rel=1e-7)
    f = skhydro.Forcings(zeros((24, 1, 1)), daily, dt=3600, start="2016-10-01", daily_interannual_pet=True)
    assert f.pet[11, 0, 0] == pytest.approx(pd.Timestamp("2020-10-01").day_of_year * R[12], rel=1e-7)
    # the last step of a day ends at midnight: it belongs to the next date (weight R[0] = 0 anyway)
    f = skhydro.Forcings(zeros((2, 1, 1)), daily, dt=86400, start="2014-09-30", daily_interannual_pet=True)
    np.testing.assert_allclose(f.pet[:, 0, 0], [274, 275])  # stamps 2014-10-01, 2014-10-02 -> 0930, 1001


def test_pet_missing_day():
    daily = np.full((366, 1, 1), 5.0)
    doy = pd.Timestamp("2014-10-02").day_of_year  # 275 -> 0-based 274 = 1 October of the leap table
    daily[doy - 1] = np.nan
    f = skhydro.Forcings(zeros((72, 1, 1)), daily, dt=3600, start="2014-10-01", daily_interannual_pet=True)
    on_day = np.asarray(f.index.day_of_year == doy)
    assert on_day.sum() == 24
    # every step of that date is missing, even the night steps of zero weight
    assert (f.pet[on_day, 0, 0] == -99.0).all()
    assert (f.pet[~on_day, 0, 0] >= 0).all()
    daily[doy - 1] = -99.0
    g = skhydro.Forcings(zeros((72, 1, 1)), daily, dt=3600, start="2014-10-01", daily_interannual_pet=True)
    np.testing.assert_array_equal(f.pet, g.pet)


def test_pet_climatology_validation():
    with pytest.raises(ValueError, match=r"\(366, nrow, ncol\)"):
        skhydro.Forcings(zeros(), np.zeros((365, 2, 3)), dt=3600, start="2020-01-01", daily_interannual_pet=True)
    with pytest.raises(ValueError, match="pet must cover the grid"):
        skhydro.Forcings(zeros(), np.zeros((366, 3, 3)), dt=3600, start="2020-01-01", daily_interannual_pet=True)
    bad = np.zeros((366, 2, 3))
    bad[10, 0, 0] = -1.0
    with pytest.raises(ValueError, match="finite and non-negative"):
        skhydro.Forcings(zeros(), bad, dt=3600, start="2020-01-01", daily_interannual_pet=True)
    for dt in (5400, 25200):
        with pytest.raises(ValueError, match="daily-interannual PET needs dt"):
            skhydro.Forcings(zeros(), np.zeros((366, 2, 3)), dt=dt, start="2020-01-01",
                             daily_interannual_pet=True)
    with pytest.raises(ValueError, match=r"\(366, nrow, ncol\)"):
        disaggregate_daily_interannual_pet(np.zeros((366, 2)), pd.date_range("2020-01-01", periods=3, freq="h"),
                                           3600)


def read_cance_daily_pet(mesh_info):
    """The Cance MMDD_ETPJIA.tif files as a (366, nrow, ncol) climatology cut to the mesh window."""
    import rasterio

    directory = os.path.join(smash_dataset_dir(), "Cance", "pet")
    nrow, ncol = int(mesh_info["nrow"]), int(mesh_info["ncol"])
    daily = np.full((366, nrow, ncol), np.nan)
    for d, date in enumerate(pd.date_range("2020-01-01", "2020-12-31", freq="D")):
        path = os.path.join(directory, f"{date:%m%d}_ETPJIA.tif")
        if not os.path.exists(path):
            continue
        with rasterio.open(path) as src:
            data = src.read(1, masked=True).astype(np.float64).filled(np.nan)
            xmin, ymax = src.transform.c, src.transform.f
            xres, yres = src.transform.a, -src.transform.e
        row0 = round((ymax - mesh_info["ymax"]) / yres)
        col0 = round((mesh_info["xmin"] - xmin) / xres)
        daily[d] = data[row0:row0 + nrow, col0:col0 + ncol]
    return daily


@pytest.mark.smash
def test_cance_pet_disaggregation_matches_smash(reference_case):
    case = reference_case("Cance", "lr")
    model = case.model
    daily = read_cance_daily_pet({k: getattr(model.mesh, k) for k in ("nrow", "ncol", "xmin", "ymax")})
    assert np.isfinite(daily).any(axis=(1, 2)).sum() == 124  # the files bundled with the dataset
    f = skhydro.Forcings(case.forcings.prcp, daily, dt=int(model.setup.dt), start=str(model.setup.start_time),
                         daily_interannual_pet=True)
    ref = np.moveaxis(np.array(model.atmos_data.pet, dtype=np.float64), -1, 0)
    act = case.mesh.active
    ours, theirs = f.pet[:, act], ref[:, act]
    np.testing.assert_array_equal(ours < 0, theirs < 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    # reference numbers (spec §10.4): mean over active cells of the total pet and prcp, mm
    assert f.pet[:, act].sum(axis=0).mean() == pytest.approx(77.7908, rel=1e-5)
    assert f.prcp[:, act].sum(axis=0).mean() == pytest.approx(464.349, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# missing values in the simulation (spec §6.0, §6.1 T)
# --------------------------------------------------------------------------------------------------
def two_cell_mesh():
    # (0, 0) drains east into the gauge (0, 1)
    return skhydro.Mesh.from_flow_directions(np.array([[3, 0]]), dx=1000.0,
                                             gauges=[{"code": "o", "row": 0, "col": 1}])


def test_missing_prcp_in_simulate():
    mesh = two_cell_mesh()
    rng = np.random.default_rng(1)
    n, k = 40, 30  # step k is missing on cell (0, 0)
    prcp = rng.gamma(0.6, 3.0, (n, 1, 2))
    pet = rng.uniform(0.05, 0.3, (n, 1, 2))
    prcp[k, 0, 0] = -99.0
    params = {"ci": 1.3, "cp": 250.0, "ct": 80.0, "kexc": 0.5}
    states = {"hi": 0.4, "hp": 0.5, "ht": 0.6}

    def run(nsteps):
        f = skhydro.Forcings(prcp[:nsteps], pet[:nsteps], dt=3600, start="2020-06-01")
        return skhydro.simulate(mesh, f, "zero-gr4-lag0", parameters=params, states=states, return_fluxes=True)

    before, after = run(k), run(k + 1)
    s0 = {name: v[0, 0] for name, v in before.final_states.items()}
    s1 = {name: v[0, 0] for name, v in after.final_states.items()}
    # interception and production untouched, the transfer level kept (up to rounding)
    assert s1["hi"] == s0["hi"] and s1["hp"] == s0["hp"]
    assert s1["ht"] == pytest.approx(s0["ht"], rel=1e-13)
    fl = {name: v[k, 0, 0] for name, v in after.fluxes.items()}
    for name in ("pn", "en", "pr", "perc", "ps", "es", "lexc", "prr", "prd", "qd"):
        assert fl[name] == 0.0, name
    # ... while still emitting the outflow that keeps its level: q = ct h ((1 - h^4)^(-1/4) - 1)
    h, ct = s0["ht"], params["ct"]
    expected_q = ct * h * ((1 - h ** 4) ** -0.25 - 1)
    assert fl["qr"] == pytest.approx(expected_q, rel=1e-10) and fl["qr"] > 0
    assert fl["qt"] == pytest.approx(expected_q * 1e-3 * 1e6 / 3600, rel=1e-10)
    # the other cell runs normally at that step
    assert after.fluxes["perc"][k, 0, 1] > 0
    assert after.final_states["hp"][0, 1] != before.final_states["hp"][0, 1]
    # the gauge sees both cells (lag0)
    assert after.discharge.iloc[k, 0] == pytest.approx(after.fluxes["qt"][k, 0].sum(), rel=1e-12)


def test_missing_pet_with_valid_prcp():
    # an invalid step because of pet: no interception / production, but the transfer store drains normally
    mesh = two_cell_mesh()
    prcp = np.full((3, 1, 2), 2.0)
    pet = np.full((3, 1, 2), 0.1)
    pet[2, 0, 0] = np.nan
    params = {"ci": 1.0, "cp": 200.0, "ct": 100.0, "kexc": 0.0}
    states = {"hi": 0.3, "hp": 0.5, "ht": 0.6}
    runs = [skhydro.simulate(mesh, skhydro.Forcings(prcp[:n], pet[:n], dt=3600, start="2020-06-01"),
                             "zero-gr4-lag0", parameters=params, states=states, return_fluxes=True)
            for n in (2, 3)]
    s0 = {k: v[0, 0] for k, v in runs[0].final_states.items()}
    s1 = {k: v[0, 0] for k, v in runs[1].final_states.items()}
    assert s1["hi"] == s0["hi"] and s1["hp"] == s0["hp"]
    h = s0["ht"]
    assert s1["ht"] == pytest.approx(h / (1 + h ** 4) ** 0.25, rel=1e-13)  # plain drainage, no inflow
    assert runs[1].fluxes["pn"][2, 0, 0] == 0.0 and runs[1].fluxes["prr"][2, 0, 0] == 0.0
    assert runs[1].fluxes["qr"][2, 0, 0] == pytest.approx(100.0 * (h - s1["ht"]), rel=1e-10)
