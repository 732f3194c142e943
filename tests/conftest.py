"""Test configuration: the ``slow`` marker and the hydro-smash reference cases.

hydro-smash 1.3.0 (``import smash``) is the reference implementation: tests that need it use the
``reference_case`` fixture (or ``pytest.importorskip("smash")``) and carry ``@pytest.mark.smash``; without
it they are skipped and the rest of the suite still runs.
"""
from dataclasses import dataclass, field

import numpy as np
import pytest

import skhydro
from helpers import SMASH_OPTIONS, smash_forcings


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: give --runslow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# --------------------------------------------------------------------------------------------------
# hydro-smash reference cases
# --------------------------------------------------------------------------------------------------
@dataclass
class ReferenceCase:
    """A smash model (already forward-run, never to be mutated: use :func:`smash_forward`) and the
    equivalent skhydro mesh, forcings and parameter maps."""

    dataset: str
    routing: str
    model: object
    mesh: skhydro.Mesh
    forcings: skhydro.Forcings
    parameters: dict = field(default_factory=dict)  # smash's maps (adjusted ci included), float64
    initial_states: dict = field(default_factory=dict)
    hydro: str = "gr4"

    @property
    def structure(self):
        return f"zero-{self.hydro}-{self.routing}"

    @property
    def active(self):
        return self.mesh.active

    @staticmethod
    def q_of(model):
        """Gauge discharge of a smash model as ``(ntime, ng)`` float64."""
        return np.array(model.response.q, dtype=np.float64).T

    @staticmethod
    def final_states_of(model):
        return {k: np.array(model.get_rr_final_states(k), dtype=np.float64) for k in model.rr_initial_states.keys}

    @staticmethod
    def parameters_of(model):
        return {k: np.array(model.get_rr_parameters(k), dtype=np.float64) for k in model.rr_parameters.keys}

    def simulate(self, parameters=None, states=None, **kwargs):
        """skhydro simulation on this case (parameters default to smash's, adjusted ci included)."""
        return skhydro.simulate(self.mesh, self.forcings, self.structure,
                                parameters=self.parameters if parameters is None else parameters,
                                states=states, **kwargs)


def _build_reference_case(dataset, routing, hydro="gr4"):
    smash = pytest.importorskip("smash")
    setup, mesh = smash.factory.load_dataset(dataset)
    setup["routing_module"] = routing
    setup["hydrological_module"] = hydro
    setup["read_qobs"] = False
    setup["read_descriptor"] = False
    model = smash.Model(setup, mesh)
    model.forward_run(common_options=SMASH_OPTIONS)

    m = model.mesh
    gauges = [dict(code=str(c), row=int(r), col=int(cc)) for c, (r, cc) in zip(m.code, m.gauge_pos)]
    sk_mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                                gauges=gauges)
    forcings = smash_forcings(model)
    states = {k: np.array(model.get_rr_initial_states(k), dtype=np.float64) for k in model.rr_initial_states.keys}
    return ReferenceCase(dataset, routing, model, sk_mesh, forcings, ReferenceCase.parameters_of(model), states,
                         hydro)


@pytest.fixture(scope="session")
def reference_case():
    """Factory ``reference_case(dataset, routing, hydro="gr4")`` -> :class:`ReferenceCase`, cached for the
    session.

    Skips the calling test when hydro-smash is not installed.
    """
    pytest.importorskip("smash")
    cache = {}

    def get(dataset, routing="lr", hydro="gr4"):
        key = (dataset, routing, hydro)
        if key not in cache:
            cache[key] = _build_reference_case(dataset, routing, hydro)
        return cache[key]

    return get
