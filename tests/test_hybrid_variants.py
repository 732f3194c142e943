"""Hybrid gr6_mlp, grc_mlp, grd_mlp and loieau_mlp (../shared/spec/forward.md §6.4): a flux-correction
network inside each structure's soil.

* with an all-zero network, or a zero output layer, each is its classical module bit for bit: discharge,
  final states, every shared flux, and the gradient of a cost;
* one cell: the corrections are the network on the start-of-step levels and pn, en, and they enter ps,
  es, the exchange and the splits as §6.4 writes them; missing forcings take none;
* the one-cell reverse twins pass dot-product tests against finite differences (parameters, states,
  network, precipitation) for Leaky ReLU and SiLU;
* the public gradient agrees with finite differences on every bias of the network and on a joint
  direction (network, parameter maps, initial states), and does not depend on threads or checkpoints;
* parity with hydro-smash 1.3.0's ``<module>_mlp`` on Cance (lr) given identical float32 SiLU weights.
"""
import numpy as np
import pytest

import skhydro
from skhydro._kernels._hybrid import (
    gr6_mlp_series, gr6_mlp_series_b, grc_mlp_series, grc_mlp_series_b, grd_mlp_series, grd_mlp_series_b,
    loieau_mlp_series, loieau_mlp_series_b,
)
from skhydro.hybrid import FluxCorrectionNetwork
from skhydro.structures import HYDROLOGICAL_MODULES, get_structure
from helpers import nse, one_cell_forcings
from hybrid_helpers import (
    RTOL, HybridCase, assert_gradient_invariant, dot_error, fd_agrees, gappy_forcings, random_network,
    sub_catchment_mesh, with_zero_output,
)
from smash_hybrid import random_network as smash_random_network, smash_gr4_mlp_discharge as smash_discharge

BETA = 2.25 * 24.0 ** 0.25
MODULES = ("gr6_mlp", "grc_mlp", "grd_mlp", "loieau_mlp")
# one-cell shims: forward, reverse, parameters (structure order), whether beta follows them, initial states
SHIMS = {
    "gr6_mlp": (gr6_mlp_series, gr6_mlp_series_b, dict(ci=1.2, cp=250.0, ct=90.0, be=8.0, kexc=0.3, aexc=0.15), True,
                dict(hi=0.3, hp=0.4, ht=0.2, he=-30.0)),
    "grc_mlp": (grc_mlp_series, grc_mlp_series_b, dict(ci=1.2, cp=250.0, ct=90.0, cl=300.0, kexc=-0.5), False,
                dict(hi=0.3, hp=0.4, ht=0.2, hl=0.3)),
    "grd_mlp": (grd_mlp_series, grd_mlp_series_b, dict(cp=250.0, ct=90.0), False, dict(hp=0.4, ht=0.2)),
    "loieau_mlp": (loieau_mlp_series, loieau_mlp_series_b, dict(ca=250.0, cc=90.0, kb=1.7), True,
                   dict(ha=0.4, hc=0.2)),
}
# typical magnitude of the raw network inputs (levels in [0, 1], gr6's he in mm, pn and en in mm per hour)
INPUT_SCALE = dict(he=30.0, pn=5.0, en=0.25)
RANGES = dict(ci=(0.5, 2.0), cp=(50, 300), ct=(20, 200), cl=(50, 400), be=(2, 15), kexc=(-2, 2), ca=(50, 300),
              cc=(20, 200), kb=(0.5, 2.0), llr=(30, 300), akw=(2, 10), bkw=(0.4, 0.8),
              hi=(0.05, 0.6), hp=(0.1, 0.7), ht=(0.05, 0.5), hl=(0.05, 0.5), he=(-60, -5), ha=(0.1, 0.7),
              hc=(0.05, 0.5), hlr=(0.1, 10.0))


def structure_of(module, routing="lr"):
    return get_structure(f"zero-{module}-{routing}")


def network_for(module, activation, rng, scale=0.4, hidden=(8,)):
    s = structure_of(module)
    sizes = (len(s.network_inputs),) + tuple(hidden) + (len(s.network_outputs),)
    return random_network(sizes, activation, rng, scale, [INPUT_SCALE.get(n, 1.0) for n in s.network_inputs])


def random_maps(mesh, structure, rng):
    """Spatially random parameters and initial states of ``structure`` inside realistic ranges."""
    s = get_structure(structure)
    ranges = dict(RANGES)
    if "aexc" in s.parameters:  # gr6's E5 exchange a gain while ht > aexc: max(0, prd + l) off its kink
        ranges.update(kexc=(0.0, 0.2), aexc=(0.01, 0.05))
    maps = {name: rng.uniform(*ranges[name], mesh.shape) for name in s.parameters + s.states}
    return {k: maps[k] for k in s.parameters}, {k: maps[k] for k in s.states}


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240)


@pytest.fixture(scope="module")
def small_mesh(basin):
    return sub_catchment_mesh(basin)


def test_registry():
    for module in MODULES:
        entry, classical = HYDROLOGICAL_MODULES[module], HYDROLOGICAL_MODULES[module.replace("_mlp", "")]
        s = structure_of(module)
        assert s.is_hybrid and entry["parameters"] == classical["parameters"] and entry["states"] == classical["states"]
        n_out = len(s.network_outputs)
        assert s.network_outputs == tuple(f"f{i}" for i in range(1, n_out + 1))
        assert entry["fluxes"] == classical["fluxes"][:-1] + s.network_outputs + ("qt",)
        assert s.network_inputs[-2:] == ("pn", "en") and set(s.network_inputs[:-2]) <= set(s.states)
        assert list(SHIMS[module][2]) == list(entry["parameters"]) and list(SHIMS[module][4]) == list(entry["states"])
    assert [len(structure_of(m).network_outputs) for m in MODULES] == [5, 5, 2, 3]


# ------------------------------------------------------------------- 1. zero network = classical
@pytest.mark.parametrize("start", ["default", "zero-output"])
@pytest.mark.parametrize("module", MODULES)
def test_zero_network_is_the_classical_module(basin, module, start):
    """Forcings with missing values, random maps: discharge, final states, shared fluxes and the gradient
    of an NSE cost are the classical module's bit for bit; the corrections are 0."""
    forcings, mesh, act = gappy_forcings(basin), basin.mesh, basin.mesh.active
    hybrid, classical = f"zero-{module}-lr", f"zero-{module.replace('_mlp', '')}-lr"
    params, states = random_maps(mesh, classical, np.random.default_rng(len(module)))
    if start == "default":
        network = None
    else:
        network = with_zero_output(network_for(module, "silu", np.random.default_rng(1)))
        assert np.abs(network.weights[0]).min() > 0
    hyb = skhydro.simulate(mesh, forcings, hybrid, params, states, network=network, return_fluxes=True)
    ref = skhydro.simulate(mesh, forcings, classical, params, states, return_fluxes=True)
    q = ref.discharge.to_numpy()
    assert q.max() > 0
    np.testing.assert_array_equal(hyb.discharge.to_numpy(), q)
    assert list(hyb.final_states) == list(ref.final_states)
    for name in ref.final_states:
        np.testing.assert_array_equal(hyb.final_states[name], ref.final_states[name], err_msg=name)
    corrections = structure_of(module).network_outputs
    assert set(hyb.fluxes) - set(ref.fluxes) == set(corrections)
    for name in ref.fluxes:
        np.testing.assert_array_equal(hyb.fluxes[name], ref.fluxes[name], err_msg=name)
    for name in corrections:
        assert (hyb.fluxes[name][:, act] == 0.0).all(), name

    observed = ref.discharge * 1.1
    value, grads = skhydro.value_and_gradient(mesh, forcings, hybrid, params, states, observed, network=network)
    ref_value, ref_grads = skhydro.value_and_gradient(mesh, forcings, classical, params, states, observed)
    assert value == ref_value
    assert set(grads) == set(ref_grads) | {"network"}
    for name in ref_grads:
        np.testing.assert_array_equal(grads[name], ref_grads[name], err_msg=name)


# --------------------------------------------------------- 2. one cell: corrections and their laws
def shim_args(module, x, n_params, prcp, pet):
    """Positional arguments of the module's shims for x = [parameters, states, network...]."""
    _, _, params, with_beta, states = SHIMS[module]
    n_states = len(states)
    return (prcp, pet, *x[:n_params], *((BETA,) if with_beta else ()), *x[n_params:n_params + n_states],
            np.ascontiguousarray(x[n_params + n_states:]))


def run_shim(module, net, prcp, pet, **changes):
    series, _, params, _, states = SHIMS[module]
    values = dict(params, **states, **changes)
    x = np.r_[[values[k] for k in params], [values[k] for k in states], net.to_vector()]
    q, fl, st = series(*shim_args(module, x, len(params), prcp, pet), net.layer_sizes, activation=net.activation)
    names = [f for f in HYDROLOGICAL_MODULES[module]["fluxes"] if f != "qt"]
    assert fl.shape == (len(names), prcp.size)
    return q, dict(zip(names, fl)), dict(zip(states, st)), values


@pytest.mark.parametrize("module", MODULES)
def test_one_cell_corrections_and_flux_laws(module):
    rng = np.random.default_rng(MODULES.index(module))
    prcp, pet = one_cell_forcings(rng, 400, missing=0.1)
    net = network_for(module, "silu", rng, scale=0.6)
    q, fx, st, p = run_shim(module, net, prcp, pet)
    s = structure_of(module)
    start = {k: v[:-1] for k, v in st.items()}  # levels at the start of each step
    f = np.stack([fx[name] for name in s.network_outputs], axis=1)
    valid = (prcp >= 0) & (pet >= 0)
    assert (~valid).sum() > 20 and (fx["pn"] > 0).sum() > 50

    # the network on the start-of-step levels, pn and en; nothing on steps with missing forcings
    x = np.column_stack([start[n] if n in start else fx[n] for n in s.network_inputs])
    np.testing.assert_allclose(f[valid], net.predict(x[valid]), rtol=1e-12, atol=1e-15)
    assert (f[~valid] == 0).all() and (fx["pn"][~valid] == 0).all() and (fx["en"][~valid] == 0).all()
    assert all(np.ptp(f[valid][:, j]) > 1e-2 for j in range(f.shape[1]))

    # production gains
    c, h = (p["ca"], start["ha"]) if module == "loieau_mlp" else (p["cp"], start["hp"])
    wet, dry = fx["pn"] > 0, fx["en"] > 0
    tp, te = np.tanh(fx["pn"] / c), np.tanh(fx["en"] / c)
    ps = np.minimum(fx["pn"], (1.0 + f[:, 0]) * c * (1.0 - h ** 2) * tp / (1.0 + h * tp))
    es = np.minimum(fx["en"], (1.0 + f[:, 1]) * h * c * (2.0 - h) * te / (1.0 + (1.0 - h) * te))
    np.testing.assert_allclose(fx["ps"][wet], ps[wet], rtol=1e-12)
    np.testing.assert_allclose(fx["es"][dry], es[dry], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(fx["pr"], fx["pn"] - fx["ps"])

    # exchange and splits of R = pr + perc
    r = fx["pr"] + fx["perc"]
    if module == "grd_mlp":
        np.testing.assert_array_equal(fx["prr"], r)
        return
    s2 = f[:, 2] ** 2
    np.testing.assert_allclose(fx["prd"], (0.1 + 0.9 * s2) * r, rtol=1e-12, atol=1e-300)
    if module == "loieau_mlp":
        np.testing.assert_allclose(fx["prr"], 0.9 * (1 - s2) * r, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(q, p["kb"] * (fx["qr"] + fx["qd"]), rtol=1e-14)
        return
    ht = start["ht"]
    law = p["kexc"] * (ht - p["aexc"]) if module == "gr6_mlp" else p["kexc"] * ht ** 3.5
    np.testing.assert_allclose(fx["lexc"][valid], ((1.0 + f[:, 4]) * law)[valid], rtol=1e-12, atol=1e-300)
    assert np.abs(fx["lexc"][valid]).min() > 0 and (fx["lexc"][~valid] == 0).all()
    f4 = f[:, 3]
    second, gain = ("pre", fx["lexc"]) if module == "gr6_mlp" else ("prl", 0.0)
    np.testing.assert_allclose(fx["prr"] - fx["lexc"], (0.6 - 0.4 * f4) * 0.9 * (1 - s2) * r, rtol=1e-10,
                               atol=1e-13 * np.abs(fx["lexc"]).max())
    np.testing.assert_allclose(fx[second] - gain, 0.4 * (1 + f4) * 0.9 * (1 - s2) * r, rtol=1e-10,
                               atol=1e-13 * np.abs(fx["lexc"]).max())
    # mass-conserving split
    np.testing.assert_allclose(fx["prr"] - fx["lexc"] + fx[second] - gain + fx["prd"], r, rtol=1e-12,
                               atol=1e-12 * (np.abs(fx["lexc"]).max() + r.max()))
    np.testing.assert_array_equal(fx["qd"], np.maximum(0.0, fx["prd"] + fx["lexc"]))


# ---------------------------------------------------------------- 3. one cell: dot-product tests
@pytest.mark.parametrize("activation", ["leaky_relu", "silu"])
@pytest.mark.parametrize("module", MODULES)
def test_one_cell_dot_product(module, activation):
    """Parameters, initial states and network together, the network alone, then the precipitation."""
    rng = np.random.default_rng(10 * MODULES.index(module) + len(activation))
    prcp, pet = one_cell_forcings(rng, 200, 0.1)
    series, series_b, params, _, states = SHIMS[module]
    net = network_for(module, activation, rng)
    sizes, n_params, n_states = net.layer_sizes, len(params), len(states)
    x0 = np.r_[list(params.values()), list(states.values()), net.to_vector()]

    def forward(x, p=prcp):
        q, _, st = series(*shim_args(module, x, n_params, p, pet), sizes, activation=activation)
        return np.concatenate([q, st[:, -1]])

    def reverse(x, w):
        params_b, states_b, _, net_b = series_b(*shim_args(module, x, n_params, prcp, pet), sizes, w[:-n_states],
                                                w[-n_states:], activation=activation)
        return np.concatenate([params_b, states_b, net_b])

    q, fl, _ = series(*shim_args(module, x0, n_params, prcp, pet), sizes, activation=activation)
    assert q.max() > 0 and np.ptp(fl[-net.layer_sizes[-1]:], axis=1).min() > 1e-3  # the network acts
    scale = np.maximum(np.abs(x0), 0.05)
    assert dot_error(forward, reverse, x0, rng, scale) <= 1e-6
    scale[:n_params + n_states] = 0.0
    assert dot_error(forward, reverse, x0, rng, scale) <= 1e-6

    wet = prcp > 0.0

    def forward_p(p_wet):
        p = prcp.copy()
        p[wet] = p_wet
        return forward(x0, p)

    def reverse_p(p_wet, w):
        return series_b(*shim_args(module, x0, n_params, prcp, pet), sizes, w[:-n_states], w[-n_states:],
                        activation=activation)[2][wet]

    assert dot_error(forward_p, reverse_p, prcp[wet], rng, np.maximum(prcp[wet], 0.05)) <= 1e-6


# --------------------------------------------------------- 4. public gradient against differences
@pytest.fixture(scope="module", params=[(m, a) for m in MODULES for a in ("leaky_relu", "silu")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def variant_case(request, basin, small_mesh):
    module, activation = request.param
    structure = f"zero-{module}-kw" if module in ("grc_mlp", "loieau_mlp") else f"zero-{module}-lr"
    rng = np.random.default_rng(31 + MODULES.index(module))
    params, states = random_maps(small_mesh, structure, rng)
    net = network_for(module, activation, rng, scale=0.3)
    # observations from other parameters and another network: the gradient is far from zero
    truth = {k: v * rng.uniform(0.85, 1.15, v.shape) for k, v in params.items()}
    q = skhydro.simulate(small_mesh, basin.forcings, structure, truth, states,
                         network=network_for(module, activation, rng, scale=0.3)).discharge
    observed = q * (1.0 + 0.1 * rng.normal(size=q.shape))
    observed.iloc[::17] = np.nan
    return HybridCase(small_mesh, basin.forcings, structure, params, states, net, observed)


def test_network_biases_match_finite_differences(variant_case):
    case = variant_case
    biases = case.bias_indices()
    assert np.abs(case.net_grad[biases]).min() > 0
    failures = case.network_fd_failures(biases)
    assert not failures, failures


def test_joint_direction_matches_finite_differences(variant_case):
    """Network, every parameter map and every initial state perturbed together."""
    case = variant_case
    s = case.problem.structure
    names = ["network"] + [n for n in s.parameters + s.states if n in case.views and n in case.grads]
    rng = np.random.default_rng(9)
    directions = {name: rng.uniform(-1, 1, case.views[name].size) * np.maximum(np.abs(case.views[name]), 0.1)
                  for name in names}
    gv = sum(case.gradient(name) @ v for name, v in directions.items())
    parts = {name: abs(case.gradient(name) @ v) for name, v in directions.items()}
    assert parts["network"] > 1e-3 * abs(gv)
    ok, fds = fd_agrees(case.probe(directions), gv, RTOL * abs(gv))
    assert ok, (gv, fds[:4], parts)


@pytest.mark.parametrize("module", MODULES)
def test_gradient_independent_of_threads_and_checkpoints(basin, module):
    structure = f"zero-{module}-lr"
    rng = np.random.default_rng(4)
    params, states = random_maps(basin.mesh, structure, rng)
    assert_gradient_invariant(basin, structure, params, states,
                              network_for(module, "silu", rng, scale=0.3, hidden=(16,)))


def test_network_shape_is_checked(basin):
    for module in MODULES:
        s = structure_of(module)
        n_in, n_out = len(s.network_inputs), len(s.network_outputs)
        with pytest.raises(ValueError, match=f"{n_out} outputs"):
            skhydro.simulate(basin.mesh, basin.forcings, s.name, network=FluxCorrectionNetwork.zeros(n_in, n_out + 1))
        with pytest.raises(ValueError, match=f"{n_in} inputs"):
            skhydro.simulate(basin.mesh, basin.forcings, s.name, network=FluxCorrectionNetwork.zeros(n_in + 1, n_out))


# ------------------------------------------------------------------------- 5. parity with smash
# per module: distributed parameters changed from smash's defaults (an exchange where there is one), the
# network inputs' typical magnitudes on Cance, and the tolerance relative to each gauge's peak. Measured
# max |Q - Q_ref| / max Q_ref over the three gauges (these draws; seeds 1-2 alike): gr6_mlp 2.5e-6, grc_mlp
# 1.9e-6, grd_mlp 1.3e-6, loieau_mlp 6.1e-6 (up to 8e-6: its exponent-4 store's float32 cancellation, spec
# §10.3), while the networks move the discharge by 0.5-0.9 of the peak.
PARITY = {
    "gr6_mlp": (dict(cp=(100, 600), ct=(50, 400), kexc=(-1.0, 1.0)), (1.0, 1.0, 100.0, 10.0, 0.25), 1e-5),
    "grc_mlp": (dict(cp=(100, 600), ct=(50, 400), cl=(100, 600), kexc=(-3.0, 1.0)), (1.0, 1.0, 1.0, 10.0, 0.25),
                1e-5),
    "grd_mlp": (dict(cp=(100, 600), ct=(50, 400)), (1.0, 1.0, 10.0, 0.25), 1e-5),
    "loieau_mlp": (dict(ca=(100, 600), cc=(50, 400)), (1.0, 1.0, 10.0, 0.25), 1e-5),
}


@pytest.mark.smash
@pytest.mark.parametrize("routing", ["lr", "kw"])
@pytest.mark.parametrize("module", MODULES)
def test_matches_reference(reference_case, module, routing):
    ranges, input_scale, tol = PARITY[module]
    case = reference_case("Cance", routing, hydro=module)
    s = skhydro.structures.get_structure(case.structure)
    weights, biases = smash_random_network(np.random.default_rng(MODULES.index(module)), n_in=len(s.network_inputs),
                                           n_out=len(s.network_outputs), input_scale=input_scale)
    rng = np.random.default_rng(100 + MODULES.index(module))
    changed = {k: rng.uniform(*v, case.mesh.shape).astype(np.float32).astype(np.float64) for k, v in ranges.items()}
    q_ref = smash_discharge(case.model, weights, biases, parameters=changed)
    network = FluxCorrectionNetwork(weights, biases, activation="silu")
    q = case.simulate(parameters=dict(case.parameters, **changed), network=network).discharge.to_numpy()

    # the network matters: the corrected discharge is far from the classical one
    classical = skhydro.simulate(case.mesh, case.forcings, s.name.replace("_mlp", ""),
                                 dict(case.parameters, **changed)).discharge.to_numpy()
    assert (np.abs(classical - q_ref).max(axis=0) / q_ref.max(axis=0)).max() > 0.05
    rel = np.abs(q - q_ref).max(axis=0) / q_ref.max(axis=0)
    assert (rel <= tol).all(), f"max |Q - Q_ref| / max Q_ref per gauge: {rel}"
    for g in range(q.shape[1]):
        assert nse(q[:, g], q_ref[:, g]) >= 0.99999
