"""Hybrid structures gr4_mlp / gr5_mlp (../shared/spec/forward.md §6.4): a flux-correction network inside
the GR soil.

* with a zero output layer the hybrid structure is the classical one, bit for bit;
* the corrections the kernels apply are the network evaluated on (hp, ht, pn, en), states at the start of
  the step, and they enter the fluxes as §6.4 writes them (water balance, mass-conserving split);
* the network's gradient (and the joint gradient with the parameter maps and initial states) agrees with
  finite differences, and does not depend on the number of threads or on the checkpoints;
* the one-cell shims' reverse twins pass dot-product tests against finite differences of the forward;
* :class:`skhydro.hybrid.FluxCorrectionNetwork` packs, evaluates and validates networks, and the public
  functions reject networks that do not fit the structure.
"""
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import skhydro
from skhydro._kernels._hybrid import gr4_mlp_series, gr4_mlp_series_b, mlp_eval, mlp_eval_b
from skhydro.gradient import problem_value_and_gradient
from skhydro.hybrid import FluxCorrectionNetwork
from skhydro.simulation import Problem
from skhydro.structures import HYDROLOGICAL_MODULES, get_structure
from helpers import one_cell_forcings
from hybrid_helpers import (
    RTOL, HybridCase, assert_gradient_invariant, dot_error, fd_agrees, gappy_forcings as make_gappy_forcings, network_vector, random_network,
    sub_catchment_mesh, with_zero_output,
)

BETA = 2.25 * 24.0 ** 0.25
ACTIVATIONS = ("leaky_relu", "relu", "silu", "tanh", "sigmoid")
CORRECTIONS = ("f1", "f2", "f3", "f4")
# the shims' flux rows: the structure's fluxes without qt (which the driver adds)
SHIM_FLUXES = tuple(f for f in HYDROLOGICAL_MODULES["gr4_mlp"]["fluxes"] if f != "qt")
# FluxCorrectionNetwork.predict's numpy sigmoid / SiLU warn on overflow of exp(-z) for z < -709 (the result,
# 0, is right); the saturated cases below reach that


# --------------------------------------------------------------------------------------------- helpers
def random_maps(mesh, structure, rng):
    """Spatially random parameters and initial states of ``structure`` inside realistic ranges."""
    s = get_structure(structure)

    def field(lo, hi):
        return rng.uniform(lo, hi, mesh.shape)

    params = dict(ci=field(0.5, 2.0), cp=field(50, 300), ct=field(20, 200), kexc=field(-2, 2), kmlt=field(0.2, 2.0),
                  akw=field(2, 10), bkw=field(0.4, 0.8), llr=field(30, 300))
    if "aexc" in s.parameters:
        # a gain while ht > aexc (as test_gradient.py: keeps max(0, prd + l) off its kink)
        params.update(kexc=field(0.0, 0.2), aexc=field(0.01, 0.05))
    states = dict(hi=field(0.05, 0.6), hp=field(0.1, 0.7), ht=field(0.05, 0.5), hs=field(0.0, 20.0),
                  hlr=field(0.1, 10.0))
    return ({k: v for k, v in params.items() if k in s.parameters}, {k: v for k, v in states.items() if k in s.states})


@pytest.fixture(scope="module")
def basin():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240)


@pytest.fixture(scope="module")
def basin_snow():
    return skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=240, snow=True)


@pytest.fixture(scope="module")
def small_mesh(basin):
    """The 178-cell catchment of SYN003, gauged at its outlet and on three inner cells."""
    return sub_catchment_mesh(basin)


# ------------------------------------------------------------------------- 1. zero output = classical
PAIRS = [("zero-gr4_mlp-lr", "zero-gr4-lr"), ("zero-gr4_mlp-kw", "zero-gr4-kw"), ("zero-gr5_mlp-lr", "zero-gr5-lr"),
         ("zero-gr5_mlp-kw", "zero-gr5-kw"), ("ssn-gr4_mlp-lr", "ssn-gr4-lr")]


@pytest.mark.parametrize("start", ["default", "zero-output"])
@pytest.mark.parametrize("hybrid, classical", PAIRS)
def test_zero_output_layer_is_the_classical_structure(basin, basin_snow, hybrid, classical, start):
    """The all-zero default network, and a random hidden layer with a zero output layer, give exactly
    the classical structure: discharge, final states and every shared flux, f1..f4 = 0."""
    b = basin_snow if hybrid.startswith("ssn") else basin
    mesh, act = b.mesh, b.mesh.active
    if start == "default":  # registry parameters, adjusted ci
        network, params, states = None, None, {"hp": 0.5, "ht": 0.3}
    else:
        network = with_zero_output(FluxCorrectionNetwork.initialize(4, 4, random_state=0))
        assert np.abs(network.weights[0]).min() > 0  # the hidden layer is not zero
        params, states = random_maps(mesh, classical, np.random.default_rng(len(hybrid)))
    hyb = skhydro.simulate(mesh, b.forcings, hybrid, params, states, network=network, return_fluxes=True)
    ref = skhydro.simulate(mesh, b.forcings, classical, params, states, return_fluxes=True)
    q = ref.discharge.to_numpy()
    assert q.max() > 1e-3 * q.mean() and q.max() > 0
    assert hyb.discharge.index.equals(ref.discharge.index) and hyb.discharge.columns.equals(ref.discharge.columns)
    np.testing.assert_array_equal(hyb.discharge.to_numpy(), q)
    assert list(hyb.final_states) == list(ref.final_states)
    for name in ref.final_states:
        np.testing.assert_array_equal(hyb.final_states[name], ref.final_states[name], err_msg=name)
    assert set(ref.fluxes) < set(hyb.fluxes)
    assert set(hyb.fluxes) - set(ref.fluxes) == set(CORRECTIONS)
    for name in ref.fluxes:
        np.testing.assert_array_equal(hyb.fluxes[name], ref.fluxes[name], err_msg=name)
    for name in CORRECTIONS:
        assert (hyb.fluxes[name][:, act] == 0.0).all(), name
    if hybrid.startswith("ssn"):
        assert hyb.fluxes["mlt"][:, act].max() > 0  # melt feeds pn, the network's input


# -------------------------------------------------------------- 2. corrections = network on the inputs
@pytest.fixture(scope="module")
def gappy_forcings(basin):
    """The basin's forcings from step 104 on, a few rain and PET values missing."""
    return make_gappy_forcings(basin)


@pytest.mark.parametrize("structure, activation, sizes", [("zero-gr4_mlp-lr", "leaky_relu", (4, 8, 4)),
                                                          ("zero-gr5_mlp-kw", "silu", (4, 8, 4)),
                                                          ("zero-gr4_mlp-kw", "tanh", (4, 6, 5, 7, 4))])
def test_corrections_are_the_network_on_start_of_step_states(small_mesh, gappy_forcings, structure, activation,
                                                             sizes):
    mesh, forcings = small_mesh, gappy_forcings
    rng = np.random.default_rng(11)
    s = get_structure(structure)
    classical = structure.replace("_mlp", "")
    params, states = random_maps(mesh, structure, rng)
    # the interception store full where the first step rains (pn > 0), empty elsewhere (en > 0): both of
    # the network's flux inputs then vary at step 1 (they are never positive together on one cell)
    states["hi"] = np.where(forcings.prcp[0] > 0, 0.99, 0.0)
    net = random_network(sizes, activation, rng, 0.3)

    # step 1, through the public API, from the known initial states
    res = skhydro.simulate(mesh, forcings, structure, params, states, network=net, return_fluxes=True)
    act = mesh.active
    x0 = np.column_stack([states["hp"][act], states["ht"][act], res.fluxes["pn"][0, act], res.fluxes["en"][0, act]])
    valid0 = (np.nan_to_num(forcings.prcp[0], nan=-1.0)[act] >= 0) & (forcings.pet[0][act] >= 0)
    f0 = np.column_stack([res.fluxes[f][0, act] for f in CORRECTIONS])
    assert (x0[valid0, 2] > 0).sum() > 10 and (x0[valid0, 3] > 0).sum() > 10  # (never both on one cell)
    np.testing.assert_allclose(f0[valid0], net.predict(x0[valid0]), rtol=1e-12, atol=1e-15)

    # every step: run step by step, recording the states at the start of each
    problem = Problem(mesh, forcings, structure, params, states, 1, net)
    q_full, _, fl_full, hs_full, _, _ = problem.run(keep_fluxes=True)
    hstates, rstates = problem.hstates0.copy(), problem.rstates0.copy()
    buffers = np.zeros((2, mesh.n_active))
    hnames = s.states[:hstates.shape[0]]
    starts, fluxes, qs = [], [], []
    for t in range(forcings.ntime):
        starts.append(hstates[[hnames.index("hp"), hnames.index("ht")]].copy())
        q, _, fl, _, _, _ = problem.run(t, t + 1, hstates, rstates, buffers, keep_fluxes=True)
        fluxes.append(fl[0])
        qs.append(q[0])
    fluxes, starts = np.array(fluxes), np.array(starts)  # (nt, nflux, nac), (nt, 2, nac)
    np.testing.assert_array_equal(fluxes, fl_full)  # restarting every step is the same run
    np.testing.assert_array_equal(np.array(qs), q_full)
    np.testing.assert_array_equal(hstates, hs_full)
    fx = {name: fluxes[:, i] for i, name in enumerate(s.fluxes)}
    f = np.stack([fx[name] for name in CORRECTIONS], axis=-1)  # (nt, nac, 4)
    prcp, pet = problem.prcp, problem.pet
    valid = (prcp >= 0) & (pet >= 0)
    assert (~valid).sum() > 20 and (fx["pn"][valid] > 0).sum() > 200
    x = np.stack([starts[:, 0], starts[:, 1], fx["pn"], fx["en"]], axis=-1)
    np.testing.assert_allclose(f[valid], net.predict(x[valid]), rtol=1e-12, atol=1e-15)
    # the end-of-step levels are not the network's inputs (a kernel feeding them would fail above)
    assert np.abs(starts[1:, 0] - starts[:-1, 0]).max() > 1e-3
    # missing forcings: no interception, no correction
    assert (f[~valid] == 0.0).all() and (fx["pn"][~valid] == 0).all() and (fx["en"][~valid] == 0).all()
    # corrections inside ]-1, 1[, and varied
    assert np.abs(f).max() < 1.0
    assert all(np.ptp(f[valid][:, j]) > 1e-3 for j in range(4))

    # a nonzero network changes the discharge substantively
    ref = skhydro.simulate(mesh, forcings, classical, params, states).discharge.to_numpy()
    hyb = res.discharge.to_numpy()
    np.testing.assert_array_equal(hyb, q_full)
    change = np.abs(hyb - ref).max(axis=0) / np.abs(ref).max(axis=0)  # per gauge
    assert change.max() > 0.05, change


# ----------------------------------------------------------------------- 3. gradient against FD




@pytest.fixture(scope="module", params=[("zero-gr4_mlp-lr", "leaky_relu"), ("zero-gr4_mlp-lr", "silu"),
                                        ("zero-gr5_mlp-kw", "leaky_relu"), ("zero-gr5_mlp-kw", "silu")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def hybrid_case(request, basin, small_mesh):
    structure, activation = request.param
    rng = np.random.default_rng(21)
    params, states = random_maps(small_mesh, structure, rng)
    net = random_network((4, 8, 4), activation, rng, 0.3)
    # observations from other parameters and another network: the gradient is far from zero
    truth = {k: v * rng.uniform(0.85, 1.15, v.shape) for k, v in params.items()}
    q = skhydro.simulate(small_mesh, basin.forcings, structure, truth, states,
                         network=random_network((4, 8, 4), activation, rng, 0.3)).discharge
    observed = q * (1.0 + 0.1 * rng.normal(size=q.shape))
    observed.iloc[::17] = np.nan
    return HybridCase(small_mesh, basin.forcings, structure, params, states, net, observed)


def test_network_gradient_plumbing(hybrid_case):
    """The public value and network gradient are the Problem's, in the network's layout and names."""
    case = hybrid_case
    assert case.value == pytest.approx(case.J(), rel=1e-14)
    result = problem_value_and_gradient(case.problem, case.cost.value_and_gradient)
    assert result.value == case.value
    np.testing.assert_array_equal(result.net_params, case.net_grad)
    net = case.problem.network
    for key, value in case.grads["network"].items():
        assert value.shape == net.as_dict()[key].shape, key
    assert np.abs(case.net_grad).min() > 0  # every weight is trained (leaky_relu, silu: no dead unit)


def test_network_components_match_finite_differences(hybrid_case):
    """Every bias and 30 random weights: the adjoint against finite differences of the cost."""
    case = hybrid_case
    biases = case.bias_indices()
    weights = np.setdiff1d(np.arange(case.net_grad.size), biases)
    picked = np.r_[biases, np.random.default_rng(5).choice(weights, 30, replace=False)]
    failures = case.network_fd_failures(picked)
    assert not failures, failures


def test_joint_direction_matches_finite_differences(hybrid_case):
    """Network, cp, ct, kexc (aexc) maps and the initial hp perturbed together: FD against ``g · v``."""
    case = hybrid_case
    names = ["network", "cp", "ct", "kexc", "hp"] + (["aexc"] if "aexc" in case.views else [])
    rng = np.random.default_rng(9)
    for _ in range(2):
        directions = {name: rng.uniform(-1, 1, case.views[name].size) * np.maximum(np.abs(case.views[name]), 0.1)
                      for name in names}
        gv = sum(case.gradient(name) @ v for name, v in directions.items())
        parts = {name: abs(case.gradient(name) @ v) for name, v in directions.items()}
        assert parts["network"] > 1e-3 * abs(gv)  # the network's share is not negligible
        ok, fds = fd_agrees(case.probe(directions), gv, RTOL * abs(gv))
        assert ok, (gv, fds[:4], parts)


def test_deep_network_gradient(basin, small_mesh):
    """Three hidden layers (the most the kernels take): names of the gradient, and a random direction of
    the network's parameters against finite differences."""
    rng = np.random.default_rng(8)
    structure = "zero-gr4_mlp-kw"
    params, states = random_maps(small_mesh, structure, rng)
    net = random_network((4, 6, 5, 7, 4), "sigmoid", rng, 0.5)
    q = skhydro.simulate(small_mesh, basin.forcings, structure, params, states).discharge
    case = HybridCase(small_mesh, basin.forcings, structure, params, states, net, q * 1.1)
    g = case.grads["network"]
    assert list(g) == ["weight_1", "bias_1", "weight_2", "bias_2", "weight_3", "bias_3", "weight_4", "bias_4"]
    assert [g[k].shape for k in g] == [a.shape for a in net.as_dict().values()]
    v = rng.uniform(-1, 1, net.n_parameters) * np.maximum(np.abs(net.to_vector()), 0.1)
    gv = case.net_grad @ v
    ok, fds = fd_agrees(case.probe({"network": v}), gv, RTOL * abs(gv))
    assert ok, (gv, fds[:4])


# ------------------------------------------------------------------------- 4. threads and checkpoints
@pytest.mark.parametrize("structure", ["zero-gr5_mlp-lr", "ssn-gr4_mlp-kw"])
def test_gradient_independent_of_threads_and_checkpoints(basin, basin_snow, structure):
    b = basin_snow if structure.startswith("ssn") else basin
    rng = np.random.default_rng(4)
    params, states = random_maps(b.mesh, structure, rng)
    assert_gradient_invariant(b, structure, params, states, random_network((4, 16, 4), "silu", rng, 0.3))


# ------------------------------------------------------------------------- 5. shims: dot-product tests


def shim_setup(exchange, sizes, activation, rng):
    """x0 = [ci, cp, ct, kexc, (aexc), hi, hp, ht, network...] and the number of parameters."""
    params = [1.2, 250.0, 90.0, -0.5] if exchange == "gr4" else [1.2, 250.0, 90.0, 0.5, 0.3]
    net = random_network(sizes, activation, rng, 0.4)
    return np.r_[params, 0.3, 0.4, 0.2, net.to_vector()], len(params)


def shim_call(x, n_params, sizes, activation, prcp, pet):
    gr5 = n_params == 5
    return dict(args=(prcp, pet, *x[:4], BETA, *x[n_params:n_params + 3], np.ascontiguousarray(x[n_params + 3:]),
                      sizes), kwargs=dict(activation=activation, aexc=float(x[4]) if gr5 else None))


@pytest.mark.parametrize("sizes", [(4, 8, 4), (4, 8, 6, 4)], ids=["1hidden", "2hidden"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("exchange, missing", [("gr4", 0.0), ("gr5", 0.1)])
def test_shim_dot_product(exchange, missing, activation, sizes):
    """Parameters, initial states and network weights together; then the precipitation."""
    rng = np.random.default_rng(ACTIVATIONS.index(activation) + 10 * len(sizes) + int(100 * missing))
    prcp, pet = one_cell_forcings(rng, 200, missing)
    x0, n_params = shim_setup(exchange, sizes, activation, rng)
    call = shim_call(x0, n_params, sizes, activation, prcp, pet)
    q, fl, _ = gr4_mlp_series(*call["args"], **call["kwargs"])
    f = fl[SHIM_FLUXES.index("f1"):]
    assert np.ptp(f, axis=1).min() > 1e-3 and q.max() > 0  # the network acts, the cell runs off

    def forward(x):
        c = shim_call(x, n_params, sizes, activation, prcp, pet)
        q, _, states = gr4_mlp_series(*c["args"], **c["kwargs"])
        return np.concatenate([q, states[:, -1]])

    def reverse(x, w):
        c = shim_call(x, n_params, sizes, activation, prcp, pet)
        params_b, states_b, _, net_b = gr4_mlp_series_b(*c["args"], w[:-3], w[-3:], **c["kwargs"])
        return np.concatenate([params_b, states_b, net_b])

    assert dot_error(forward, reverse, x0, rng, np.maximum(np.abs(x0), 0.05)) <= 1e-6
    # the network block alone (the parameters' and states' adjoints dominate the product above)
    n_net = x0.size - n_params - 3
    scale = np.r_[np.zeros(n_params + 3), np.maximum(np.abs(x0[n_params + 3:]), 0.05)]
    assert n_net > 0 and dot_error(forward, reverse, x0, rng, scale) <= 1e-6

    # the precipitation of the wet steps
    wet = prcp > 0.0

    def forward_p(p_wet):
        p = prcp.copy()
        p[wet] = p_wet
        c = shim_call(x0, n_params, sizes, activation, p, pet)
        q, _, states = gr4_mlp_series(*c["args"], **c["kwargs"])
        return np.concatenate([q, states[:, -1]])

    def reverse_p(p_wet, w):
        _, _, prcp_b, _ = gr4_mlp_series_b(*call["args"], w[:-3], w[-3:], **call["kwargs"])
        return prcp_b[wet]

    assert dot_error(forward_p, reverse_p, prcp[wet], rng, np.maximum(prcp[wet], 0.05)) <= 1e-6


@pytest.mark.parametrize("sizes", [(4, 16, 4), (4, 8, 6, 4), (3, 5, 7, 5, 2)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_dot_product(activation, sizes):
    rng = np.random.default_rng(len(sizes) + ACTIVATIONS.index(activation))
    n = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
    theta0 = rng.normal(0.0, 0.6, n)
    x0 = rng.normal(0.0, 1.5, (20, sizes[0]))

    def forward(z):
        return mlp_eval(np.ascontiguousarray(z[:n]), sizes, activation, z[n:].reshape(x0.shape).copy()).ravel()

    def reverse(z, w):
        params_b, x_b = mlp_eval_b(np.ascontiguousarray(z[:n]), sizes, activation, z[n:].reshape(x0.shape).copy(),
                                   w.reshape(x0.shape[0], sizes[-1]).copy())
        return np.concatenate([params_b, x_b.ravel()])

    z0 = np.r_[theta0, x0.ravel()]
    assert dot_error(forward, reverse, z0, rng, np.maximum(np.abs(z0), 0.1)) <= 1e-6
    # the parameters alone
    scale = np.r_[np.maximum(np.abs(theta0), 0.1), np.zeros(x0.size)]
    assert dot_error(forward, reverse, z0, rng, scale) <= 1e-6
    # the reverse accumulates into the parameter adjoint (sums over the rows of x)
    w = rng.normal(size=(x0.shape[0], sizes[-1]))
    total, _ = mlp_eval_b(theta0, sizes, activation, x0, w)
    parts = sum(mlp_eval_b(theta0, sizes, activation, x0[i:i + 1].copy(), w[i:i + 1].copy())[0]
                for i in range(x0.shape[0]))
    np.testing.assert_allclose(total, parts, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------- 6. water balance (hypothesis)
@settings(deadline=None, max_examples=300)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.05, 2.0), ci=st.floats(0.1, 3.0),
       cp=st.floats(10.0, 1000.0), ct=st.floats(10.0, 1000.0), kexc=st.floats(-20.0, 3.0),
       aexc=st.one_of(st.none(), st.floats(0.01, 0.99)), levels=st.tuples(*[st.floats(1e-4, 1.0 - 1e-4)] * 3),
       activation=st.sampled_from(ACTIVATIONS), hidden=st.sampled_from([(1,), (6,), (8, 5)]),
       beta=st.sampled_from([BETA, 2.25]))
def test_gr4_mlp_water_balance(seed, scale, ci, cp, ct, kexc, aexc, levels, activation, hidden, beta):
    """ΣP = Σq + Σ(ei + es) + ΔS − Σ[lexc + (qd − prd)] − Σ floor, as GR4 (test_operators.py): the
    corrections change the fluxes, not the bookkeeping. Each corrected flux follows §6.4."""
    rng = np.random.default_rng(seed)
    prcp, pet = one_cell_forcings(rng, 150)
    prcp[rng.random(prcp.size) < 0.05] *= 10.0  # a few heavy showers
    pet *= 1.0 + 10.0 * (rng.random(pet.size) < 0.1)  # and a few dry, hot hours
    sizes = (4,) + hidden + (4,)
    net = random_network(sizes, activation, rng, scale)
    hi0, hp0, ht0 = levels
    q, fl, states = gr4_mlp_series(prcp, pet, ci, cp, ct, kexc, beta, hi0, hp0, ht0, net.to_vector(), sizes,
                                   activation=activation, aexc=aexc)
    assert fl.shape == (len(SHIM_FLUXES), prcp.size)
    fx = dict(zip(SHIM_FLUXES, fl))
    f = np.stack([fx[name] for name in CORRECTIONS], axis=1)
    hi, hp, ht = states[:, :-1]  # levels at the start of each step

    # the balance
    ei = pet - fx["en"]
    storage = ci * states[0] + cp * states[1] + ct * states[2]
    exchange = fx["lexc"] + (fx["qd"] - fx["prd"])
    floor = ct * np.maximum(0.0, 1e-6 - (ht + fx["prr"] / ct))
    terms = dict(P=prcp.sum(), q=q.sum(), evap=(ei + fx["es"]).sum(), dS=storage[-1] - storage[0],
                 exchange=exchange.sum(), floor=floor.sum())
    residual = terms["P"] - (terms["q"] + terms["evap"] + terms["dS"] - terms["exchange"] - terms["floor"])
    tol = 1e-9 * (terms["P"] + pet.sum() + ci + cp + ct + np.abs(fx["lexc"]).sum() + 1.0)
    assert abs(residual) <= tol, (terms, residual)
    event("transfer floor active" if terms["floor"] > 0 else "transfer floor inactive")
    event("direct branch clipped" if (fx["qd"] > fx["prd"] + fx["lexc"]).any() else "direct branch not clipped")

    # the corrected fluxes, recomputed from the start-of-step levels
    assert np.abs(f).max() <= 1.0
    # (large weights on raw inputs of up to hundreds of mm: the pre-activations lose a few digits)
    np.testing.assert_allclose(f, net.predict(np.column_stack([hp, ht, fx["pn"], fx["en"]])), rtol=1e-12, atol=1e-12)
    r = fx["pr"] + fx["perc"]
    np.testing.assert_allclose(fx["prr"] - fx["lexc"] + fx["prd"], r, rtol=1e-12,
                               atol=1e-13 * (np.abs(fx["lexc"]).max() + r.max() + 1.0))
    np.testing.assert_allclose(fx["prd"], (0.1 + 0.9 * f[:, 2] ** 2) * r, rtol=1e-13, atol=1e-300)
    law = kexc * (ht - aexc) if aexc is not None else kexc * ht ** 3.5
    np.testing.assert_allclose(fx["lexc"], (1.0 + f[:, 3]) * law, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(fx["qd"], np.maximum(0.0, fx["prd"] + fx["lexc"]))
    np.testing.assert_allclose(q, fx["qr"] + fx["qd"], rtol=1e-15, atol=0)
    wet, dry = fx["pn"] > 0, fx["en"] > 0
    tp, te = np.tanh(fx["pn"] / cp), np.tanh(fx["en"] / cp)
    ps_gr = cp * (1.0 - hp ** 2) * tp / (1.0 + hp * tp)
    es_gr = hp * cp * (2.0 - hp) * te / (1.0 + (1.0 - hp) * te)
    np.testing.assert_allclose(fx["ps"][wet], np.minimum(fx["pn"], (1.0 + f[:, 0]) * ps_gr)[wet], rtol=1e-12)
    np.testing.assert_allclose(fx["es"][dry], np.minimum(fx["en"], (1.0 + f[:, 1]) * es_gr)[dry], rtol=1e-12,
                               atol=1e-15)
    assert (fx["ps"][~wet] == 0).all() and (fx["es"][~dry] == 0).all()
    np.testing.assert_array_equal(fx["pr"], fx["pn"] - fx["ps"])
    assert (fx["ps"] <= fx["pn"]).all() and (fx["es"] <= fx["en"]).all()
    assert (q >= 0).all()
    # f2 > 0 lets es exceed the production store's content (as the reference: es = min(en, (1 + f2) es_GR)),
    # so hp may fall below 0 and the percolation, hence R and prd, turn negative; prd >= 0 wherever R >= 0
    assert (fx["prd"][r >= 0] >= 0).all()
    event("production level below 0" if states[1].min() < 0 else "production level >= 0")
    event("production level above 1" if states[1].max() > 1 else "production level <= 1")


def test_gr4_mlp_missing_forcings_take_no_correction():
    rng = np.random.default_rng(2)
    prcp, pet = one_cell_forcings(rng, 100, missing=0.2)
    sizes = (4, 8, 4)
    net = random_network(sizes, "silu", rng, 0.5)
    net.biases[-1][:] = 2.0  # corrections near tanh(2) wherever the network runs
    _, fl, _ = gr4_mlp_series(prcp, pet, 1.2, 250.0, 90.0, -0.5, BETA, 0.3, 0.4, 0.2, net.to_vector(), sizes,
                              activation="silu")
    fx = dict(zip(SHIM_FLUXES, fl))
    invalid = (prcp < 0) | (pet < 0)
    assert invalid.sum() > 10
    for name in CORRECTIONS + ("pn", "en", "ps", "es", "pr", "perc", "lexc", "prr", "prd"):
        assert (fx[name][invalid] == 0).all(), name
    assert (np.abs(np.stack([fx[n] for n in CORRECTIONS]))[:, ~invalid] > 0.5).all()


# ----------------------------------------------------------------------- 7. FluxCorrectionNetwork
def test_vector_layout_and_round_trip():
    rng = np.random.default_rng(0)
    net = random_network((4, 3, 2, 4), "tanh", rng, 1.0)
    assert net.layer_sizes == (4, 3, 2, 4)
    assert net.n_parameters == 3 * 5 + 2 * 4 + 4 * 3
    v = net.to_vector()
    w1, b1, w2, b2, w3, b3 = net.weights[0], net.biases[0], net.weights[1], net.biases[1], net.weights[2], net.biases[2]
    np.testing.assert_array_equal(v[:12], [w1[i, j] for i in range(3) for j in range(4)])  # row-major
    np.testing.assert_array_equal(v[12:15], b1)
    np.testing.assert_array_equal(v[15:21], w2.ravel())
    np.testing.assert_array_equal(v[21:23], b2)
    np.testing.assert_array_equal(v[23:31], w3.ravel())
    np.testing.assert_array_equal(v[31:], b3)
    other = net.with_vector(v)
    assert other == net and other is not net and other.activation == "tanh"
    u = rng.normal(size=v.size)
    moved = net.with_vector(u)
    np.testing.assert_array_equal(moved.to_vector(), u)
    assert moved != net and moved.layer_sizes == net.layer_sizes
    u[0] = 123.0  # the network does not see later edits of the vector
    assert moved.weights[0][0, 0] != 123.0
    with pytest.raises(ValueError, match="shape"):
        net.with_vector(v[:-1])
    with pytest.raises(ValueError, match="shape"):
        net.with_vector(v.reshape(1, -1))


def test_as_dict_names_and_copies():
    net = random_network((4, 5, 6, 4), "relu", np.random.default_rng(1), 1.0)
    d = net.as_dict()
    assert list(d) == ["weight_1", "bias_1", "weight_2", "bias_2", "weight_3", "bias_3"]
    assert [d[k].shape for k in d] == [(5, 4), (5,), (6, 5), (6,), (4, 6), (4,)]
    np.testing.assert_array_equal(network_vector(d), net.to_vector())
    d["weight_1"][0, 0] = 1e3
    assert net.weights[0][0, 0] != 1e3


@pytest.mark.parametrize("sizes", [(4, 16, 4), (4, 8, 6, 4), (4, 3, 5, 2, 4)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predict_equals_the_kernel(activation, sizes):
    rng = np.random.default_rng(ACTIVATIONS.index(activation))
    net = random_network(sizes, activation, rng, 1.0)
    x = np.column_stack([rng.uniform(0, 1, 50), rng.uniform(0, 1, 50), rng.exponential(5.0, 50),
                         rng.uniform(0, 0.5, 50)])
    x[:5] = 0.0
    x[5] = 1e3  # saturates: tanh is exactly +-1 in double precision there
    out = net.predict(x)
    np.testing.assert_allclose(mlp_eval(net.to_vector(), net.layer_sizes, activation, x), out, rtol=1e-13, atol=1e-15)
    assert out.shape == (50, 4) and np.abs(out).max() <= 1.0 and np.ptp(out) > 0.1
    # the hidden activation is the named one: another gives other outputs (relu and leaky_relu agree on
    # positive pre-activations only)
    other = "sigmoid" if activation != "sigmoid" else "tanh"
    assert np.abs(FluxCorrectionNetwork(net.weights, net.biases, other).predict(x) - out).max() > 1e-3


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predict_by_hand(activation):
    rng = np.random.default_rng(3)
    w1, b1, w2, b2 = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)
    net = FluxCorrectionNetwork([w1, w2], [b1, b2], activation)
    x = rng.normal(size=(7, 4))
    z = x @ w1.T + b1
    hidden = {"leaky_relu": np.where(z > 0, z, 0.01 * z), "relu": np.maximum(z, 0), "silu": z / (1 + np.exp(-z)),
              "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z))}[activation]
    np.testing.assert_allclose(net.predict(x), np.tanh(hidden @ w2.T + b2), rtol=1e-14)


def test_initialize_and_zeros():
    x = np.random.default_rng(0).uniform(0, 10, (20, 4))
    net = FluxCorrectionNetwork.initialize(4, 4, (16, 8), activation="silu", random_state=0, output_scale=0.0)
    assert net.layer_sizes == (4, 16, 8, 4) and net.activation == "silu"
    assert np.abs(net.weights[0]).min() > 0 and np.abs(net.weights[1]).min() > 0
    assert (net.weights[-1] == 0).all() and all((b == 0).all() for b in net.biases)
    assert (net.predict(x) == 0).all()
    # the default start: every weight random, the output layer's scaled by 0.01: corrections small
    net = FluxCorrectionNetwork.initialize(4, 4, (16, 8), activation="silu", random_state=0)
    assert all(np.abs(w).min() > 0 for w in net.weights) and all((b == 0).all() for b in net.biases)
    assert 0 < np.abs(net.predict(x / 10.0)).max() < 0.05
    full = FluxCorrectionNetwork.initialize(4, 4, (16, 8), activation="silu", random_state=0, output_scale=1.0)
    np.testing.assert_array_equal(full.weights[0], net.weights[0])
    np.testing.assert_array_equal(0.01 * full.weights[-1], net.weights[-1])
    init = FluxCorrectionNetwork.initialize
    assert init(4, 4, random_state=0) == init(4, 4, random_state=0) != init(4, 4, random_state=1)
    assert init(4, 4, 16, random_state=0).layer_sizes == (4, 16, 4)
    zeros = FluxCorrectionNetwork.zeros(4, 4)
    assert zeros.layer_sizes == (4, 16, 4) and not zeros.to_vector().any()
    assert zeros != FluxCorrectionNetwork.zeros(4, 4, activation="silu")
    with pytest.raises(ValueError, match="kernel_initializer"):
        FluxCorrectionNetwork.initialize(4, 4, kernel_initializer="orthogonal")


@pytest.mark.parametrize("hidden", [(), 0, -3, (4, 0), (1, 2, 3, 4), (2.5,), (True,), "16", None, (600,)])
def test_invalid_hidden_layer_sizes(hidden):
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        FluxCorrectionNetwork.zeros(4, 4, hidden)


def test_constructor_validation():
    w1, b1, w2, b2 = np.ones((3, 4)), np.zeros(3), np.ones((4, 3)), np.zeros(4)
    FluxCorrectionNetwork([w1, w2], [b1, b2])  # fine
    with pytest.raises(ValueError, match="activation"):
        FluxCorrectionNetwork([w1, w2], [b1, b2], "gelu")
    with pytest.raises(ValueError, match="do not chain"):
        FluxCorrectionNetwork([w1, np.ones((4, 5))], [b1, b2])  # 5 inputs after 3 units
    with pytest.raises(ValueError, match="do not chain"):
        FluxCorrectionNetwork([w1, w2], [b1, np.zeros(3)])  # bias of the wrong length
    with pytest.raises(ValueError, match="do not chain"):
        FluxCorrectionNetwork([np.ones(4), w2], [b1, b2])  # not a matrix
    with pytest.raises(ValueError):
        FluxCorrectionNetwork([w1, w2], [b1])
    with pytest.raises(ValueError):
        FluxCorrectionNetwork([], [])
    with pytest.raises(ValueError):
        FluxCorrectionNetwork([np.ones((2, 2))] * 5, [np.zeros(2)] * 5)  # more than 4 layers
    for bad in (np.nan, np.inf):
        w = w1.copy()
        w[1, 2] = bad
        with pytest.raises(ValueError, match="non-finite"):
            FluxCorrectionNetwork([w, w2], [b1, b2])
        with pytest.raises(ValueError, match="non-finite"):
            FluxCorrectionNetwork([w1, w2], [b1, np.r_[0.0, bad, 0.0, 0.0]])
    with pytest.raises(ValueError, match="out of range"):
        FluxCorrectionNetwork([np.ones((400, 4)), np.ones((200, 400))], [np.zeros(400), np.zeros(200)])
    net = FluxCorrectionNetwork([w1, w2], [b1, b2])
    with pytest.raises(ValueError, match="shape"):
        net.predict(np.ones((3, 5)))
    with pytest.raises(ValueError, match="shape"):
        net.predict(np.ones(4))
    # the network keeps its own copies of the arrays it was given
    w1[0, 0] = 7.0
    assert net.weights[0][0, 0] == 1.0


# ------------------------------------------------------------------------------ 8. structures, errors
def test_structure_properties():
    for name in ("zero-gr4_mlp-lr", "ssn-gr5_mlp-kw"):
        s = get_structure(name)
        assert s.is_hybrid
        assert s.network_inputs == ("hp", "ht", "pn", "en")
        assert s.network_outputs == CORRECTIONS
        assert set(CORRECTIONS) <= set(s.fluxes)
    assert get_structure("zero-gr5_mlp-lr").parameters == get_structure("zero-gr5-lr").parameters
    assert get_structure("zero-gr4_mlp-lr").states == get_structure("zero-gr4-lr").states
    for name in ("zero-gr4-lr", "ssn-gr6-kw", "zero-vic3l-lag0"):
        s = get_structure(name)
        assert not s.is_hybrid and s.network_inputs == () and s.network_outputs == ()


def test_network_errors(basin):
    mesh, forcings = basin.mesh, basin.forcings
    net = FluxCorrectionNetwork.initialize(4, 4, random_state=0)
    for call in (lambda **kw: skhydro.simulate(mesh, forcings, **kw),
                 lambda **kw: skhydro.value_and_gradient(mesh, forcings, observed=basin.observed, **kw)):
        with pytest.raises(ValueError, match="flux-correction network"):
            call(structure="zero-gr4-lr", network=net)
        with pytest.raises(ValueError, match="4 outputs"):
            call(structure="zero-gr4_mlp-lr", network=FluxCorrectionNetwork.zeros(4, 3))
        with pytest.raises(ValueError, match="4 inputs"):
            call(structure="zero-gr5_mlp-kw", network=FluxCorrectionNetwork.zeros(5, 4))
        with pytest.raises(TypeError, match="FluxCorrectionNetwork"):
            call(structure="zero-gr4_mlp-lr", network=net.as_dict())
        with pytest.raises(TypeError, match="FluxCorrectionNetwork"):
            call(structure="zero-gr4_mlp-lr", network=net.to_vector())


def test_default_network_gradient(basin):
    """Without a network the hybrid structure has the all-zero one: only the output bias has a gradient
    (hidden units at zero), and the cost is the classical structure's."""
    value, grads = skhydro.value_and_gradient(basin.mesh, basin.forcings, "zero-gr4_mlp-lr",
                                              states={"hp": 0.5, "ht": 0.3}, observed=basin.observed)
    ref_value, ref = skhydro.value_and_gradient(basin.mesh, basin.forcings, "zero-gr4-lr",
                                                states={"hp": 0.5, "ht": 0.3}, observed=basin.observed)
    assert value == ref_value
    assert set(grads) == set(ref) | {"network"}
    for name in ref:
        np.testing.assert_array_equal(grads[name], ref[name], err_msg=name)
    g = grads["network"]
    assert [g[k].shape for k in ("weight_1", "bias_1", "weight_2", "bias_2")] == [(16, 4), (16,), (4, 16), (4,)]
    assert not g["weight_2"].any()
    # f1 and f2 are trained; f3 enters squared (no gradient at f3 = 0); f4 multiplies the exchange,
    # zero with the default kexc = 0
    assert np.abs(g["bias_2"][:2]).min() > 0 and (g["bias_2"][2:] == 0).all()
    # the hidden layer is reached only through the zero output weights
    assert not g["weight_1"].any() and not g["bias_1"].any()
    _, grads = skhydro.value_and_gradient(basin.mesh, basin.forcings, "zero-gr4_mlp-lr", parameters={"kexc": -1.0},
                                          states={"hp": 0.5, "ht": 0.3}, observed=basin.observed)
    g = grads["network"]["bias_2"]
    assert np.abs(g[[0, 1, 3]]).min() > 0 and g[2] == 0
