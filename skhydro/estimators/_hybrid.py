"""Hybrid physics-AI estimator: a GR structure whose internal fluxes a neural network corrects."""

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ..hybrid import FluxCorrectionNetwork
from ..mappings import ACTIVATIONS
from ..hybrid._network import NETWORK_ACTIVATIONS, check_hidden_layer_sizes
from ..simulation import simulate
from ..structures import get_structure
from ._base import check_random_state_param, check_X
from ._distributed_gr4 import _MAPPINGS, DistributedModel
from ._regional import _ADAPTIVE, RegionalModel

__all__ = ["HybridFluxCorrector"]

# gradient-free SBS has no place with a network's hundreds of weights
_HYBRID_OPTIMIZERS = {
    "uniform": ("lbfgsb",) + _ADAPTIVE,
    "distributed": ("lbfgsb",) + _ADAPTIVE,
    "multi-linear": ("lbfgsb",) + _ADAPTIVE,
    "multi-power": ("lbfgsb",) + _ADAPTIVE,
    "ann": _ADAPTIVE,
}


class _WithNetwork:
    """A parameter mapping whose control vector is followed by the flux-correction network's parameters
    (unbounded, untransformed), so that one optimiser trains both on one adjoint run per iteration."""

    def __init__(self, mapping, n_network):
        self.mapping = mapping
        self.n_network = n_network

    def _split(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x[:x.size - self.n_network], x[x.size - self.n_network:]

    def initial_control(self, values):
        values = dict(values)
        network = values.pop("network")
        return np.concatenate([self.mapping.initial_control(values), network])

    def control_bounds(self, *args):
        lower, upper = self.mapping.control_bounds(*args)
        inf = np.full(self.n_network, np.inf)
        return np.concatenate([lower, -inf]), np.concatenate([upper, inf])

    def to_values(self, x, n_active=None):
        head, network = self._split(x)
        values = dict(self.mapping.to_values(head, n_active))
        values["network"] = network
        return values

    def pullback(self, x, gradients, n_active=None):
        head, _ = self._split(x)
        gradients = dict(gradients)
        network = gradients.pop("network")
        return np.concatenate([self.mapping.pullback(head, gradients, n_active), network])


def _catchment_cells(mesh, gauge):
    """Active-cell indices draining to ``gauge`` (its own cell included)."""
    codes = list(mesh.gauge_codes)
    if gauge not in codes:
        raise ValueError(f"unknown gauge {gauge!r}; the mesh has {codes}")
    stack, seen = [int(mesh.gauge_index[codes.index(gauge)])], []
    while stack:
        k = stack.pop()
        seen.append(k)
        stack.extend(int(j) for j in mesh.up_idx[mesh.up_ptr[k]:mesh.up_ptr[k + 1]])
    return np.sort(np.array(seen))


class HybridFluxCorrector(RegionalModel):
    """A GR model whose internal fluxes a neural network corrects at every cell and step (GRNN).

    The network φ1 maps the states at the start of the step and the interception's outputs (gr4_mlp:
    hp, ht, pn, en) to four corrections f in ]-1, 1[ applied inside the time loop: infiltration
    ``min(pn, (1 + f1) ps)``, evaporation ``min(en, (1 + f2) es)``, the mass-conserving split
    ``0.9 (1 - f3²) / (0.1 + 0.9 f3²)`` of the runoff between the transfer store and the direct branch,
    and the exchange ``(1 + f4) l`` (``../shared/spec/forward.md`` §6.4). ``fit`` trains φ1 jointly with
    the parameter mapping through the model's exact adjoint: uniform parameters (GRNN.U), distributed
    ones (GRNN.D), or a regionalisation from descriptors, e.g. the ANN φ2 (GRNN.NN).

    Training starts close to the classical structure: random weights (``random_state``), the output
    layer's scaled down (:meth:`~skhydro.hybrid.FluxCorrectionNetwork.initialize`), so the corrections
    start near zero while every weight receives a gradient.

    Parameters
    ----------
    structure : str, default="zero-gr4_mlp-lr"
        A hybrid structure: hydrological module ``gr4_mlp``, ``gr5_mlp``, ``gr6_mlp``, ``grc_mlp``,
        ``grd_mlp`` or ``loieau_mlp`` (their inputs and corrections: ``../shared/spec/forward.md`` §6.4).
    mapping : {"uniform", "distributed", "multi-linear", "multi-power", "ann"}, default="uniform"
        Mapping of the GR parameters; the regional ones need descriptors in ``X``.
    optimizer : str, optional
        ``"lbfgsb"`` (not for ``ann``), ``"adam"``, ``"sgd"``, ``"adagrad"``, ``"rmsprop"``. Default
        ``"lbfgsb"``, or ``"adam"`` for ``ann``.
    max_iter : int, optional
        Iteration budget; default 100 (lbfgsb), 200 (adaptive).
    cost : str, default="nse"
        Metric of the cost.
    parameters : list of str, optional
        GR parameters learnt; default every parameter of the structure except ``ci``.
    calibrate_states : bool or list of str, default=False
        Also learn these initial states.
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds.
    init_parameters, init_states : dict, optional
        Starting (and, for names not learnt, fixed) values: scalars or maps.
    learning_rate : float, optional
        For the adaptive optimisers.
    hidden_layer_sizes : int or tuple of int, default=(16,)
        Hidden widths of φ1 (1 to 3 layers).
    activation : {"leaky_relu", "relu", "silu", "tanh", "sigmoid"}, default="leaky_relu"
        Hidden activation of φ1 (its output is tanh). hydro-smash's ``gr4_mlp`` uses ``"silu"``.
    init_network : skhydro.hybrid.FluxCorrectionNetwork, optional
        Start from this network instead (its architecture replaces ``hidden_layer_sizes`` and
        ``activation``).
    descriptors, descriptor_transform : optional
        Regional mappings: descriptors used and their transform (see :class:`RegionalModel`).
    mapping_hidden_layer_sizes : tuple of int, optional
        Hidden widths of the ANN mapping φ2 (default the reference's).
    mapping_activation : str, default="relu"
        Hidden activation of φ2.
    random_state : int, RandomState instance or None, default=None
        Seed of φ1's (and φ2's) initial weights, of the held-out gauges and of the batches.
    batch_size, early_stopping, validation_fraction, n_iter_no_change
        Adaptive optimisers, as :class:`RegionalModel`.
    scoring : str, default="nse"
    num_threads : int, default=1
    verbose : bool, default=False

    Attributes
    ----------
    network_ : skhydro.hybrid.FluxCorrectionNetwork
        The trained flux-correction network.
    parameters_, initial_states_, final_states_, cost_, n_iter_, history_, mesh_shape_, structure_
        As :class:`DistributedModel`.
    coef_ : ndarray
        The learnt control vector of the parameter mapping (without the network).
    mapping_, descriptor_names_, descriptor_correlations_
        Regional mappings only, as :class:`RegionalModel`.

    Notes
    -----
    The corrected fluxes keep the reference's caps only: the infiltration by the net rain and the
    evaporation by the net PET. A strong correction can therefore carry the production level slightly
    outside [0, 1] (evaporating more than the store holds, or filling it past its capacity), as in
    hydro-smash's ``gr4_mlp``; the water balance still closes. With ``activation="silu"`` and the same
    weights the structure reproduces hydro-smash's ``gr4_mlp`` (raw inputs, SiLU hidden units).

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.estimators import HybridFluxCorrector
    >>> wet = {"hp": 0.5, "ht": 0.3}
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states=wet)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, warmup=48)
    >>> model = HybridFluxCorrector(max_iter=5, init_states=wet, random_state=0).fit(X, y)
    >>> model.network_.layer_sizes
    (4, 16, 4)
    >>> bool(model.cost_ < model.history_[0])
    True
    """

    _optimizers = _HYBRID_OPTIMIZERS
    _hybrid = True

    def __init__(self, structure="zero-gr4_mlp-lr", mapping="uniform", optimizer=None, max_iter=None, cost="nse",
                 parameters=None, calibrate_states=False, bounds=None, init_parameters=None, init_states=None,
                 learning_rate=None, hidden_layer_sizes=(16,), activation="leaky_relu", init_network=None,
                 descriptors=None, descriptor_transform=None, mapping_hidden_layer_sizes=None,
                 mapping_activation="relu", random_state=None, batch_size=None, early_stopping=False,
                 validation_fraction=0.25, n_iter_no_change=10, scoring="nse", num_threads=1, verbose=False):
        super().__init__(structure=structure, mapping=mapping, optimizer=optimizer, max_iter=max_iter, cost=cost,
                         parameters=parameters, calibrate_states=calibrate_states, bounds=bounds,
                         init_parameters=init_parameters, init_states=init_states, learning_rate=learning_rate,
                         descriptors=descriptors, descriptor_transform=descriptor_transform,
                         hidden_layer_sizes=hidden_layer_sizes, activation=activation, random_state=random_state,
                         batch_size=batch_size, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
                         scoring=scoring, num_threads=num_threads, verbose=verbose)
        self.init_network = init_network
        self.mapping_hidden_layer_sizes = mapping_hidden_layer_sizes
        self.mapping_activation = mapping_activation

    # ----------------------------------------------------------------------------- set-up hooks
    def _ann_settings(self):
        return self.mapping_hidden_layer_sizes, self.mapping_activation

    def _initial_network(self, structure):
        return self._start_network

    def _new_network(self, structure):
        """The network training starts from: ``init_network``, or a random one with a near-zero output."""
        n_in, n_out = len(structure.network_inputs), len(structure.network_outputs)
        if self.init_network is not None:
            if not isinstance(self.init_network, FluxCorrectionNetwork):
                raise TypeError("init_network must be a skhydro.hybrid.FluxCorrectionNetwork, got "
                                f"{type(self.init_network).__name__}")
            return self.init_network
        if self.activation not in NETWORK_ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(NETWORK_ACTIVATIONS)}, got {self.activation!r}")
        check_random_state_param(self.random_state)
        return FluxCorrectionNetwork.initialize(n_in, n_out, check_hidden_layer_sizes(self.hidden_layer_sizes),
                                                self.activation, random_state=self.random_state)

    def _make_mapping(self, X, names, optimizer):
        params = [n for n in names if n != "network"]
        if self.mapping == "ann" and self.mapping_activation not in ACTIVATIONS:
            raise ValueError(f"mapping_activation must be one of {sorted(ACTIVATIONS)}, got "
                             f"{self.mapping_activation!r}")
        if self.mapping in _MAPPINGS:
            inner = DistributedModel._make_mapping(self, X, params, optimizer)
        else:
            inner = super()._make_mapping(X, params, optimizer)
        return _WithNetwork(inner, self._start_network.n_parameters)

    def _fitted_mapping(self, mapping, x, names):
        head, network = mapping._split(x)
        self.network_ = self._start_network.with_vector(network)
        params = [n for n in names if n != "network"]
        if self.mapping in _MAPPINGS:
            self.coef_ = np.array(head)
        else:
            super()._fitted_mapping(mapping.mapping, head, params)

    def fit(self, X, y):
        """Train the network and the parameter mapping on the observation units of ``X``.

        Parameters
        ----------
        X : ObservationUnits
        y : UnitDischarge

        Returns
        -------
        self
        """
        structure = get_structure(self.structure)
        # drawn once (a RandomState would give another network at each call); a classical structure is
        # refused by the parameter checks
        self._start_network = self._new_network(structure) if structure.is_hybrid else None
        try:
            return super().fit(X, y)
        finally:
            del self._start_network

    # ------------------------------------------------------------------------------ inspection
    def simulate_fluxes(self, X, corrected=True):
        """Internal fluxes on every cell and step with the fitted model.

        Parameters
        ----------
        X : ObservationUnits
        corrected : bool, default=True
            False: the same parameters with no correction (the classical structure), to compare the
            corrected fluxes with the original ones.

        Returns
        -------
        dict of ndarray
            ``{name: (ntime, nrow, ncol)}`` as :func:`skhydro.simulate` (``return_fluxes=True``): depths
            in mm per step, the corrections ``f1``...``f4``, and ``qt``, ``qup`` in m³/s.
        """
        check_is_fitted(self, "network_")
        check_X(X)
        if X.mesh.shape != self.mesh_shape_:
            raise ValueError(f"X is on a {X.mesh.shape} grid but the estimator was fitted on {self.mesh_shape_}")
        network = self.network_ if corrected else None
        return simulate(X.mesh, X.forcings, self.structure_, self.parameters_, self.initial_states_,
                        self.num_threads, network=network, return_fluxes=True).fluxes

    def correction_series(self, X, gauge=None):
        """Flux corrections averaged over a catchment, step by step.

        Parameters
        ----------
        X : ObservationUnits
        gauge : str, optional
            Average over the cells draining to this gauge; default every active cell.

        Returns
        -------
        pandas.DataFrame
            Step end stamps x corrections (``f1`` infiltration, ``f2`` evaporation, ``f3`` split, ``f4``
            exchange), each in ]-1, 1[ (0 on steps with missing forcings).
        """
        fluxes = self.simulate_fluxes(X)
        mesh = X.mesh
        cells = np.arange(mesh.n_active) if gauge is None else _catchment_cells(mesh, gauge)
        names = get_structure(self.structure_).network_outputs
        data = {n: mesh.to_vector(fluxes[n])[:, cells].mean(axis=1) for n in names}
        return pd.DataFrame(data, index=X.forcings.index)

    def correction_maps(self, X):
        """Flux corrections averaged over the window, cell by cell.

        Parameters
        ----------
        X : ObservationUnits

        Returns
        -------
        dict of ndarray
            ``{name: (nrow, ncol)}`` for ``f1``...``f4`` (NaN outside the active cells).
        """
        fluxes = self.simulate_fluxes(X)
        return {n: fluxes[n].mean(axis=0) for n in get_structure(self.structure_).network_outputs}
