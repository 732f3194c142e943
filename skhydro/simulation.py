"""Forward simulation: ``skhydro.simulate``."""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._kernels import _model
from ._threads import resolve_num_threads
from .hybrid import FluxCorrectionNetwork
from .interception import adjust_interception
from .structures import get_structure, variable

__all__ = ["simulate", "SimulationResult"]


def _percolation_beta(dt):
    """GR percolation constant (9/4)(86400/dt)^(1/4) (spec §3.3)."""
    return 2.25 * (86400.0 / dt) ** 0.25


def _value_maps(kind, names, given, defaults, mesh):
    """Stack scalars or (nrow, ncol) maps into an (n, n_active) array in routing order, validated."""
    given = {} if given is None else dict(given)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"unknown {kind} {unknown} for this structure; expected some of {list(names)}")
    out = np.empty((len(names), mesh.n_active))
    for i, name in enumerate(names):
        value = given.get(name, defaults[name])
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            out[i] = arr
        elif arr.shape == mesh.shape:
            out[i] = mesh.to_vector(arr)
        elif arr.shape == (mesh.n_active,):
            raise ValueError(f"{kind[:-1]} {name!r}: give a scalar or a {mesh.shape} map, not a vector")
        else:
            raise ValueError(f"{kind[:-1]} {name!r} must be a scalar or a {mesh.shape} map, got shape {arr.shape}")
        v = out[i]
        if not np.isfinite(v).all():
            raise ValueError(f"{kind[:-1]} {name!r} is not finite on every active cell")
        low, high = variable(name).feasible
        # parameters: open feasible interval; states may start empty (0) but not full (a full transfer
        # store has no finite inflow on missing-rain steps)
        ok = ((v > low) & (v < high)) if kind == "parameters" else ((v >= low) & (v < high))
        if not ok.all():
            bracket = "]{}, {}[" if kind == "parameters" else "[{}, {}["
            raise ValueError(f"{kind[:-1]} {name!r} must lie in {bracket.format(low, high)} on active cells; "
                             f"got values from {v.min():g} to {v.max():g}")
    return out


class Problem:
    """Everything a kernel run needs, packed once as active-cell vectors in routing order.

    Used by :func:`simulate` and by the gradient code; not part of the public API.
    """

    def __init__(self, mesh, forcings, structure, parameters=None, states=None, num_threads=1, network=None):
        self.mesh = mesh
        self.forcings = forcings
        self.structure = structure = get_structure(structure)
        self.num_threads = resolve_num_threads(num_threads)
        if forcings.shape != mesh.shape:
            raise ValueError(f"forcings are on a {forcings.shape} grid but the mesh is {mesh.shape}")
        dt = float(forcings.dt)
        self.dt = dt
        self.prcp, self.pet = forcings.active_vectors(mesh)
        if structure.snow != "zero":
            if forcings.temp is None:
                raise ValueError(f"structure {structure.name!r} has a snow operator, which needs the temperature: "
                                 "build the forcings with Forcings(..., temp=...)")
            self.snow, self.temp = forcings.snow_vectors(mesh)
        else:
            self.snow = self.temp = np.empty((0, mesh.n_active))

        defaults = structure.default_parameters(dt)
        parameters = {} if parameters is None else dict(parameters)
        if "ci" in structure.parameters and "ci" not in parameters and dt < 86400:
            # the reference adjusts ci at build time on sub-daily steps; an explicit ci is used as is
            parameters["ci"] = adjust_interception(mesh, forcings, self.num_threads)
        values = _value_maps("parameters", structure.parameters, parameters, defaults, mesh)
        # the snow operator's parameters and states travel with the hydrological ones (snow first)
        n_h = len(structure._modules()[0]["parameters"]) + len(structure._modules()[1]["parameters"])
        self.hparams = np.ascontiguousarray(values[:n_h])
        self.rparams = np.ascontiguousarray(values[n_h:])
        svalues = _value_maps("states", structure.states, states, structure.default_states(), mesh)
        n_hs = len(structure._modules()[0]["states"]) + len(structure._modules()[1]["states"])
        self.hstates0 = np.ascontiguousarray(svalues[:n_hs])
        self.rstates0 = np.ascontiguousarray(svalues[n_hs:])

        dx = mesh.to_vector(mesh.dx)
        cell_area = dx * mesh.to_vector(mesh.dy)
        self.qt_factor = 1e-3 * cell_area / dt
        self.area_up = mesh.to_vector(mesh.flwacc) - cell_area
        self.dt_over_dx = dt / dx
        self.beta = _percolation_beta(dt)
        self._set_network(network)

    def _set_network(self, network):
        """The flux-correction network of a hybrid structure (all-zero weights by default: no correction);
        ``net_params`` is its parameter vector, which the estimators overwrite in place."""
        s = self.structure
        self.network = None
        self.net_params = np.zeros(0)
        if not s.is_hybrid:
            if network is not None:
                raise ValueError(f"structure {s.name!r} has no flux-correction network; use a hybrid module "
                                 "such as 'gr4_mlp'")
            return
        n_in, n_out = len(s.network_inputs), len(s.network_outputs)
        if network is None:
            network = FluxCorrectionNetwork.zeros(n_in, n_out)
        if not isinstance(network, FluxCorrectionNetwork):
            raise TypeError(f"network must be a skhydro.hybrid.FluxCorrectionNetwork, got {type(network).__name__}")
        sizes = network.layer_sizes
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(f"structure {s.name!r} needs a network with {n_in} inputs {s.network_inputs} and "
                             f"{n_out} outputs {s.network_outputs}, got layer sizes {sizes}")
        self.network = network
        self.net_params = np.ascontiguousarray(network.to_vector())

    @property
    def n_hydro_states(self):
        return self.hstates0.shape[0]

    def kernel(self):
        """A :class:`~skhydro._kernels._model.ModelKernel` on the current parameters."""
        m = self.mesh
        return _model.ModelKernel(
            self.structure.snow, self.structure.hydrological, self.structure.routing, self.prcp, self.pet,
            self.snow, self.temp,
            self.hparams, self.rparams, self.hstates0.shape[0], self.rstates0.shape[0],
            self.qt_factor, self.area_up, self.dt_over_dx, m.up_ptr, m.up_idx, m.level_ptr,
            not m._first_level_is_source, m.gauge_index, self.dt, self.beta, self.num_threads,
            **self._network_arguments(),
        )

    def _network_arguments(self):
        if self.network is None:
            return {}
        return dict(net_params=self.net_params, net_sizes=self.network.layer_sizes,
                    net_activation=self.network.activation)

    def current_network(self):
        """The network holding the current ``net_params`` (None for a classical structure)."""
        return None if self.network is None else self.network.with_vector(self.net_params)

    def run(self, t0=0, t1=None, hstates=None, rstates=None, buffers=None, keep_cells=False, keep_fluxes=False):
        """Run steps ``[t0, t1)`` from the given (or initial) states; states are updated in place."""
        t1 = self.forcings.ntime if t1 is None else t1
        nac, nt = self.mesh.n_active, t1 - t0
        hstates = self.hstates0.copy() if hstates is None else hstates
        rstates = self.rstates0.copy() if rstates is None else rstates
        buffers = np.zeros((2, nac)) if buffers is None else buffers
        q_gauge = np.empty((nt, self.mesh.gauge_index.size))
        q_cells = np.empty((nt if keep_cells else 0, nac))
        nflux = len(self.structure.fluxes)
        fluxes = np.zeros((nt, nflux, nac) if keep_fluxes else (0, nflux, nac))
        self.kernel().run(t0, t1, hstates, rstates, buffers, q_gauge, q_cells, fluxes)
        return q_gauge, q_cells, fluxes, hstates, rstates, buffers


@dataclass
class SimulationResult:
    """Output of :func:`simulate`.

    Attributes
    ----------
    discharge : pandas.DataFrame
        Routed discharge at the gauges, m³/s; index = step end stamps, columns = gauge codes.
    final_states : dict of ndarray
        State maps ``(nrow, ncol)`` after the last step (NaN outside the active cells).
    discharge_grid : ndarray or None
        ``(ntime, nrow, ncol)`` routed discharge, m³/s, when ``return_grid=True``.
    fluxes : dict of ndarray or None
        Internal fluxes ``{name: (ntime, nrow, ncol)}`` when ``return_fluxes=True``: depths in mm per
        step for the hydrological operator, ``qt`` and ``qup`` (upstream inflow) in m³/s.
    parameters : dict of ndarray
        The parameter maps used (defaults and the adjusted ``ci`` included).
    """

    discharge: pd.DataFrame
    final_states: dict
    parameters: dict
    discharge_grid: np.ndarray = None
    fluxes: dict = field(default=None)


def simulate(mesh, forcings, structure, parameters=None, states=None, num_threads=1, *, network=None,
             return_grid=False, return_fluxes=False):
    """Run a distributed hydrological model over a basin.

    Parameters
    ----------
    mesh : Mesh
        The basin grid and its gauges.
    forcings : Forcings
        Precipitation and PET on the mesh grid.
    structure : str
        ``"snow-hydrological-routing"``, e.g. ``"zero-gr4-kw"`` (see :mod:`skhydro.structures`).
    parameters, states : dict, optional
        Scalars or ``(nrow, ncol)`` maps by name; missing names take the registry defaults. Without
        ``ci``, GR structures at sub-daily steps adjust the interception capacity to the forcings.
    num_threads : int, default=1
        OpenMP threads (``-1``: all CPUs).
    network : skhydro.hybrid.FluxCorrectionNetwork, optional
        The flux-correction network of a hybrid structure (``*_mlp``); default all-zero weights, which
        give the classical structure's discharge exactly. Its corrections are the fluxes ``f1``... .
    return_grid : bool, default=False
        Also return the discharge on every cell and step.
    return_fluxes : bool, default=False
        Also return the internal fluxes on every cell and step.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> import skhydro
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0)
    >>> result = skhydro.simulate(basin.mesh, basin.forcings, "zero-gr4-kw")
    >>> result.discharge.shape == (basin.forcings.ntime, len(basin.mesh.gauge_codes))
    True
    """
    problem = Problem(mesh, forcings, structure, parameters, states, num_threads, network)
    q_gauge, q_cells, fluxes, hstates, rstates, _ = problem.run(keep_cells=return_grid, keep_fluxes=return_fluxes)
    s = problem.structure
    discharge = pd.DataFrame(q_gauge, index=forcings.index, columns=pd.Index(mesh.gauge_codes, name="code"))
    final = dict(zip(s.states, mesh.to_grid(np.concatenate([hstates, rstates]))))
    params = dict(zip(s.parameters, mesh.to_grid(np.concatenate([problem.hparams, problem.rparams]))))
    result = SimulationResult(discharge=discharge, final_states=final, parameters=params)
    if return_grid:
        result.discharge_grid = mesh.to_grid(q_cells)
    if return_fluxes:
        result.fluxes = {name: mesh.to_grid(fluxes[:, i]) for i, name in enumerate(s.fluxes)}
    return result
