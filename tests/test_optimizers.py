"""Optimisers: SBS, L-BFGS-B, adaptive methods and the dispatcher (spec §7), and SBS parity with hydro-smash."""
import doctest
import os
import sys

import numpy as np
import pytest
import scipy.optimize

import skhydro.optimizers._optimizers as optimizers_module
from skhydro.optimizers import minimize, minimize_adaptive, minimize_lbfgsb, minimize_sbs


def quadratic(center):
    center = np.asarray(center, dtype=np.float64)

    def f(x):
        return float(np.sum((x - center) ** 2))

    def fg(x):
        return f(x), 2.0 * (x - center)

    return f, fg


def rosenbrock(x):
    return float(scipy.optimize.rosen(x)), scipy.optimize.rosen_der(x)


def test_docstring_examples():
    result = doctest.testmod(optimizers_module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------------------------------
# SBS
# --------------------------------------------------------------------------------------------------
def test_sbs_converges_on_a_shifted_quadratic():
    f, _ = quadratic([0.7, -1.3, 2.1])
    res = minimize_sbs(f, np.zeros(3), ([-5, -5, -5], [5, 5, 5]), maxiter=50)
    assert res.success and "converged" in res.message
    np.testing.assert_allclose(res.x, [0.7, -1.3, 2.1], atol=0.02)
    assert res.fun == pytest.approx(f(res.x)) and res.fun == min(res.history)
    assert res.njev == 0 and res.nfev > 1
    assert np.all(np.diff(res.history) <= 0)


def test_sbs_respects_bounds_and_maxiter():
    f, _ = quadratic([3.0, -3.0])
    res = minimize_sbs(f, [0.0, 0.0], ([-1.0, -2.0], [1.0, 2.0]), maxiter=50)
    np.testing.assert_allclose(res.x, [1.0, -2.0])
    short = minimize_sbs(f, [0.0, 0.0], ([-10, -10], [10, 10]), maxiter=1)
    assert short.nit == 1 and not short.success and len(short.history) == 2
    # sweep 1 from x0 = 0, step 0.64: 4 trials, (0.64, 0) and (0, -0.64) tie and the first is kept;
    # sweep 2 from (0.64, 0) skips the reverse move of coordinate 0: 3 trials
    assert short.nfev == 1 + 4 + 3
    np.testing.assert_allclose(short.x, [0.64, -0.64])


def test_sbs_float32_points():
    f, _ = quadratic([0.1, 0.2])
    seen = []
    res = minimize_sbs(lambda x: seen.append(x.copy()) or f(x), [0.3, 0.3], ([-1, -1], [1, 1]), maxiter=3,
                       float32=True)
    assert all(np.array_equal(x, x.astype(np.float32).astype(np.float64)) for x in seen)
    assert res.x.dtype == np.float64


def test_sbs_callback_stops():
    f, _ = quadratic([0.5, 0.5])
    calls = []

    def callback(r):
        calls.append(r.nit)
        return r.nit == 2

    res = minimize_sbs(f, [0.0, 0.0], None, maxiter=50, callback=callback)
    assert calls == [1, 2] and res.nit == 2 and "callback" in res.message


# --------------------------------------------------------------------------------------------------
# L-BFGS-B
# --------------------------------------------------------------------------------------------------
def test_lbfgsb_rosenbrock_in_a_box():
    res = minimize_lbfgsb(rosenbrock, [-1.2, 1.0], ([-2, -2], [2, 2]), maxiter=200)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)
    assert res.history[0] == pytest.approx(rosenbrock(np.array([-1.2, 1.0]))[0])
    assert len(res.history) == res.nit + 1 and res.njev == res.nfev


def test_lbfgsb_respects_bounds():
    lower, upper = np.array([-2.0, -2.0]), np.array([0.5, 2.0])
    trace = []

    def fg(x):
        trace.append(x.copy())
        return rosenbrock(x)

    res = minimize_lbfgsb(fg, [-1.2, 1.0], (lower, upper), maxiter=200)
    pts = np.array(trace)
    assert np.all(pts >= lower) and np.all(pts <= upper)
    np.testing.assert_allclose(res.x, [0.5, 0.25], atol=1e-4)  # on the x0 = 0.5 face
    # unbounded sides and None are accepted
    res = minimize_lbfgsb(fg, [-1.2, 1.0], ([None, -np.inf], [0.5, None]))
    np.testing.assert_allclose(res.x, [0.5, 0.25], atol=1e-4)


def test_lbfgsb_options(monkeypatch):
    seen = {}
    real = scipy.optimize.minimize

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(optimizers_module.scipy.optimize, "minimize", spy)
    _, fg = quadratic([0.2])
    minimize_lbfgsb(fg, [0.0], ([0.0], [1.0]))
    assert seen["method"] == "L-BFGS-B" and seen["jac"] is True
    assert seen["options"] == {"maxiter": 100, "ftol": pytest.approx(2.22e-10), "gtol": 1e-12}
    minimize("lbfgsb", fg, [0.0], ([0.0], [1.0]), {"maxiter": 7, "factr": 1e7, "pgtol": 1e-5})
    assert seen["options"] == {"maxiter": 7, "ftol": pytest.approx(2.22e-9), "gtol": 1e-5}


# --------------------------------------------------------------------------------------------------
# adaptive optimisers: two steps by hand on f(x) = sum(a x^2) / 2, gradient a x
# --------------------------------------------------------------------------------------------------
A = np.array([1.0, 3.0])
X0 = np.array([1.0, -2.0])


def half_quadratic(x):
    return float(0.5 * np.sum(A * x * x)), A * x


def two_steps(method, **kwargs):
    res = minimize_adaptive(half_quadratic, X0, None, method=method, learning_rate=0.1, maxiter=2, **kwargs)
    assert res.nit == 2 and res.nfev == res.njev == 3 and len(res.history) == 3
    return res.x


def test_sgd_two_steps():
    g0 = A * X0                     # (1, -6)
    x1 = X0 - 0.1 * g0              # (0.9, -1.4)
    x2 = x1 - 0.1 * (A * x1)        # (0.81, -0.98)
    np.testing.assert_allclose(x1, [0.9, -1.4])
    np.testing.assert_allclose(two_steps("sgd"), x2)
    np.testing.assert_allclose(x2, [0.81, -0.98])


@pytest.mark.parametrize("legacy", [True, False])
def test_adam_two_steps(legacy):
    eps = 1e-8
    g0 = A * X0
    m, v = 0.1 * g0, 0.001 * g0 ** 2
    x1 = X0 - 0.1 * (m / 0.1) / (np.sqrt(v / 0.001) + eps)   # step 1: both corrections agree
    np.testing.assert_allclose(x1, [0.9, -1.9])
    g1 = A * x1
    m, v = 0.9 * m + 0.1 * g1, 0.999 * v + 0.001 * g1 ** 2
    if legacy:   # constant bias correction (the reference)
        m_hat, v_hat = m / 0.1, v / 0.001
    else:        # standard Adam, step 2
        m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    x2 = x1 - 0.1 * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(two_steps("adam", legacy_adam=legacy), x2, rtol=1e-12)


def test_adam_variants_differ():
    assert not np.allclose(two_steps("adam", legacy_adam=True), two_steps("adam", legacy_adam=False))


def test_adagrad_two_steps():
    eps = 1e-8
    g0 = A * X0
    G = g0 ** 2
    x1 = X0 - 0.1 * g0 / np.sqrt(G + eps)
    g1 = A * x1
    G = G + g1 ** 2
    x2 = x1 - 0.1 * g1 / np.sqrt(G + eps)
    np.testing.assert_allclose(two_steps("adagrad"), x2, rtol=1e-12)


def test_rmsprop_two_steps():
    eps = 1e-8
    g0 = A * X0
    E = 0.1 * g0 ** 2
    x1 = X0 - 0.1 * g0 / np.sqrt(E + eps)
    g1 = A * x1
    E = 0.9 * E + 0.1 * g1 ** 2
    x2 = x1 - 0.1 * g1 / np.sqrt(E + eps)
    np.testing.assert_allclose(two_steps("rmsprop"), x2, rtol=1e-12)


@pytest.mark.parametrize("method", ["adam", "sgd", "adagrad", "rmsprop"])
def test_adaptive_converges_and_clips(method):
    _, fg = quadratic([0.3, 0.8, 1.5])
    lr = 0.05 if method == "adagrad" else 0.01  # adagrad's steps shrink like 1/sqrt(iteration)
    res = minimize_adaptive(fg, [0.5, 0.5, 0.5], ([0, 0, 0], [1, 1, 1]), method=method, learning_rate=lr,
                            maxiter=500)
    np.testing.assert_allclose(res.x, [0.3, 0.8, 1.0], atol=2e-2)  # the third entry is held on its bound
    assert res.x[2] == 1.0 and res.nit == 500 and not res.success


def test_adaptive_default_learning_rate():
    g = np.array([2.0])
    res = minimize_adaptive(lambda x: (0.0, g), [0.0], None, method="sgd", maxiter=1)
    assert res.x == pytest.approx([-0.02 * 2.0])
    res = minimize_adaptive(lambda x: (0.0, g), [0.0], None, method="adam", maxiter=1)
    assert res.x == pytest.approx([-0.003], rel=1e-6)


def test_early_stopping_reverts_to_best():
    costs = iter([5.0, 4.0, 3.0, 2.5, 2.7, 2.8, 2.9, 3.0, 3.1])

    def fg(x):  # gradient 1: sgd moves x by -lr each iteration
        return next(costs), np.ones(1)

    res = minimize_adaptive(fg, [0.0], None, method="sgd", learning_rate=1.0, maxiter=8, early_stopping=2)
    # best at iteration 3 (2.5); iterations 4, 5 do not improve, iteration 6 exceeds the patience
    assert res.nit == 3 and res.fun == 2.5 and res.x == pytest.approx([-3.0])
    assert res.success and "early stopping" in res.message
    assert res.nfev == 7 and res.history == [5.0, 4.0, 3.0, 2.5, 2.7, 2.8, 2.9]
    # without early stopping: the last iterate
    costs = iter([5.0, 4.0, 3.0, 2.5, 2.7, 2.8, 2.9, 3.0, 3.1])
    res = minimize_adaptive(fg, [0.0], None, method="sgd", learning_rate=1.0, maxiter=8)
    assert res.nit == 8 and res.fun == 3.1 and res.x == pytest.approx([-8.0]) and not res.success


def test_early_stopping_first_iteration_always_recorded():
    costs = iter([1.0, 2.0, 3.0, 4.0, 5.0])  # every iterate is worse than x0: x0 is never returned
    res = minimize_adaptive(lambda x: (next(costs), np.ones(1)), [0.0], None, method="sgd", learning_rate=1.0,
                            maxiter=4, early_stopping=1)
    assert res.nit == 1 and res.fun == 2.0 and res.x == pytest.approx([-1.0])


def test_adaptive_non_finite():
    with pytest.raises(ValueError, match="not finite at x0"):
        minimize_adaptive(lambda x: (np.nan, np.ones(1)), [0.0], None)
    costs = iter([1.0, 0.5, np.inf])
    res = minimize_adaptive(lambda x: (next(costs), np.ones(1)), [0.0], None, method="sgd", learning_rate=1.0,
                            maxiter=5)
    assert not res.success and "not finite" in res.message and res.nit == 1 and res.fun == 0.5


# --------------------------------------------------------------------------------------------------
# dispatcher and validation
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sbs", "lbfgsb", "adam", "sgd", "adagrad", "rmsprop"])
def test_dispatcher(method):
    f, fg = quadratic([0.25, 0.75])
    options = {"maxiter": 300} if method in ("sbs", "lbfgsb") else {"maxiter": 300, "learning_rate": 0.02}
    res = minimize(method.upper(), f if method == "sbs" else fg, [0.5, 0.5], ([0, 0], [1, 1]), options)
    np.testing.assert_allclose(res.x, [0.25, 0.75], atol=0.02)
    for key in ("x", "fun", "nit", "nfev", "njev", "success", "message", "history"):
        assert key in res


def test_validation_errors():
    f, fg = quadratic([0.0, 0.0])
    with pytest.raises(ValueError, match="unknown method 'bfgs'"):
        minimize("bfgs", fg, [0.0, 0.0])
    with pytest.raises(ValueError, match="unknown option.*'learning_rate'.*'sbs'"):
        minimize("sbs", f, [0.0, 0.0], options={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="unknown option.*'legacy_adam'"):
        minimize("sgd", fg, [0.0, 0.0], options={"legacy_adam": False})
    with pytest.raises(ValueError, match="maxiter must be an integer >= 1"):
        minimize("adam", fg, [0.0, 0.0], options={"maxiter": 0})
    with pytest.raises(ValueError, match="maxiter"):
        minimize("lbfgsb", fg, [0.0, 0.0], options={"maxiter": 2.5})
    with pytest.raises(ValueError, match="learning_rate must be a positive"):
        minimize("rmsprop", fg, [0.0, 0.0], options={"learning_rate": -0.1})
    with pytest.raises(ValueError, match="early_stopping"):
        minimize("adagrad", fg, [0.0, 0.0], options={"early_stopping": -1})
    with pytest.raises(ValueError, match="factr"):
        minimize("lbfgsb", fg, [0.0, 0.0], options={"factr": 0})
    with pytest.raises(ValueError, match="float32 must be a bool"):
        minimize("sbs", f, [0.0, 0.0], options={"float32": "yes"})
    with pytest.raises(TypeError, match="options must be a dict"):
        minimize("sbs", f, [0.0, 0.0], options=[("maxiter", 3)])
    with pytest.raises(TypeError, match=r"\(value, gradient\)"):
        minimize("lbfgsb", f, [0.0, 0.0])
    with pytest.raises(ValueError, match="gradient must have shape"):
        minimize("adam", lambda x: (0.0, np.ones(3)), [0.0, 0.0])
    with pytest.raises(ValueError, match="lower < upper"):
        minimize("sbs", f, [0.0, 0.0], ([0.0, 1.0], [1.0, 1.0]))
    with pytest.raises(ValueError, match="pair"):
        minimize("sbs", f, [0.0, 0.0, 0.0], [(0, 1), (0, 1), (0, 1)])
    with pytest.raises(ValueError, match="do not match"):
        minimize("sbs", f, [0.0, 0.0], ([0.0, 0.0, 0.0], 1.0))
    with pytest.raises(ValueError, match="x0 must be finite"):
        minimize("sbs", f, [0.0, np.nan])
    with pytest.raises(ValueError, match="1-D"):
        minimize("sbs", f, [[0.0, 1.0]])
    # scipy Bounds are accepted; x0 is clipped into the bounds
    res = minimize("sbs", f, [3.0, 3.0], scipy.optimize.Bounds([1.0, 1.0], [2.0, 2.0]), {"maxiter": 5})
    np.testing.assert_allclose(res.x, [1.0, 1.0])


# --------------------------------------------------------------------------------------------------
# SBS parity with hydro-smash on the Cance dataset (spec §7.1, §14)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cance():
    smash = pytest.importorskip("smash")
    from skhydro.cost import DischargeCost
    from skhydro.mappings import UniformMapping
    from skhydro.simulation import Problem

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
    try:
        from _smash_inputs import skhydro_inputs
    finally:
        sys.path.pop(0)

    setup, mesh = smash.factory.load_dataset("Cance")
    model = smash.Model(setup, mesh)
    sk_mesh, forcings, params = skhydro_inputs(model)
    observed = np.array(model.response_data.q, dtype=np.float64).T  # (ntime, ng), negative = missing
    outlet = sk_mesh.gauges["area_dln"].idxmax()
    cost = DischargeCost(observed, forcings.index, sk_mesh.gauge_codes, metric="nse", gauges=[outlet])
    problem = Problem(sk_mesh, forcings, model.setup.structure, parameters=params)
    structure = problem.structure
    n_h = problem.hparams.shape[0]
    names = ["cp", "ct", "kexc", "llr"]
    mapping = UniformMapping(names, transform="sbs")
    current = dict(zip(structure.parameters, np.concatenate([problem.hparams, problem.rparams])))
    x0 = mapping.initial_control(current)

    def J(x):
        for name, value in mapping.to_values(x, sk_mesh.n_active).items():
            i = structure.parameters.index(name)  # ci keeps smash's adjusted values
            (problem.hparams[i] if i < n_h else problem.rparams[i - n_h])[:] = value
        return cost.value(problem.run()[0])

    return smash, model, mapping, x0, J


@pytest.mark.smash
def test_sbs_parity_with_smash_maxiter_2(cance):
    smash, model, mapping, x0, J = cance
    assert model.setup.structure == "zero-gr4-lr"
    np.testing.assert_allclose(x0, [5.298317, 6.214608, 0.0, 1.609438], atol=1e-6)
    # the reference: count its cost evaluations (forward runs, minus the final one at the result)
    import smash.core.simulation.optimize.optimize as smash_optimize
    runs = []
    real = smash_optimize.wrap_forward_run

    def counting(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    smash_optimize.wrap_forward_run = counting
    try:
        _, ret = smash.optimize(model, mapping="uniform", optimizer="sbs",
                                optimize_options={"termination_crit": {"maxiter": 2}},
                                common_options={"verbose": False},
                                return_options={"n_iter": True, "control_vector": True, "cost": True})
    finally:
        smash_optimize.wrap_forward_run = real
    ref_x = np.array(ret.control_vector, dtype=np.float64)
    np.testing.assert_allclose(ref_x, [4.3383174, 5.5746083, -0.32, 3.5294375], atol=1e-6)  # spec §14
    assert len(runs) - 1 == 59 and ret.n_iter == 2

    res = minimize_sbs(J, x0, mapping.control_bounds(), maxiter=2, float32=True)
    assert res.nfev == 59 and res.nit == ret.n_iter
    np.testing.assert_allclose(res.x, ref_x, atol=1e-4)
    assert res.fun == pytest.approx(ret.cost, rel=1e-4)


@pytest.mark.smash
def test_sbs_path_maxiter_7(cance):
    """The longer path of spec §7.1 (extrapolation steps included), against its recorded numbers."""
    _, _, mapping, x0, J = cance
    res = minimize_sbs(J, x0, mapping.control_bounds(), maxiter=7, float32=True)
    assert res.nfev == 216 and res.nit == 7
    np.testing.assert_allclose(res.x, [4.3083177, 5.544608, -1.12, 3.4194374], atol=1e-4)
    assert res.fun == pytest.approx(0.03676313, rel=1e-4)
