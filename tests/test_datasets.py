"""Tests of the synthetic basin generator, ``skhydro.datasets.make_synthetic_basin``."""

import numpy as np
import pandas as pd
import pytest

import skhydro
from skhydro.datasets import SyntheticBasin, make_synthetic_basin
from skhydro.structures import get_structure


@pytest.fixture(scope="module")
def basin():
    return make_synthetic_basin(random_state=0)


def _arrays(b):
    """Every array a basin holds, by name."""
    out = {"flwdir": b.mesh.flwdir, "active": b.mesh.active, "dem": b.dem, "prcp": b.forcings.prcp,
           "pet": b.forcings.pet, "observed": b.observed.to_numpy(), "true_discharge": b.true_discharge.to_numpy(),
           "gauges": b.mesh.gauges[["row", "col"]].to_numpy()}
    out.update({f"descriptor {k}": v for k, v in b.descriptors.items()})
    out.update({f"parameter {k}": v for k, v in b.true_parameters.items()})
    return out


def test_deterministic_for_a_seed(basin):
    again = make_synthetic_basin(random_state=0)
    a, b = _arrays(basin), _arrays(again)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert basin.mesh.gauge_codes == again.mesh.gauge_codes
    pd.testing.assert_index_equal(basin.forcings.index, again.forcings.index)


def test_seeds_differ(basin):
    other = make_synthetic_basin(random_state=1)
    a, b = _arrays(basin), _arrays(other)
    for name in ("dem", "prcp", "descriptor soil_depth", "parameter cp"):
        assert not np.array_equal(a[name], b[name]), name


def test_random_state_instance_is_accepted():
    rs = np.random.RandomState(3)
    b = make_synthetic_basin(random_state=rs, n_steps=48)
    np.testing.assert_array_equal(b.dem, make_synthetic_basin(random_state=3, n_steps=48).dem)


def test_contents_and_shapes(basin):
    assert isinstance(basin, SyntheticBasin)
    mesh, f = basin.mesh, basin.forcings
    shape = mesh.shape
    assert basin.structure == "zero-gr4-kw"
    assert f.shape == shape and f.dt == 3600 and f.ntime == 2000
    assert np.isfinite(f.prcp).all() and (f.prcp >= 0).all()
    assert np.isfinite(f.pet).all() and (f.pet >= 0).all()
    # intermittent rain, PET zero at night
    wet = mesh.to_vector(f.prcp).mean(axis=1) > 0
    assert 0.05 < wet.mean() < 0.8
    assert f.pet[f.index.hour == 0].max() == 0 and f.pet.max() > 0
    assert basin.dem.shape == shape
    assert len(basin.descriptors) >= 3
    for name, d in basin.descriptors.items():
        assert d.shape == shape and np.isfinite(d).all(), name
        assert d.std() > 0, name
    assert set(basin.true_parameters) <= set(get_structure(basin.structure).parameters)
    for name, p in basin.true_parameters.items():
        assert p.shape == shape and np.isfinite(p).all(), name
        assert p[mesh.active].std() > 0, name
    for table in (basin.observed, basin.true_discharge):
        assert table.index.equals(f.index)
        assert list(table.columns) == mesh.gauge_codes
    assert mesh.gauge_codes == [f"SYN{i:03d}" for i in range(1, len(mesh.gauge_codes) + 1)]
    assert 3 <= len(mesh.gauge_codes) <= 5
    assert mesh.transform is not None and mesh.transform.a == 1000.0
    np.testing.assert_array_equal(mesh.dx, 1000.0)
    assert "SyntheticBasin(" in repr(basin)


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 42])
def test_number_of_active_cells(seed):
    mesh = make_synthetic_basin(random_state=seed, n_steps=24).mesh
    assert 500 <= mesh.n_active <= 2000
    # the outlet gauge drains every active cell
    row, col = mesh.gauges.row.iloc[0], mesh.gauges.col.iloc[0]
    assert mesh.flow_accumulation_cells[row, col] == mesh.n_active
    # every cell of the grid has a direction (derived from a depression-filled DEM)
    assert (mesh.flwdir > 0).all()


def test_gauges_are_nested(basin):
    mesh = basin.mesh
    g = mesh.gauges
    acc = mesh.flow_accumulation_cells[g.row, g.col]
    assert acc[0] == acc.max() and (acc[1:] < acc[0]).all()
    assert len(set(zip(g.row, g.col))) == len(g)
    # with instantaneous accumulation (lag0) the outlet carries all the runoff of the upstream gauges
    gr4 = {k: basin.true_parameters[k] for k in ("cp", "ct", "kexc")}
    lag0 = skhydro.simulate(mesh, basin.forcings, "zero-gr4-lag0", parameters=gr4)
    q = lag0.discharge.to_numpy()
    assert (q[:, :1] >= q[:, 1:] * (1 - 1e-12)).all()
    # each upstream gauge lies inside the outlet's upstream area, which is the active domain
    for row, col in zip(g.row.iloc[1:], g.col.iloc[1:]):
        cells = _upstream_cells(mesh, row, col)
        assert mesh.active[cells].all() and cells.sum() == mesh.flow_accumulation_cells[row, col]


def _upstream_cells(mesh, row, col):
    """Boolean map of the cells draining through (row, col), by walking every cell downstream."""
    offsets = np.array([(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)])
    nrow, ncol = mesh.shape
    out = np.zeros(mesh.shape, dtype=bool)
    for r0 in range(nrow):
        for c0 in range(ncol):
            r, c = r0, c0
            while 0 <= r < nrow and 0 <= c < ncol:
                if (r, c) == (row, col):
                    out[r0, c0] = True
                    break
                dr, dc = offsets[mesh.flwdir[r, c] - 1]
                r, c = r + dr, c + dc
    return out


def test_true_parameters_inside_bounds(basin):
    bounds = get_structure(basin.structure).bounds()
    for name, p in basin.true_parameters.items():
        low, high = bounds[name]
        assert low < p.min() and p.max() < high, name


def test_observed_is_noisy_simulation_with_gaps(basin):
    obs = basin.observed.to_numpy()
    missing = np.isnan(obs)
    assert missing.any(axis=0).all()  # gaps at every gauge
    assert missing.mean() < 0.3
    assert np.isfinite(obs[~missing]).all() and (obs[~missing] >= 0).all()
    # the noiseless series is the simulation with the true parameters (ci adjusted)
    sim = skhydro.simulate(basin.mesh, basin.forcings, basin.structure, parameters=basin.true_parameters)
    pd.testing.assert_frame_equal(sim.discharge, basin.true_discharge)
    q = sim.discharge.to_numpy()
    ratio = obs[~missing] / q[~missing]
    assert np.abs(np.log(ratio)).max() < 0.5  # 5 % log-normal noise
    assert 0.02 < np.log(ratio).std() < 0.08
    assert not np.array_equal(obs[~missing], q[~missing])
    # the basin responds: clear floods at the outlet
    assert q[:, 0].max() > 10 * np.median(q[:, 0])


def test_noise_free_and_shorter():
    b = make_synthetic_basin(random_state=5, n_steps=200, noise=0.0)
    assert b.forcings.ntime == 200
    ok = ~b.observed.isna().to_numpy()
    np.testing.assert_allclose(b.observed.to_numpy()[ok], b.true_discharge.to_numpy()[ok], rtol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(n_steps=0), dict(n_steps=1.5), dict(noise=-0.1), dict(noise=np.nan)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        make_synthetic_basin(**kwargs)

