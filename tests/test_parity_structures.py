"""Parity with hydro-smash 1.3.0 for every structure it can run on Cance (hourly) and Lez (daily):
{zero, ssn} x every hydrological module x {lag0, lr, kw}.

The bundled datasets have no temperature or snowfall, so the snow structures get a synthetic temperature
field (seasonal and diurnal cycles, weather anomalies, a spatial gradient) and the dataset's precipitation
split into rain and snow by :func:`skhydro.forcings.partition_precipitation`; both models receive the same
float32 arrays. The smash models of this module are built without reading files (``read_prcp=False``)
and given the forcings and the adjusted ``ci`` of the dataset's own model, which keeps 168 builds cheap.

Tolerances, relative to each gauge's peak discharge. The reference computes in float32, and its transfer
outflow ``(h* - h) c`` cancels at low flow, so its discharge carries zero-mean round-off noise that grows
where a gauge's flows are small next to its peak (a small catchment in a snowy, dry run) and that the
kinematic wave amplifies right after its cold start (``d2 ∝ ((Qp + Qu)/2)^(bkw - 1)`` with Qp = 1e-6).
Every gauge must therefore meet two bounds: its daily (24-step) running mean of ``Q - Q_ref``, which
averages the noise out but keeps any systematic difference, within the spec §10.3 level (1e-5 for the GR
family, 2.5e-5 for grd, 5e-5 for loieau, 2e-4 for vic3l); and ``max_t |Q - Q_ref|`` within 1e-4 (2e-4 for
vic3l), ten times inside the issue's 1e-3. NSE >= 0.99999 and final states as in ``test_parity.compare``.
"""
import numpy as np
import pytest

import skhydro
from skhydro.forcings import partition_precipitation
from skhydro.structures import HYDROLOGICAL_MODULES, get_structure
from helpers import SMASH_OPTIONS
from test_parity import compare

pytestmark = pytest.mark.smash

HYDRO = [h for h in HYDROLOGICAL_MODULES if "network" not in HYDROLOGICAL_MODULES[h]]  # hybrids: test_hybrid_parity
COMBINATIONS = [(d, s, h, r) for d in ("Cance", "Lez") for s in ("zero", "ssn") for h in HYDRO
                for r in ("lag0", "lr", "kw")]
REL_TOL = {"grd": 2.5e-5, "loieau": 5e-5, "vic3l": 2e-4}   # systematic (daily mean) difference
NOISE_TOL = {"vic3l": 2e-4}                                  # any single step; default 1e-4
# final states: the reference's float32 drift of a few levels fed back on themselves (linear exchange), as
# in test_parity; for vic3l, the reference's infiltration C - W - C(...)^(b+1) leaves ~1e-5 mm of spurious
# runoff on every step without rain, water that its middle layer lacks at the end (~2e-5 of 500 mm), and
# over 1440 steps the layers' nonlinear drainage lets single cells drift further (1-2 of 383, up to 2.2e-4)
STATE_ATOL = {"gr5": 5e-5, "gr6": 5e-5, "vic3l": 2.5e-4}

# ranges of the random distributed maps (inside the default bounds, away from degenerate corners)
RANGES = dict(
    kmlt=(0.1, 3.0), ci=None, cp=(50, 800), ct=(20, 800), cl=(20, 800), be=(1, 20), kexc=(-5, 2), aexc=(0.05, 0.9),
    ca=(50, 800), cc=(20, 800), kb=(0.5, 2.0),
    # vic3l's explicit drainage h <- h - (ks/c) h^pbc multiplies a level difference by 1 - (ks pbc/c) h^(pbc-1)
    # per step; beyond ks pbc > 2c it amplifies the reference's float32 noise without bound (its levels
    # then differ by 0.04 while discharges still agree): ks pbc <= 100 <= 2 cusl keeps the states comparable
    b=(0.01, 0.6), cusl=(50, 400), cmsl=(150, 1500), cbsl=(200, 1800), ks=(1, 10), pbc=(2, 10), ds=(0.01, 0.9),
    dsm=(0.1, 50), ws=(0.2, 0.95),
    llr=(1, 500), akw=(1, 20), bkw=(0.3, 0.9),
    hs=(0, 50), hi=(0, 0.9), hp=(0.05, 0.95), ht=(0.05, 0.95), hl=(0.05, 0.95), he=(-200, 0), ha=(0.05, 0.95),
    hc=(0.05, 0.95), hcl=(0, 0.9), husl=(0.05, 0.95), hmsl=(0.05, 0.95), hbsl=(0.01, 0.95), hlr=(0, 50),
)


def synthetic_temperature(shape, index, dt, rng):
    """(ntime, nrow, ncol) temperature, °C, around the rain/snow threshold often enough for both to occur."""
    days = (index - index[0]).total_seconds().to_numpy() / 86400.0
    seasonal = 4.0 * np.cos(2.0 * np.pi * (index.day_of_year.to_numpy() - 20) / 365.0)
    diurnal = 3.0 * np.sin(2.0 * np.pi * (index.hour.to_numpy() - 9) / 24.0) if dt < 86400 else 0.0
    knots = np.arange(0.0, days[-1] + 5.0, 5.0)  # a new weather every five days
    anomaly = np.interp(days, knots, rng.normal(0.0, 2.5, knots.size))
    gradient = np.linspace(-3.0, 3.0, shape[0])[:, None] + np.linspace(-1.5, 1.5, shape[1])[None]
    return 1.0 - seasonal[:, None, None] + (diurnal + anomaly)[:, None, None] + gradient[None]


@pytest.fixture(scope="module")
def datasets(reference_case):
    """Per dataset: the smash setup and mesh, the adjusted ci, the forcings of the zero and ssn structures
    as smash arrays ``(prcp, pet, snow, temp)`` (float32, (nrow, ncol, ntime)) and as skhydro Forcings."""
    smash = pytest.importorskip("smash")
    cache = {}

    def to_smash(a):  # (ntime, nrow, ncol) -> smash's float32 (nrow, ncol, ntime), missing as -99
        return np.ascontiguousarray(np.moveaxis(np.nan_to_num(a, nan=-99.0), 0, -1), dtype=np.float32)

    def get(name):
        if name not in cache:
            base = reference_case(name, "lr")
            f = base.forcings
            setup, mesh = smash.factory.load_dataset(name)
            temp = synthetic_temperature(f.shape, f.index, f.dt, np.random.default_rng(len(name)))
            temp = temp.astype(np.float32).astype(np.float64)
            rain, snowfall = partition_precipitation(f.prcp, None, temp)
            # both models get the same float32 values
            rain, snowfall = rain.astype(np.float32).astype(np.float64), snowfall.astype(np.float32).astype(np.float64)
            cache[name] = dict(
                base=base, setup=setup, mesh=mesh, ci=base.parameters["ci"],
                smash_forcings={"zero": (to_smash(f.prcp), to_smash(f.pet), None, None),
                                "ssn": (to_smash(rain), to_smash(f.pet), to_smash(snowfall), to_smash(temp))},
                forcings={"zero": f, "ssn": skhydro.Forcings(rain, f.pet, dt=f.dt, start=f.start, snow=snowfall,
                                                            temp=temp)},
                snow_share=float(np.maximum(snowfall, 0).sum() / np.maximum(f.prcp, 0).sum()),
            )
        return cache[name]

    return get


def smash_model(data, structure, parameters=None, states=None):
    """A forward-run smash model of ``structure`` on the dataset's forcings."""
    import smash
    snow, hydro, routing = structure.split("-")
    setup = dict(data["setup"], read_prcp=False, read_pet=False, read_qobs=False, read_descriptor=False,
                 snow_module=snow, hydrological_module=hydro, routing_module=routing)
    model = smash.Model(setup, data["mesh"])
    prcp, pet, snowfall, temp = data["smash_forcings"][snow]
    model.atmos_data.prcp = prcp
    model.atmos_data.pet = pet
    if snow != "zero":
        model.atmos_data.snow = snowfall
        model.atmos_data.temp = temp
    if "ci" in model.rr_parameters.keys:  # the adjustment of the dataset's own model (forcings read)
        model.set_rr_parameters("ci", data["ci"].astype(np.float32))
    for name, value in (parameters or {}).items():
        model.set_rr_parameters(name, np.asarray(value, dtype=np.float32))
    for name, value in (states or {}).items():
        model.set_rr_initial_states(name, np.asarray(value, dtype=np.float32))
    model.forward_run(common_options=SMASH_OPTIONS)
    return model


class Case:
    """What :func:`test_parity.compare` needs of a case."""

    def __init__(self, data, structure):
        self.mesh = data["base"].mesh
        self.forcings = data["forcings"][structure.split("-")[0]]
        self.structure = structure

    active = property(lambda self: self.mesh.active)
    q_of = staticmethod(lambda model: np.array(model.response.q, dtype=np.float64).T)
    final_states_of = staticmethod(lambda model: {k: np.array(model.get_rr_final_states(k), dtype=np.float64)
                                                  for k in model.rr_initial_states.keys})

    def simulate(self, model):
        """Ours with the smash model's parameter and initial-state maps."""
        params = {k: np.array(model.get_rr_parameters(k), dtype=np.float64) for k in model.rr_parameters.keys}
        states = {k: np.array(model.get_rr_initial_states(k), dtype=np.float64)
                  for k in model.rr_initial_states.keys}
        return skhydro.simulate(self.mesh, self.forcings, self.structure, params, states)


def random_maps(structure, shape, dt, rng):
    s = get_structure(structure)
    params, states = {}, {}
    for name in s.parameters:
        if RANGES[name] is not None:
            low, high = RANGES[name]
            if name == "llr":  # minutes: the range is for hourly steps, scaled like the default
                low, high = low * dt / 3600.0, high * dt / 3600.0
            params[name] = rng.uniform(low, high, shape).astype(np.float32)
    for name in s.states:
        states[name] = rng.uniform(*RANGES[name], shape).astype(np.float32)
    return params, states


def test_synthetic_snow_is_substantial(datasets):
    for name in ("Cance", "Lez"):
        share = datasets(name)["snow_share"]
        assert 0.1 < share < 0.9, (name, share)


@pytest.mark.parametrize("dataset, snow, hydro, routing", COMBINATIONS)
def test_every_structure(datasets, dataset, snow, hydro, routing):
    data = datasets(dataset)
    structure = f"{snow}-{hydro}-{routing}"
    case = Case(data, structure)
    tolerances = dict(rel_tol=NOISE_TOL.get(hydro, 1e-4), state_atol=STATE_ATOL.get(hydro, 1e-5))
    # registry defaults (= smash's), then seeded random distributed maps of every parameter and state
    ref = smash_model(data, structure)
    ours = case.simulate(ref)
    compare(case, ours, ref, **tolerances)
    assert_no_systematic_difference(ours, ref, REL_TOL.get(hydro, 1e-5), cold_start=routing == "kw")
    seed = COMBINATIONS.index((dataset, snow, hydro, routing))
    params, states = random_maps(structure, case.mesh.shape, case.forcings.dt, np.random.default_rng(seed))
    ref = smash_model(data, structure, params, states)
    ours = case.simulate(ref)
    compare(case, ours, ref, **tolerances)
    assert_no_systematic_difference(ours, ref, REL_TOL.get(hydro, 1e-5), cold_start=routing == "kw")


def assert_no_systematic_difference(ours, ref, tol, window=24, cold_start=False):
    """The running mean of Q - Q_ref over ``window`` steps, per gauge, within ``tol`` of the gauge's peak.

    ``cold_start``: leave out the first ``window`` steps (the kinematic wave starts from Q = 1e-6
    everywhere; its first steps turn the reference's ~1 % round-off on tiny upstream flows into a
    transient of ~1e-4 of the peak that decays within hours, same-signed while it lasts).
    """
    q, q_ref = ours.discharge.to_numpy(), Case.q_of(ref)
    if cold_start:
        q, q_ref = q[window:], q_ref[window:]
    kernel = np.ones(window) / window
    for g in range(q.shape[1]):
        mean_diff = np.convolve(q[:, g] - q_ref[:, g], kernel, mode="valid")
        worst = np.abs(mean_diff).max() / np.abs(q_ref[:, g]).max()
        assert worst <= tol, f"gauge {g}: daily mean of Q - Q_ref reaches {worst:.2e} of the peak"


# spec §10.4: default parameters, adjusted ci (sum Q, max Q, argmax per gauge)
REFERENCE_NUMBERS = {
    ("Cance", "gr6"): ((7673.76, 1234.75, 320.937), (88.9278, 19.0051, 5.14309), (1212, 1212, 671)),
    ("Cance", "grc"): ((4332.06, 689.426, 179.247), (81.1899, 18.9633, 5.12830), (1212, 1212, 671)),
    ("Cance", "grd"): ((9868.87, 1534.79, 406.028), (82.4169, 9.12759, 2.49913), (1220, 1221, 1223)),
    ("Cance", "loieau"): ((15763.7, 3093.69, 811.849), (141.605, 26.7537, 7.61028), (1215, 1212, 1215)),
    ("Cance", "vic3l"): ((1946.40, 398.431, 105.479), (67.5502, 14.5029, 3.87441), (1212, 1212, 1212)),
    ("Lez", "grd"): ((482.974, 464.676, 419.200), (14.6535, 14.5092, 13.5319), (238, 238, 238)),
    ("Lez", "loieau"): ((622.352, 583.139, 513.100), (19.1726, 18.2474, 16.3513), (238, 238, 238)),
    ("Lez", "vic3l"): ((114.828, 107.068, 94.2706), (13.7820, 12.9175, 11.4389), (227, 227, 227)),
}


@pytest.mark.parametrize("dataset, hydro", [k for k in REFERENCE_NUMBERS if k[1] in HYDRO])
def test_reference_numbers(reference_case, dataset, hydro):
    """Our own defaults (ci adjusted by skhydro) against the numbers recorded in the spec."""
    base = reference_case(dataset, "lr")
    q = skhydro.simulate(base.mesh, base.forcings, f"zero-{hydro}-lr").discharge.to_numpy()
    total, peak, argmax = REFERENCE_NUMBERS[dataset, hydro]
    # float32 sums over 1440 steps: the reference's low-flow cancellation in T biases them by up to ~1.5e-5;
    # vic3l's spurious float32 infiltration runoff on dry steps (~1e-5 mm per cell and step) adds ~7e-4
    rtol = max(2e-5, REL_TOL.get(hydro, 0.0))
    np.testing.assert_allclose(q.sum(axis=0), total, rtol=1e-3 if hydro == "vic3l" else rtol)
    np.testing.assert_allclose(q.max(axis=0), peak, rtol=rtol)
    np.testing.assert_array_equal(q.argmax(axis=0), argmax)
