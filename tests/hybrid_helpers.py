"""Shared helpers of the hybrid-structure tests (test_hybrid.py, test_hybrid_variants.py): random networks,
the basins' sub-catchment and gappy forcings, finite differences of the public cost through
:class:`HybridCase`, and the dot-product test of one-cell reverse shims. No tests."""
import numpy as np
import pandas as pd

import skhydro
from skhydro.cost import DischargeCost
from skhydro.gradient import default_checkpoint_interval
from skhydro.hybrid import FluxCorrectionNetwork
from skhydro.simulation import Problem

RTOL = 1e-5
# finite-difference schedule (steps relative to max(|x|, 0.1), see test_gradient.py): central differences,
# then a five-point stencil, then one-sided differences (the adjoint follows the branch the forward took
# where the run sits on a kink: Leaky ReLU / ReLU, the min caps of ps and es, interception, max(0, prd + l))
SCHEDULE = [(s, 2) for s in (1e-4, 1e-5, 1e-3, 1e-6, 1e-7)] + [(1e-3, 4), (1e-4, 4)] \
    + [(s, 1) for s in (1e-3, 1e-4, 1e-5, 1e-6)]


def random_network(sizes, activation, rng, scale, input_scale=None):
    """A network of layer sizes ``sizes`` with N(0, scale) weights and biases; the first layer's weight on
    input i divided by ``input_scale[i]`` when given (raw inputs of different magnitudes)."""
    net = FluxCorrectionNetwork.zeros(sizes[0], sizes[-1], sizes[1:-1], activation)
    net = net.with_vector(rng.normal(0.0, scale, net.n_parameters))
    if input_scale is not None:
        weights = [w.copy() for w in net.weights]
        weights[0] /= np.asarray(input_scale, dtype=np.float64)
        net = FluxCorrectionNetwork(weights, net.biases, activation)
    return net


def with_zero_output(net):
    """The same network with its output layer's weights and biases set to zero (corrections exactly 0)."""
    v = net.to_vector()
    n_last = net.weights[-1].size + net.biases[-1].size
    v[v.size - n_last:] = 0.0
    return net.with_vector(v)


def network_vector(gradient):
    """A ``{"weight_1", "bias_1", ...}`` dict flattened in the kernel layout (written out here rather than
    with ``to_vector``: per layer the weights row-major, then the bias)."""
    n = len([k for k in gradient if k.startswith("weight_")])
    assert sorted(gradient) == sorted([f"weight_{i}" for i in range(1, n + 1)] + [f"bias_{i}" for i in range(1, n + 1)])
    return np.concatenate([np.concatenate([gradient[f"weight_{i}"].ravel(), gradient[f"bias_{i}"]])
                           for i in range(1, n + 1)])


def sub_catchment_mesh(basin):
    """The 178-cell catchment of SYN003 in ``basin``, gauged at its outlet and on three inner cells."""
    m, g = basin.mesh, basin.mesh.gauges.loc["SYN003"]
    outlet = dict(code="SYN003", row=int(g.row), col=int(g.col))
    sub = skhydro.Mesh.from_flow_directions(m.flwdir, dx=m.dx, dy=m.dy, gauges=[outlet])
    rows, cols = np.nonzero(sub.active)
    pick = np.random.default_rng(0).choice(rows.size, 3, replace=False)
    gauges = [outlet] + [dict(code=f"C{i}", row=int(rows[i]), col=int(cols[i])) for i in pick]
    return skhydro.Mesh.from_flow_directions(m.flwdir, dx=m.dx, dy=m.dy, gauges=gauges)


def gappy_forcings(basin):
    """The basin's forcings from step 104 on (its first step has showers and PET), with a few missing
    rain and PET values (steps without correction)."""
    rng = np.random.default_rng(3)
    t0, f = 104, basin.forcings
    prcp, pet = np.array(f.prcp[t0:]), np.array(f.pet[t0:])
    prcp[rng.random(prcp.shape) < 0.01] = np.nan
    pet[rng.random(pet.shape) < 0.01] = -99.0
    return skhydro.Forcings(prcp, pet, dt=f.dt, start=f.start + pd.Timedelta(seconds=t0 * f.dt))


def fd_agrees(probe, g, tol):
    """Whether one difference of ``SCHEDULE`` on ``probe(h)`` (the cost at x + h v) agrees with ``g``."""
    fds, mid = [], None
    for step, order in SCHEDULE:
        up, down = probe(step), probe(-step)
        if order == 1:
            mid = probe(0.0) if mid is None else mid
            candidates = [(up - mid) / step, (mid - down) / step]
        elif order == 2:
            candidates = [(up - down) / (2 * step)]
        else:
            d2 = (probe(2 * step) - probe(-2 * step)) / (4 * step)
            candidates = [(4 * (up - down) / (2 * step) - d2) / 3]
        fds.extend(candidates)
        if any(abs(fd - g) <= tol for fd in candidates):
            return True, fds
    return False, fds


class HybridCase:
    """The public value and gradient of a hybrid structure, with the Problem to probe the cost."""

    def __init__(self, mesh, forcings, structure, params, states, network, observed, warmup=24):
        self.mesh = mesh
        self.value, self.grads = skhydro.value_and_gradient(mesh, forcings, structure, params, states, observed,
                                                            cost="nse", warmup=warmup, network=network)
        self.problem = p = Problem(mesh, forcings, structure, params, states, 1, network)
        self.cost = DischargeCost(observed, forcings.index, mesh.gauge_codes, metric="nse", warmup=warmup)
        s = p.structure
        self.views = {name: p.hparams[i] for i, name in enumerate(s.parameters[:p.hparams.shape[0]])}
        self.views.update({name: p.hstates0[i] for i, name in enumerate(s.states[:p.hstates0.shape[0]])})
        self.views["network"] = p.net_params
        self.net_grad = network_vector(self.grads["network"])

    def J(self):
        return self.cost.value(self.problem.run()[0])

    def gradient(self, name):
        return self.net_grad if name == "network" else self.mesh.to_vector(self.grads[name])

    def bias_indices(self):
        """Positions of the network's biases in its parameter vector."""
        net = self.problem.network
        offsets = np.cumsum([0] + [w.size + b.size for w, b in zip(net.weights, net.biases)])
        return np.concatenate([np.arange(o + w.size, o + w.size + b.size)
                               for o, w, b in zip(offsets, net.weights, net.biases)])

    def network_fd_failures(self, indices):
        """The network parameters among ``indices`` whose adjoint no difference of ``SCHEDULE`` confirms (step
        max(|x_i|, 0.1)): ``(index, adjoint times step, first differences)`` each."""
        g, x0 = self.net_grad, self.problem.net_params
        failures = []
        for i in indices:
            v = np.zeros_like(x0)
            v[i] = max(abs(x0[i]), 0.1)
            tol = RTOL * max(abs(g[i]), 1e-3 * np.abs(g).max()) * v[i]
            ok, fds = fd_agrees(self.probe({"network": v}), g[i] * v[i], tol)
            if not ok:
                failures.append((int(i), g[i] * v[i], fds[:4]))
        return failures

    def probe(self, directions):
        """``h -> J(x + h v)`` for ``directions = {name: v}`` (the views are restored after each call)."""
        x0 = {name: self.views[name].copy() for name in directions}

        def at(h):
            try:
                for name, v in directions.items():
                    self.views[name][:] = x0[name] + h * v
                return self.J()
            finally:
                for name in directions:
                    self.views[name][:] = x0[name]

        return at


def dot_error(forward, reverse, x0, rng, scale, n_directions=3):
    """Worst relative mismatch of w·(F(x+hv) - F(x-hv))/2h against (Jᵀw)·v over random v, w."""
    worst = 0.0
    y0 = forward(x0)
    for _ in range(n_directions):
        w = rng.normal(size=y0.size)
        v = rng.uniform(-1, 1, x0.size) * scale
        adjoint = reverse(x0, w) @ v
        best = min(abs(w @ (forward(x0 + h * v) - forward(x0 - h * v)) / (2 * h) - adjoint)
                   for h in (1e-5, 1e-6, 1e-7, 1e-8))
        worst = max(worst, best / abs(adjoint))
    return worst


def assert_gradient_invariant(basin, structure, params, states, network):
    """The public value and gradient on ``basin`` (its observations) are bitwise the same with 2 threads,
    with checkpoints every 7 steps (not the default interval), and with both."""
    assert basin.mesh.n_active > 10 * 64  # several blocks of the network's gradient buffers
    assert default_checkpoint_interval(basin.forcings.ntime) != 7

    def run(**kwargs):
        return skhydro.value_and_gradient(basin.mesh, basin.forcings, structure, params, states, basin.observed,
                                          network=network, **kwargs)

    value, grads = run()
    assert np.abs(network_vector(grads["network"])).max() > 0
    for kwargs in ({"num_threads": 2}, {"checkpoint_interval": 7}, {"num_threads": 2, "checkpoint_interval": 7}):
        other_value, other = run(**kwargs)
        assert other_value == value, kwargs
        assert set(other) == set(grads)
        for name in grads:
            if name == "network":
                for key in grads[name]:
                    np.testing.assert_array_equal(other[name][key], grads[name][key], err_msg=f"{kwargs} {key}")
            else:
                np.testing.assert_array_equal(other[name], grads[name], err_msg=f"{kwargs} {name}")
