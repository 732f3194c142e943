"""Uniform and distributed mappings: round trips, transforms, chain rule and validation (spec §2-§3)."""
import doctest

import numpy as np
import pytest

import skhydro.mappings._mappings as mappings_module
from skhydro.mappings import DistributedMapping, UniformMapping
from skhydro.structures import variable

MAPPINGS = [UniformMapping, DistributedMapping]
TRANSFORMS = ["normalize", "sbs", "keep"]
# one variable of each sbs branch: log (cp, llr), asinh (kexc), logit (hp)
NAMES = ["cp", "kexc", "hp", "llr"]


def random_values(names, n, rng, bounds=None):
    """Values well inside the bounds, so that finite differences stay inside too."""
    out = {}
    for name in names:
        low, high = (bounds or {}).get(name, variable(name).bounds)
        out[name] = low + (high - low) * rng.uniform(0.2, 0.8, n)
    return out


def test_docstring_examples():
    result = doctest.testmod(mappings_module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("cls", MAPPINGS)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_round_trip(cls, transform):
    rng = np.random.default_rng(0)
    n = 7
    values = random_values(NAMES, n, rng)
    mapping = cls(NAMES, transform=transform)
    x0 = mapping.initial_control(values)
    assert x0.shape == (mapping.size(n),)
    assert mapping.size(n) == (4 if cls is UniformMapping else 4 * n)
    lower, upper = mapping.control_bounds(n)
    assert lower.shape == upper.shape == x0.shape
    assert np.all((lower <= x0) & (x0 <= upper))
    back = mapping.to_values(x0, n)
    assert list(back) == NAMES
    for name in NAMES:
        expected = np.full(n, values[name].mean()) if cls is UniformMapping else values[name]
        np.testing.assert_allclose(back[name], expected, rtol=1e-12, atol=1e-12)
    # and the other way round
    np.testing.assert_allclose(mapping.initial_control(back), x0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", MAPPINGS)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_pullback_matches_finite_differences(cls, transform):
    rng = np.random.default_rng(1)
    n = 5
    bounds = {"kexc": (-5.0, 5.0)}
    mapping = cls(NAMES, bounds=bounds, transform=transform)
    values = random_values(NAMES, n, rng, bounds)
    x0 = mapping.initial_control(values)
    a = {k: rng.normal(size=n) for k in NAMES}
    b = {k: rng.uniform(0.5, 1.5, n) for k in NAMES}
    scale = {k: variable(k).bounds[1] - variable(k).bounds[0] if k != "kexc" else 10.0 for k in NAMES}

    def F(x):  # a smooth function of the values
        v = mapping.to_values(x, n)
        return sum(np.sum(a[k] * np.sin(v[k] / scale[k]) + b[k] * (v[k] / scale[k]) ** 2) for k in NAMES)

    def dF(v):
        return {k: (a[k] * np.cos(v[k] / scale[k]) + 2 * b[k] * v[k] / scale[k]) / scale[k] for k in NAMES}

    grad = mapping.pullback(x0, dF(mapping.to_values(x0, n)))
    assert grad.shape == x0.shape
    fd = np.empty_like(x0)
    for i in range(x0.size):
        h = 1e-6 * max(1.0, abs(x0[i]))
        e = np.zeros_like(x0)
        e[i] = h
        fd[i] = (F(x0 + e) - F(x0 - e)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_sbs_transform_reference_numbers():
    """Cance defaults (spec §2.3): uniform + sbs first guess and bounds."""
    mapping = UniformMapping(["cp", "ct", "kexc", "llr"], transform="sbs")
    values = {"cp": np.full(3, 200.0), "ct": np.full(3, 500.0), "kexc": np.zeros(3), "llr": np.full(3, 5.0)}
    np.testing.assert_allclose(mapping.initial_control(values), [5.298317, 6.214608, 0.0, 1.609438], atol=1e-6)
    lower, upper = mapping.control_bounds()
    np.testing.assert_allclose(lower, [-13.8155, -13.8155, -4.60527, -13.8155], atol=1e-4)
    np.testing.assert_allclose(upper, [6.907755, 6.907755, 4.60527, 6.907755], atol=1e-6)
    normalized = UniformMapping(["cp", "ct", "kexc", "llr"])
    np.testing.assert_allclose(normalized.initial_control(values), [0.2, 0.5, 0.5, 0.005], atol=1e-6)
    lower, upper = normalized.control_bounds()
    np.testing.assert_array_equal(lower, np.zeros(4))
    np.testing.assert_array_equal(upper, np.ones(4))


def test_sbs_branches():
    mapping = UniformMapping(["kexc", "hp", "cp"], transform="sbs", bounds={"hp": (0.1, 0.9)})
    x = mapping.initial_control({"kexc": np.array([1.5]), "hp": np.array([0.25]), "cp": np.array([20.0])})
    np.testing.assert_allclose(x, [np.arcsinh(1.5), np.log(0.25 / 0.75), np.log(20.0)])
    lower, upper = mapping.control_bounds()
    np.testing.assert_allclose(lower, [np.arcsinh(-50), np.log(0.1 / 0.9), np.log(1e-6)])
    np.testing.assert_allclose(upper, [np.arcsinh(50), np.log(0.9 / 0.1), np.log(1000)])
    # a positive lower bound on kexc switches it to the log (or logit) branch
    assert UniformMapping("kexc", bounds={"kexc": (2.0, 50.0)}, transform="sbs").control_bounds()[0] == \
        pytest.approx([np.log(2.0)])


def test_uniform_mean_and_sum():
    mapping = UniformMapping("cp", transform="keep")
    assert mapping.size() == 1 and mapping.control_bounds()[0].shape == (1,)
    assert mapping.initial_control({"cp": np.array([100.0, 200.0, 600.0]), "ct": np.ones(3)}) == \
        pytest.approx([300.0])
    assert mapping.pullback(np.array([300.0]), {"cp": np.array([1.0, 2.0, 3.0])}) == pytest.approx([6.0])
    np.testing.assert_array_equal(mapping.to_values([250.0], 4)["cp"], np.full(4, 250.0))


def test_distributed_needs_n_active():
    mapping = DistributedMapping(["cp"])
    with pytest.raises(ValueError, match="n_active"):
        mapping.control_bounds()
    with pytest.raises(ValueError, match="n_active"):
        mapping.size()
    assert mapping.size(10) == 10
    mapping.initial_control({"cp": np.full(6, 100.0)})
    assert mapping.size() == 6 and mapping.control_bounds()[0].shape == (6,)
    assert mapping.n_active_ == 6


@pytest.mark.parametrize("cls", MAPPINGS)
def test_invalid_definitions(cls):
    with pytest.raises(ValueError, match="unknown parameter or state 'cpp'"):
        cls(["cp", "cpp"])
    with pytest.raises(ValueError, match="duplicates"):
        cls(["cp", "cp"])
    with pytest.raises(ValueError, match="empty"):
        cls([])
    with pytest.raises(ValueError, match="unknown transform"):
        cls(["cp"], transform="log")
    with pytest.raises(ValueError, match="not among the mapped names"):
        cls(["cp"], bounds={"ct": (1.0, 2.0)})
    with pytest.raises(ValueError, match="low < high"):
        cls(["cp"], bounds={"cp": (10.0, 10.0)})
    with pytest.raises(ValueError, match="low < high"):
        cls(["kexc"], bounds={"kexc": (3.0, -3.0)})
    with pytest.raises(ValueError, match="feasible"):
        cls(["cp"], bounds={"cp": (0.0, 100.0)})  # feasible ]0, inf[
    with pytest.raises(ValueError, match="feasible"):
        cls(["hp"], bounds={"hp": (0.1, 1.0)})  # feasible ]0, 1[
    with pytest.raises(ValueError, match="finite"):
        cls(["kexc"], bounds={"kexc": (-np.inf, 1.0)})
    with pytest.raises(ValueError, match="pair"):
        cls(["cp"], bounds={"cp": 5.0})
    # sbs log of a zero lower bound: an open side in the transformed space, but a value on it cannot start
    m = cls(["kexc"], bounds={"kexc": (0.0, 5.0)}, transform="sbs")
    assert m.control_bounds(3)[0][0] == -np.inf
    with pytest.raises(ValueError, match="infinity"):
        m.initial_control({"kexc": np.zeros(3)})
    # the same bounds are fine with the other transforms
    cls(["kexc"], bounds={"kexc": (0.0, 5.0)}, transform="normalize")


@pytest.mark.parametrize("cls", MAPPINGS)
def test_values_outside_bounds(cls):
    mapping = cls(["cp", "kexc"], bounds={"kexc": (-1.0, 1.0)}, transform="normalize")
    with pytest.raises(ValueError, match="'kexc'.*outside its bounds"):
        mapping.initial_control({"cp": np.full(3, 100.0), "kexc": np.array([0.0, 0.5, 1.5])})
    with pytest.raises(ValueError, match="no entry for \\['kexc'\\]"):
        mapping.initial_control({"cp": np.full(3, 100.0)})
    with pytest.raises(ValueError, match="not all finite"):
        mapping.initial_control({"cp": np.array([100.0, np.nan, 1.0]), "kexc": np.zeros(3)})
    with pytest.raises(ValueError, match="one length"):
        mapping.initial_control({"cp": np.full(3, 100.0), "kexc": np.zeros(2)})
    # within the 1e-5 tolerance: clipped
    x = mapping.initial_control({"cp": np.full(2, 100.0), "kexc": np.array([1.0 + 5e-6, 1.0 + 5e-6])})
    assert x.max() == 1.0
    with pytest.raises(ValueError, match="shape"):
        mapping.to_values(np.zeros(mapping.size(2) + 1), 2)
    with pytest.raises(ValueError, match="shape"):
        mapping.pullback(x, {"cp": np.ones(3), "kexc": np.ones(2)}, 2)
