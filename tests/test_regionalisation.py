"""Descriptors and the regionalisation mappings (multi-linear, multi-power, ANN): transforms, errors, and
the chained gradient dJ/dx = (dθ/dx)ᵀ dJ/dθ checked against finite differences, alone and through the
whole model."""
import numpy as np
import pytest

import skhydro
from skhydro.mappings import (ACTIVATIONS, INITIALIZERS, ANNMapping, Descriptors, MultiLinearMapping,
                              MultiPowerMapping)

RTOL = 1e-6


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states={"hp": 0.5, "ht": 0.3})


def directional_error(f, grad, x0, rng, steps=(1e-4, 1e-5, 1e-6, 1e-7), n_directions=3):
    """Worst relative mismatch of central differences of ``f`` along random directions with ``grad · v``."""
    worst = 0.0
    for _ in range(n_directions):
        v = rng.normal(size=x0.size)
        exact = grad @ v
        best = min(abs((f(x0 + h * v) - f(x0 - h * v)) / (2 * h) - exact) for h in steps)
        worst = max(worst, best / abs(exact))
    return worst


# ------------------------------------------------------------------------------------------ descriptors
def test_descriptor_transforms_use_every_valid_cell_of_the_grid():
    raw = np.array([[1.0, 2.0, np.nan], [4.0, -99.0, 6.0]])
    for transform, expected in [("standardize", (raw - np.nanmean(np.where(raw == -99, np.nan, raw)))
                                 / np.nanstd(np.where(raw == -99, np.nan, raw))),
                                ("normalize", (raw - 1.0) / 5.0), ("keep", raw)]:
        d = Descriptors({"a": raw}, transform=transform)
        got = d.transformed("a")
        valid = np.isfinite(raw) & (raw != -99)
        np.testing.assert_allclose(got[valid], np.where(raw == -99, np.nan, expected)[valid], rtol=1e-14)
        assert np.isnan(got[~valid]).all()
    assert Descriptors({"a": raw}).statistics["a"] == dict(min=1.0, max=6.0, mean=3.25,
                                                           std=float(np.std([1.0, 2.0, 4.0, 6.0])))


def test_descriptor_matrix_follows_the_mesh(basin):
    d = Descriptors(basin.descriptors)
    m = d.matrix(basin.mesh)
    assert m.shape == (basin.mesh.n_active, len(basin.descriptors))
    np.testing.assert_array_equal(m[:, 1], basin.mesh.to_vector(d.transformed(d.names[1])))
    assert d.matrix(basin.mesh, names=["slope"]).shape == (basin.mesh.n_active, 1)


@pytest.mark.parametrize("maps, kwargs, match", [
    ({}, {}, "non-empty"),
    ({"a": np.zeros(4)}, {}, "map"),
    ({"a": np.ones((2, 2)), "b": np.ones((3, 2))}, {"transform": "keep"}, "shape"),
    ({"a": np.full((2, 2), 3.0)}, {}, "uniform"),
    ({"a": np.full((2, 2), np.nan)}, {}, "no valid"),
    ({"a": np.array([[1.0, np.inf], [0.0, 2.0]])}, {}, "infinite"),
    ({"a": np.eye(2)}, {"transform": "minmax"}, "transform"),
])
def test_descriptor_errors(maps, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Descriptors(maps, **kwargs)


def test_descriptor_missing_on_an_active_cell(basin):
    slope = basin.descriptors["slope"].copy()
    r, c = np.argwhere(basin.mesh.active)[5]
    slope[r, c] = np.nan
    d = Descriptors({"slope": slope})
    with pytest.raises(ValueError, match="active cell"):
        d.matrix(basin.mesh)
    with pytest.raises(ValueError, match="grid"):
        Descriptors({"slope": np.eye(3)}).matrix(basin.mesh)
    assert Descriptors({"slope": basin.descriptors["slope"]}, transform="keep").matrix(basin.mesh).shape[1] == 1


def test_descriptors_from_geotiff(tmp_path, basin):
    rasterio = pytest.importorskip("rasterio")
    for name in ("slope", "clay"):
        arr = basin.descriptors[name].astype(np.float32)
        with rasterio.open(tmp_path / f"{name}.tif", "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                           count=1, dtype="float32", nodata=-99.0,
                           transform=rasterio.Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 50000.0)) as dst:
            dst.write(arr, 1)
    d = Descriptors.from_geotiff(tmp_path, mesh=basin.mesh)
    assert d.names == ("clay", "slope")
    np.testing.assert_allclose(d.raw["slope"], basin.descriptors["slope"].astype(np.float32), rtol=0)
    assert Descriptors.from_geotiff({"s": tmp_path / "slope.tif"}).names == ("s",)


# ---------------------------------------------------------------------------------- mappings, alone
def make_mapping(kind, names, descriptors, **kwargs):
    if kind == "multi-linear":
        return MultiLinearMapping(names, descriptors, **kwargs)
    if kind == "multi-power":
        return MultiPowerMapping(names, descriptors, **kwargs)
    return ANNMapping(names, descriptors, hidden_layer_sizes=(7, 5), random_state=3, **kwargs)


@pytest.mark.parametrize("kind", ["multi-linear", "multi-power", "ann"])
def test_pullback_is_the_transposed_jacobian(kind):
    rng = np.random.default_rng(0)
    d = rng.uniform(0.0, 1.0, (40, 3))
    d[0, 1] = 0.0  # a zero descriptor: the power's log term is left out there
    m = make_mapping(kind, ["cp", "kexc", "hp"], d)
    x0 = m.initial_control({"cp": np.full(40, 250.0), "kexc": np.zeros(40), "hp": np.full(40, 0.3)})
    x0 = x0 + 0.3 * rng.normal(size=x0.size) * (kind != "ann")
    if kind == "multi-power":
        x0[2::2] = rng.uniform(0.6, 1.8, x0[2::2].shape)  # exponents
    w = {n: rng.normal(size=40) for n in m.names}

    def f(x):
        return sum(w[n] @ v for n, v in m.to_values(x).items())

    assert directional_error(f, m.pullback(x0, w), x0, rng) <= RTOL


@pytest.mark.parametrize("kind", ["multi-linear", "multi-power", "ann"])
def test_values_stay_inside_the_bounds(kind):
    rng = np.random.default_rng(1)
    d = rng.uniform(0.0, 1.0, (30, 2))
    m = make_mapping(kind, ["ct", "aexc"], d, bounds={"ct": (10.0, 400.0)})
    for _ in range(5):
        x = 5.0 * rng.normal(size=m.size())
        if kind == "multi-power":
            x[2::2] = rng.uniform(0.5, 2.0, x[2::2].shape)
        v = m.to_values(x)
        assert (v["ct"] >= 10.0).all() and (v["ct"] <= 400.0).all()
        assert (v["aexc"] > 0.0).all() and (v["aexc"] < 1.0).all()


def test_first_guess_is_the_uniform_mean():
    d = np.random.default_rng(2).normal(size=(20, 2))
    m = MultiLinearMapping(["cp", "llr"], d)
    values = {"cp": np.linspace(100, 300, 20), "llr": np.full(20, 5.0)}
    v = m.to_values(m.initial_control(values))
    np.testing.assert_allclose(v["cp"], 200.0, rtol=1e-12)
    np.testing.assert_allclose(v["llr"], 5.0, rtol=1e-12)
    assert np.log(5.0 / 995.0) == pytest.approx(m.initial_control(values)[3])  # spec §3.4: ln(5/995)
    mp = MultiPowerMapping(["cp"], np.abs(d))
    x0 = mp.initial_control(values)
    np.testing.assert_array_equal(x0[1::2], 0.0)
    np.testing.assert_array_equal(x0[2::2], 1.0)
    lower, upper = mp.control_bounds()
    assert (lower[2::2] == 0.5).all() and (upper[2::2] == 2.0).all() and np.isinf(lower[:2]).all()


def test_ann_architecture_and_reproducibility():
    d = np.random.default_rng(4).normal(size=(383, 2))
    # the reference's default for nd = 2, ncv = 4 on Cance's 28 x 28 grid: widths 6, 19, 12, 4, 443 weights
    m = ANNMapping(["cp", "ct", "kexc", "llr"], d, n_cells=28 * 28, random_state=0)
    assert m.layer_sizes == (2, 6, 19, 12, 4) and m.n_weights == 443
    np.testing.assert_array_equal(m.initial_control(), m.initial_control())
    other = ANNMapping(["cp", "ct", "kexc", "llr"], d, n_cells=784, random_state=1).initial_control()
    assert not np.array_equal(m.initial_control(), other)
    w1, b1 = m.unpack(m.initial_control())[0]
    limit = np.sqrt(6.0 / (2 + 6))  # glorot_uniform
    assert w1.shape == (6, 2) and np.abs(w1).max() <= limit and not b1.any()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_differentiates(activation):
    rng = np.random.default_rng(5)
    d = rng.normal(size=(25, 2))
    m = ANNMapping(["cp"], d, hidden_layer_sizes=(6,), activation=activation, random_state=0)
    x0 = m.initial_control() + 0.1 * rng.normal(size=m.n_weights)
    w = {"cp": rng.normal(size=25)}
    assert directional_error(lambda x: w["cp"] @ m.to_values(x)["cp"], m.pullback(x0, w), x0, rng) <= RTOL


@pytest.mark.parametrize("initializer", sorted(INITIALIZERS))
def test_initializers(initializer):
    m = ANNMapping(["cp"], np.ones((5, 3)) * np.arange(5)[:, None], hidden_layer_sizes=(4,),
                   kernel_initializer=initializer, random_state=0)
    w = m.unpack(m.initial_control())[0][0]
    assert w.shape == (4, 3) and np.isfinite(w).all() and (initializer == "zeros") == (not w.any())


@pytest.mark.parametrize("make, match", [
    (lambda d: MultiPowerMapping(["cp"], d - 0.5), "non-negative"),
    (lambda d: MultiPowerMapping(["cp"], d, exponent_bounds=(2.0, 1.0)), "exponent_bounds"),
    (lambda d: ANNMapping(["cp"], d, activation="swish"), "activation"),
    (lambda d: ANNMapping(["cp"], d, kernel_initializer="orthogonal"), "kernel_initializer"),
    (lambda d: ANNMapping(["cp"], d, hidden_layer_sizes=(4, 0)), "hidden_layer_sizes"),
    (lambda d: MultiLinearMapping(["cp"], d[:, :0]), "matrix"),
    (lambda d: MultiLinearMapping(["cp"], np.where(d > 0.5, np.nan, d)), "finite"),
    (lambda d: MultiLinearMapping(["zz"], d), "unknown"),
    (lambda d: MultiLinearMapping(["cp"], d, bounds={"cp": (0.0, 10.0)}), "feasible"),
])
def test_mapping_errors(make, match):
    d = np.random.default_rng(6).uniform(size=(10, 2))
    with pytest.raises(ValueError, match=match):
        make(d)


def test_control_and_gradient_shapes_are_checked():
    m = MultiLinearMapping(["cp"], np.random.default_rng(7).normal(size=(10, 2)))
    with pytest.raises(ValueError, match="shape"):
        m.to_values(np.zeros(4))
    with pytest.raises(ValueError, match="gradient"):
        m.pullback(np.zeros(3), {"cp": np.zeros(9)})
    with pytest.raises(ValueError, match="no entry"):
        m.pullback(np.zeros(3), {})
    with pytest.raises(ValueError, match="active cells"):
        m.to_values(np.zeros(3), n_active=11)


# ------------------------------------------------------------------------ the whole chain, model included
@pytest.mark.parametrize("kind", ["multi-linear", "multi-power", "ann"])
def test_chain_through_the_model_matches_finite_differences(basin, kind):
    """J(x) = cost(simulate(θ(x))) on the synthetic basin: dJ/dx from the reverse kernels and the
    mapping's pullback against central differences of J along random directions."""
    mesh, forcings = basin.mesh, basin.forcings
    transform = "normalize" if kind == "multi-power" else "standardize"
    d = Descriptors(basin.descriptors, transform=transform).matrix(mesh)
    names = ["cp", "ct", "kexc", "akw"]
    m = make_mapping(kind, names, d)
    rng = np.random.default_rng(8)
    values = {n: mesh.to_vector(np.broadcast_to(v, mesh.shape)) for n, v in
              dict(cp=250.0, ct=120.0, kexc=-0.1, akw=5.0).items()}
    x0 = m.initial_control(values)
    # away from the first guess; for the ANN also away from its zero biases, where a cell whose first
    # layer is all inactive feeds exactly 0 into the next ReLU (a kink of the function at that very point)
    x0 = x0 + (0.05 if kind == "ann" else 0.2) * rng.normal(size=x0.size)
    if kind == "multi-power":
        x0[2::2] = np.clip(x0[2::2], 0.6, 1.9)
    ci = skhydro.adjust_interception(mesh, forcings)

    def cost_and_grad(x):
        params = {n: mesh.to_grid(v) for n, v in m.to_values(x).items()}
        params["ci"] = ci
        value, grads = skhydro.value_and_gradient(mesh, forcings, "zero-gr4-kw", params, {"hp": 0.5, "ht": 0.3},
                                                  observed=basin.observed, cost="nse", warmup=24)
        return value, {n: mesh.to_vector(grads[n]) for n in names}

    value, grads = cost_and_grad(x0)
    g = m.pullback(x0, grads)
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    # the ReLU network has kinks on some of its 1250 x 12 hidden units close to any point: small steps
    steps = (1e-6, 1e-7, 1e-8) if kind == "ann" else (1e-4, 1e-5, 1e-6)
    err = directional_error(lambda x: cost_and_grad(x)[0], g, x0, rng, steps=steps, n_directions=2)
    assert err <= 1e-5
