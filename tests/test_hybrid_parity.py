"""Parity of the hybrid ``gr4_mlp`` structure with hydro-smash 1.3.0 given identical network weights.

hydro-smash's network has SiLU hidden units and raw inputs (``tests/smash_hybrid.py`` records how this was
verified), so skhydro runs the same weights with ``activation="silu"``. Both models get the same
float32-representable weights, parameters and forcings. The reference computes in float32; spec §10.3
reports the ``*_mlp`` variants within a few 1e-6 of the peak, as gr4. We require, per gauge,
``max_t |Q - Q_ref| / max_t Q_ref <= 1e-5`` (the issue asks 1e-3) and NSE >= 0.99999, on networks that
move the discharge far from gr4's, with ``kexc`` nonzero so that the exchange correction acts too.
"""
import numpy as np
import pytest

from helpers import nse
from skhydro.hybrid import FluxCorrectionNetwork
from smash_hybrid import random_network, smash_gr4_mlp_discharge

pytestmark = pytest.mark.smash

REL_TOL = 1e-5
NSE_MIN = 0.99999


def our_network(weights, biases):
    return FluxCorrectionNetwork(weights, biases, activation="silu")


@pytest.mark.parametrize("routing", ["lr", "kw"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gr4_mlp_matches_reference(reference_case, routing, seed):
    case = reference_case("Cance", routing, hydro="gr4_mlp")
    weights, biases = random_network(np.random.default_rng(seed))
    rng = np.random.default_rng(100 + seed)
    shape = case.mesh.shape
    # distributed cp, ct and a nonzero exchange, float32-representable as the reference holds them
    changed = {"cp": rng.uniform(100, 600, shape), "ct": rng.uniform(50, 400, shape),
               "kexc": rng.uniform(-3.0, 1.0, shape)}
    changed = {k: v.astype(np.float32).astype(np.float64) for k, v in changed.items()}
    q_ref = smash_gr4_mlp_discharge(case.model, weights, biases, parameters=changed)
    ours = case.simulate(parameters=dict(case.parameters, **changed), network=our_network(weights, biases))
    q = ours.discharge.to_numpy()

    # the network matters: the corrected discharge is far from the classical one
    classical = case.simulate(parameters=dict(case.parameters, **changed)).discharge.to_numpy()
    assert (np.abs(classical - q_ref).max(axis=0) / q_ref.max(axis=0)).max() > 0.05
    rel = np.abs(q - q_ref).max(axis=0) / q_ref.max(axis=0)
    assert (rel <= REL_TOL).all(), f"max |Q - Q_ref| / max Q_ref per gauge: {rel}"
    for g in range(q.shape[1]):
        assert nse(q[:, g], q_ref[:, g]) >= NSE_MIN


def test_zero_network_is_reference_gr4(reference_case):
    """With all weights zero both libraries' gr4_mlp reduce to gr4: ours bit for bit, smash's to parity."""
    case = reference_case("Cance", "lr", hydro="gr4_mlp")
    zero = FluxCorrectionNetwork.zeros(4, 4, activation="silu")
    q = case.simulate(network=zero).discharge.to_numpy()
    plain = reference_case("Cance", "lr")
    np.testing.assert_array_equal(q, plain.simulate().discharge.to_numpy())
    q_ref = case.q_of(case.model)
    assert (np.abs(q - q_ref).max(axis=0) / q_ref.max(axis=0) <= REL_TOL).all()
