"""Multi-gauge discharge cost and its adjoint source (spec §4.2, §4.4-4.6, §14)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skhydro.cost
from skhydro import DischargeCost
from skhydro.metrics import METRICS

NAMES = sorted(METRICS)
CODES = ["A", "B", "C", "D"]
WEIGHTINGS = ["mean", "median", "lquartile", "uquartile", [0.2, 0.0, 1.5, 0.7]]


def _case(seed=0, ntime=40, missing=0.1):
    """A (index, observed DataFrame, simulated) triple with some missing observations (NaN and -99)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-03-01 01:00", periods=ntime, freq="h")
    x = rng.uniform(0.5, 5.0, (ntime, len(CODES)))
    x[rng.random(x.shape) < missing / 2] = np.nan
    x[rng.random(x.shape) < missing / 2] = -99.0
    y = x * rng.uniform(0.5, 1.5, x.shape) + rng.uniform(0.1, 0.5, x.shape)
    y[~(x >= 0)] = rng.uniform(0.5, 5.0, (~(x >= 0)).sum())  # simulation defined everywhere
    return index, pd.DataFrame(x, index=index, columns=CODES), y


def _central_differences(fun, y, h):
    g = np.zeros_like(y)
    for i in np.ndindex(y.shape):
        yp, ym = y.copy(), y.copy()
        yp[i] += h
        ym[i] -= h
        g[i] = (fun(yp) - fun(ym)) / (2 * h)
    return g



def test_exported():
    import skhydro

    assert "DischargeCost" in skhydro.__all__ and skhydro.DischargeCost is DischargeCost
    assert skhydro.cost.GAUGE_WEIGHT_ALIASES["median"] == 0.5


# ------------------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("weights", WEIGHTINGS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name, weights):
    index, obs, y = _case(seed=NAMES.index(name))
    cost = DischargeCost(obs, index, CODES, metric=name, weights=weights, warmup=3)
    value, grad = cost.value_and_gradient(y)
    assert value == cost.value(y)
    assert grad.shape == y.shape
    # |y - x| >= 0.1 everywhere (no kink of mae/mape within the step), continuous gauge costs are
    # distinct (no quantile tie within the step) for this random case
    h = 1e-6
    fd = _central_differences(cost.value, y, h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())


def test_gradient_goes_to_selected_gauges_only():
    index, obs, y = _case(seed=3)
    cost = DischargeCost(obs, index, CODES, metric="kge", gauges=["C", "A"], weights=[0.3, 0.7])
    _, grad = cost.value_and_gradient(y)
    assert not grad[:, [1, 3]].any()
    assert cost.gauges == ["C", "A"]
    # explicit weights follow the order of `gauges`
    ja = 1 - METRICS["kge"][0](obs["A"], y[:, 0])
    jc = 1 - METRICS["kge"][0](obs["C"], y[:, 2])
    assert cost.value(y) == pytest.approx(0.3 * jc + 0.7 * ja, rel=1e-12)
    assert DischargeCost(obs, index, CODES, "kge", ["C", "A"], {"A": 0.7, "C": 0.3}).value(y) == cost.value(y)


@pytest.mark.parametrize("alias, q", [("median", 0.5), ("lquartile", 0.25), ("uquartile", 0.75)])
def test_quantile_weighting_is_numpy_linear_quantile(alias, q):
    index, obs, y = _case(seed=4)
    per_gauge = [DischargeCost(obs, index, CODES, "nse", gauges=c).value(y) for c in CODES]
    assert DischargeCost(obs, index, CODES, "nse", weights=alias).value(y) == pytest.approx(
        np.quantile(per_gauge, q), rel=1e-12)
    assert DischargeCost(obs, index, CODES, "nse", weights="uniform").value(y) == pytest.approx(
        np.mean(per_gauge), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), q=st.sampled_from(["median", "lquartile", "uquartile"]),
       ng=st.integers(1, 4))
def test_quantile_gradient_weights_sum_to_one(seed, q, ng):
    # a quantile is a convex combination of two gauge costs: with mse, scaling the errors of every
    # gauge by s scales J by s², so <∂J/∂y, y - x> = 2 J (Euler) whatever gauges bracket the quantile
    index, obs, y = _case(seed=seed % 1000)
    cost = DischargeCost(obs, index, CODES, "mse", gauges=CODES[:ng], weights=q)
    value, grad = cost.value_and_gradient(y)
    x = np.nan_to_num(obs.to_numpy(), nan=0.0)
    assert np.sum(grad * (y - x)) == pytest.approx(2 * value, rel=1e-10)


# ---------------------------------------------------------------------------- window and missing
def test_warmup_int_and_timestamp_agree():
    index, obs, y = _case(seed=5)
    by_count = DischargeCost(obs, index, CODES, "nse", warmup=10)
    by_stamp = DischargeCost(obs, index, CODES, "nse", warmup=index[9])
    assert by_count.warmup == by_stamp.warmup == 10
    v1, g1 = by_count.value_and_gradient(y)
    v2, g2 = by_stamp.value_and_gradient(y)
    assert v1 == v2 and np.array_equal(g1, g2)
    assert not g1[:10].any()
    # the same as the cost on the sliced series
    sliced = DischargeCost(obs.iloc[10:], index[10:], CODES, "nse")
    assert sliced.value(y[10:]) == pytest.approx(v1, rel=1e-13)
    # spec §4.2: end_warmup = start (one step before the first step end) leaves nothing out
    assert DischargeCost(obs, index, CODES, warmup=index[0] - pd.Timedelta("1h")).warmup == 0
    # a stamp between step ends: the steps ending at 01:00 .. 05:00 are left out
    assert DischargeCost(obs, index, CODES, warmup="2021-03-01 05:30").warmup == 5
    assert DischargeCost(obs, index, CODES, warmup=None).warmup == 0


@pytest.mark.parametrize("missing", [np.nan, -99.0, -0.5])
@pytest.mark.parametrize("name", NAMES)
def test_missing_observations_contribute_nothing(name, missing):
    index, obs, y = _case(seed=6, missing=0.0)
    holes = obs.copy()
    holes.iloc[[2, 7, 8, 30], 1] = missing
    cost = DischargeCost(holes, index, CODES, name)
    value, grad = cost.value_and_gradient(y)
    assert not grad[[2, 7, 8, 30], 1].any()
    y2 = y.copy()
    y2[[2, 7, 8, 30], 1] = 1e6  # whatever is simulated there is ignored
    assert cost.value(y2) == value
    # the same as dropping those rows of gauge B
    keep = np.setdiff1d(np.arange(len(index)), [2, 7, 8, 30])
    j_b = DischargeCost(obs.iloc[keep], index[keep], CODES, name, gauges="B").value(y[keep])
    assert DischargeCost(holes, index, CODES, name, gauges="B").value(y) == pytest.approx(j_b, rel=1e-13)


def test_observed_alignment_by_timestamp():
    index, obs, y = _case(seed=7, missing=0.0)
    reference = DischargeCost(obs, index, CODES, "mse").value(y)
    # shuffled rows, extra rows outside the simulation, columns in another order: same cost
    extra = pd.DataFrame(5.0, index=pd.date_range("2020-01-01", periods=3, freq="h"), columns=CODES)
    shuffled = pd.concat([obs.sample(frac=1.0, random_state=0), extra])[CODES[::-1]]
    assert DischargeCost(shuffled, index, CODES, "mse").value(y) == pytest.approx(reference, rel=1e-13)
    # a stamp of `index` missing from observed is a missing observation
    dropped = DischargeCost(obs.drop(index[4]), index, CODES, "mse")
    _, grad = dropped.value_and_gradient(y)
    assert not grad[4].any()
    # an ndarray in gauge_codes order is taken as is
    assert DischargeCost(obs.to_numpy(), index, CODES, "mse").value(y) == reference


def test_default_gauges_are_the_observed_columns():
    index, obs, y = _case(seed=8)
    cost = DischargeCost(obs[["D", "B"]], index, CODES)
    assert cost.gauges == ["B", "D"]  # mesh order
    _, grad = cost.value_and_gradient(y)
    assert not grad[:, [0, 2]].any() and grad[:, [1, 3]].any()


# ------------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("kwargs, match", [
    (dict(metric="nash"), "unknown metric"),
    (dict(metric=None), "unknown metric"),
    (dict(gauges="Z"), r"unknown gauge code.*'Z'"),
    (dict(gauges=["A", "A"]), "more than once"),
    (dict(gauges=[]), "no gauge"),
    (dict(weights="average"), "unknown gauge weighting"),
    (dict(weights=[1.0, 2.0]), "one value per selected gauge"),
    (dict(weights=[1.0, -1.0, 1.0, 1.0]), "non-negative"),
    (dict(weights=[1.0, np.nan, 1.0, 1.0]), "finite"),
    (dict(weights=[1.0, np.inf, 1.0, 1.0]), "finite"),
    (dict(weights={"A": 1.0, "B": 1.0}), "one entry per selected gauge"),
    (dict(weights=["a", "b", "c", "d"]), "weights must be"),
    (dict(warmup=-1), "warmup must be between"),
    (dict(warmup=41), "warmup must be between"),
    (dict(warmup="2021-03-01 00:00"), None),  # = start: allowed
    (dict(warmup="2021-02-28 23:00"), "outside the simulation"),
    (dict(warmup="2021-03-03 00:00"), "outside the simulation"),
    (dict(warmup=1.5), "warmup must be"),
    (dict(warmup=True), "warmup must be"),
    (dict(warmup=40), r"no valid observation.*'A'"),
])
def test_bad_arguments(kwargs, match):
    index, obs, _ = _case(seed=9)
    if match is None:
        DischargeCost(obs, index, CODES, **kwargs)
    else:
        with pytest.raises(ValueError, match=match):
            DischargeCost(obs, index, CODES, **kwargs)


def test_bad_observed():
    index, obs, y = _case(seed=10)
    with pytest.raises(ValueError, match=r"column\(s\) \['X'\]"):
        DischargeCost(obs.rename(columns={"B": "X"}), index, CODES)
    with pytest.raises(ValueError, match="no timestamp of observed"):
        DischargeCost(obs.set_index(obs.index - pd.Timedelta("30D")), index, CODES)
    with pytest.raises(ValueError, match="duplicated timestamps"):
        DischargeCost(pd.concat([obs, obs.iloc[:1]]), index, CODES)
    with pytest.raises(ValueError, match="shape"):
        DischargeCost(obs.to_numpy()[:, :3], index, CODES)
    with pytest.raises(ValueError, match="infinite"):
        DischargeCost(obs.replace(obs.iloc[0, 0], np.inf), index, CODES)
    gone = obs.copy()
    gone["C"] = -99.0
    with pytest.raises(ValueError, match=r"no valid observation.*'C'"):
        DischargeCost(gone, index, CODES)
    DischargeCost(gone, index, CODES, gauges=["A", "B", "D"])  # fine once C is not selected
    with pytest.raises(ValueError, match="no valid observation after warm-up"):
        DischargeCost(obs.iloc[:5], index, CODES, warmup=5)
    cost = DischargeCost(obs, index, CODES)
    with pytest.raises(ValueError, match="simulated must have shape"):
        cost.value(y[:, :3])


# ------------------------------------------------------------------------- parity with smash
@pytest.fixture(scope="module")
def cance():
    """A smash Cance model (zero-gr4-lr, default parameters) with its observations, forward-run."""
    smash = pytest.importorskip("smash")
    from helpers import smash_forcings

    setup, mesh = smash.factory.load_dataset("Cance")
    model = smash.Model(setup, mesh)
    model.forward_run(common_options={"verbose": False})
    index = smash_forcings(model).index
    codes = [str(c) for c in model.mesh.code]
    observed = pd.DataFrame(np.array(model.response_data.q, dtype=np.float64).T, index=index, columns=codes)
    simulated = np.array(model.response.q, dtype=np.float64).T
    return smash, model, index, codes, observed, simulated


def _smash_cost(smash, model, **cost_options):
    _, run = smash.forward_run(model, cost_options=cost_options, return_options={"cost": True},
                               common_options={"verbose": False})
    return run.cost


@pytest.mark.smash
@pytest.mark.parametrize("cost_options, kwargs", [
    ({}, dict(gauges="V3524010")),  # default: gauge "dws" = the outlet, nse
    (dict(gauge="all"), {}),
    (dict(gauge="all", wgauge="median"), dict(weights="median")),
    (dict(gauge="all", wgauge="lquartile"), dict(weights="lquartile")),
    (dict(gauge="all", wgauge="uquartile"), dict(weights="uquartile")),
    (dict(gauge="all", wgauge=[0.2, 0.3, 0.5]), dict(weights=[0.2, 0.3, 0.5])),
    (dict(gauge="all", jobs_cmpt="kge"), dict(metric="kge")),
    (dict(end_warmup="2014-09-16 00:00"), dict(gauges="V3524010", warmup="2014-09-16 00:00")),
    # smash applies a wgauge list in MESH order of the selected gauges, whatever the order of `gauge`
    # (V3515010 comes before V3517010 in the mesh); skhydro follows the order given in `gauges`
    (dict(gauge=["V3517010", "V3515010"], wgauge=[0.4, 0.6], end_warmup="2014-10-01 12:00"),
     dict(gauges=["V3517010", "V3515010"], weights=[0.6, 0.4], warmup="2014-10-01 12:00")),
    (dict(gauge=["V3517010", "V3515010"], wgauge=[0.4, 0.6]),
     dict(gauges=["V3515010", "V3517010"], weights={"V3515010": 0.4, "V3517010": 0.6})),
] + [(dict(gauge="all", jobs_cmpt=m), dict(metric=m)) for m in ["nnse", "mae", "mape", "mse", "rmse", "lgrm"]],
    ids=lambda v: str(v))
def test_parity_with_smash(cance, cost_options, kwargs):
    smash, model, index, codes, observed, simulated = cance
    expected = _smash_cost(smash, model, **cost_options)
    got = DischargeCost(observed, index, codes, **kwargs).value(simulated)
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.smash
def test_parity_with_smash_spec_numbers(cance):
    # spec §14: default cost 0.6950102, all-gauge mean / median / lquartile / weights, warm-up
    _, _, index, codes, observed, simulated = cance
    cost = lambda **kw: DischargeCost(observed, index, codes, **kw).value(simulated)  # noqa: E731
    assert cost(gauges="V3524010") == pytest.approx(0.6950102, rel=1e-5)
    assert cost() == pytest.approx(0.7920026, rel=1e-5)
    assert cost(weights="median") == pytest.approx(0.8346705, rel=1e-5)
    assert cost(weights="lquartile") == pytest.approx(0.7648404, rel=1e-5)
    assert cost(weights=[0.2, 0.3, 0.5]) == pytest.approx(0.8102354, rel=1e-5)
    assert cost(gauges="V3524010", warmup=24) == pytest.approx(0.6976284, rel=1e-5)


@pytest.mark.smash
def test_parity_with_smash_missing_observations(cance):
    # spec §14: 100 outlet observations set to -99
    smash, model, index, codes, observed, simulated = cance
    holes = model.copy()
    q = np.array(holes.response_data.q)
    rows = np.random.default_rng(0).choice(q.shape[1], 100, replace=False)
    q[0, rows] = -99.0
    holes.response_data.q = q
    expected = _smash_cost(smash, holes, gauge="all", jobs_cmpt="kge")
    obs = observed.copy()
    obs.iloc[rows, 0] = -99.0
    cost = DischargeCost(obs, index, codes, "kge")
    assert cost.value(simulated) == pytest.approx(expected, rel=1e-5)
    assert not cost.value_and_gradient(simulated)[1][rows, 0].any()
