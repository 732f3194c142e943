"""Regionalisation estimators: parameter maps learnt as functions of physical descriptors."""
import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..cost import UnitCost
from ..optimizers import minimize
from ..mappings import (ACTIVATIONS, DESCRIPTOR_TRANSFORMS, ANNMapping, Descriptors, MultiLinearMapping,
                        MultiPowerMapping)
from ._base import check_random_state_param
from ._distributed_gr4 import DistributedModel

__all__ = ["RegionalModel", "RegionalANNMapping"]

_ADAPTIVE = ("adam", "sgd", "adagrad", "rmsprop")
_REGIONAL_OPTIMIZERS = {
    "multi-linear": ("lbfgsb",) + _ADAPTIVE,
    "multi-power": ("lbfgsb",) + _ADAPTIVE,
    "ann": _ADAPTIVE,
}


class RegionalModel(DistributedModel):
    """A distributed model whose parameter maps are functions of physical descriptors (regionalisation).

    ``fit`` learns the transfer function from the descriptors of ``X`` (``make_units(...,
    descriptors=...)``) to the parameter maps, through the model's exact gradient chained with the
    mapping's (``dJ/dρ = (dθ/dρ)ᵀ dJ/dθ``). The learnt maps cover every active cell, so ``predict``
    and ``score`` work for gauges never seen in ``fit`` (spatial validation) and for other periods.

    Parameters
    ----------
    structure : str, default="zero-gr4-kw"
        Model structure (see :mod:`skhydro.structures`).
    mapping : {"multi-linear", "multi-power", "ann"}, default="multi-linear"
        Transfer function (:class:`~skhydro.mappings.MultiLinearMapping`,
        :class:`~skhydro.mappings.MultiPowerMapping`, :class:`~skhydro.mappings.ANNMapping`).
    optimizer : str, optional
        ``"lbfgsb"`` (not for ``ann``), ``"adam"``, ``"sgd"``, ``"adagrad"``, ``"rmsprop"``. Default
        ``"lbfgsb"``, or ``"adam"`` for ``ann``.
    max_iter : int, optional
        Iteration budget; default 100 (lbfgsb), 200 (adaptive).
    cost : str, default="nse"
        Metric of the cost.
    parameters : list of str, optional
        Parameters learnt from the descriptors; default every parameter of the structure except ``ci``.
    calibrate_states : bool or list of str, default=False
        Also learn these initial states.
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds; the mappings keep the values inside.
    init_parameters, init_states : dict, optional
        Starting (and, for names not learnt, fixed) values: scalars or maps.
    learning_rate : float, optional
        For the adaptive optimisers.
    descriptors : list of str, optional
        Descriptors used (keys of ``X.descriptors``); default all.
    descriptor_transform : {"standardize", "normalize", "keep"}, optional
        Default ``"normalize"`` for ``multi-power`` (powers need non-negative descriptors),
        ``"standardize"`` otherwise.
    hidden_layer_sizes : tuple of int, optional
        ANN hidden widths; default the reference's (see :class:`~skhydro.mappings.ANNMapping`).
    activation : str, default="relu"
        ANN hidden activation.
    random_state : int, RandomState instance or None, default=None
        Seed of the ANN weight initialisation, of the gauges held out for early stopping and of the
        batches.
    batch_size : int, optional
        Adaptive optimisers: each iteration's gradient comes from this many units drawn at random among
        the training units (a batch of gauges and periods); default all of them.
    early_stopping : bool, default=False
        Adaptive optimisers: hold out the units of ``validation_fraction`` of the gauges, stop when their
        cost has not improved for ``n_iter_no_change`` iterations and keep the best iterate.
    validation_fraction : float, default=0.25
        Share of the gauges held out by ``early_stopping`` (at least one, and at least one left).
    n_iter_no_change : int, default=10
        Patience of ``early_stopping``.
    scoring : str, default="nse"
    num_threads : int, default=1
    verbose : bool, default=False

    Attributes
    ----------
    parameters_, initial_states_, final_states_, cost_, n_iter_, history_, mesh_shape_, structure_
        As :class:`DistributedModel`.
    coef_ : ndarray
        The learnt control vector (mapping coefficients or network weights).
    mapping_ : object
        The fitted mapping (its ``to_values`` gives the parameters from any control vector).
    descriptor_names_ : tuple of str
    descriptor_correlations_ : pandas.DataFrame
        Pearson correlation over the active cells between each descriptor (rows) and each learnt map
        (columns): how the transfer function uses the descriptors (NaN for a spatially uniform map).
    validation_gauges_ : list of str
        With ``early_stopping``: the held-out gauges.
    validation_history_ : list of float
        With ``early_stopping``: their cost after every iteration.
    best_iteration_ : int
        With ``early_stopping``: the iteration kept (0: the first guess).

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.estimators import RegionalModel
    >>> wet = {"hp": 0.5, "ht": 0.3}
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states=wet)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, basin.descriptors, warmup=48)
    >>> model = RegionalModel(parameters=["cp", "ct"], max_iter=3, init_states=wet).fit(X, y)
    >>> model.descriptor_correlations_.shape
    (5, 2)
    >>> bool(model.cost_ < model.history_[0])
    True
    """

    _optimizers = _REGIONAL_OPTIMIZERS

    def __init__(self, structure="zero-gr4-kw", mapping="multi-linear", optimizer=None, max_iter=None, cost="nse",
                 parameters=None, calibrate_states=False, bounds=None, init_parameters=None, init_states=None,
                 learning_rate=None, descriptors=None, descriptor_transform=None, hidden_layer_sizes=None,
                 activation="relu", random_state=None, batch_size=None, early_stopping=False,
                 validation_fraction=0.25, n_iter_no_change=10, scoring="nse", num_threads=1, verbose=False):
        super().__init__(structure=structure, mapping=mapping, optimizer=optimizer, max_iter=max_iter, cost=cost,
                         parameters=parameters, calibrate_states=calibrate_states, bounds=bounds,
                         init_parameters=init_parameters, init_states=init_states, learning_rate=learning_rate,
                         scoring=scoring, num_threads=num_threads, verbose=verbose)
        self.descriptors = descriptors
        self.descriptor_transform = descriptor_transform
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.random_state = random_state
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change

    def _descriptor_matrix(self, X):
        if not X.descriptors:
            raise ValueError("X carries no descriptors: build it with make_units(..., descriptors=...)")
        available = list(X.descriptors)
        names = available if self.descriptors is None else (
            [self.descriptors] if isinstance(self.descriptors, str) else list(self.descriptors))
        unknown = [n for n in names if n not in available]
        if unknown or not names:
            raise ValueError(f"descriptors {unknown or names} are not among those of X: {available}")
        transform = self.descriptor_transform
        if transform is None:
            transform = "normalize" if self.mapping == "multi-power" else "standardize"
        if transform not in DESCRIPTOR_TRANSFORMS:
            raise ValueError(f"descriptor_transform must be one of {list(DESCRIPTOR_TRANSFORMS)}, got {transform!r}")
        maps = Descriptors({n: X.descriptors[n] for n in names}, transform=transform)
        return tuple(names), maps.matrix(X.mesh)

    def _make_mapping(self, X, names, optimizer):
        descriptor_names, d = self._descriptor_matrix(X)
        self.descriptor_names_ = descriptor_names
        if self.mapping == "multi-linear":
            return MultiLinearMapping(names, d, bounds=self.bounds)
        if self.mapping == "multi-power":
            return MultiPowerMapping(names, d, bounds=self.bounds)
        hidden_layer_sizes, activation = self._ann_settings()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        check_random_state_param(self.random_state)
        return ANNMapping(names, d, bounds=self.bounds, hidden_layer_sizes=hidden_layer_sizes,
                          activation=activation, random_state=self.random_state,
                          n_cells=int(np.prod(X.mesh.shape)))

    def _ann_settings(self):
        """Hidden widths and activation of the ANN mapping."""
        return self.hidden_layer_sizes, self.activation

    def _optimize(self, X, y, optimizer, max_iter, value, value_and_gradient, set_values, x0, bounds, tick,
                  problem):
        """Adaptive training on batches of units and with early stopping on held-out gauges, when asked."""
        if self.batch_size is None and not self.early_stopping:
            return super()._optimize(X, y, optimizer, max_iter, value, value_and_gradient, set_values, x0, bounds,
                                     tick, problem)
        if optimizer not in _ADAPTIVE:
            raise ValueError(f"batch_size and early_stopping need an adaptive optimizer ({list(_ADAPTIVE)}), "
                             f"got {optimizer!r}")
        rng = check_random_state(self.random_state)
        gauges = np.asarray(X.gauges)
        units = np.arange(len(X))
        train, val_cost, self.validation_gauges_ = units, None, []
        if self.early_stopping:
            if not (isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1):
                raise ValueError(f"validation_fraction must lie in ]0, 1[, got {self.validation_fraction!r}")
            if not isinstance(self.n_iter_no_change, numbers.Integral) or self.n_iter_no_change < 1:
                raise ValueError(f"n_iter_no_change must be a positive integer, got {self.n_iter_no_change!r}")
            unique = list(dict.fromkeys(gauges))
            if len(unique) < 2:
                raise ValueError("early_stopping holds out whole gauges: X needs at least two gauges")
            n_val = min(len(unique) - 1, max(1, int(round(self.validation_fraction * len(unique)))))
            held = sorted(rng.choice(unique, n_val, replace=False).tolist(), key=unique.index)
            self.validation_gauges_ = held
            train = units[~np.isin(gauges, held)]
            val = units[np.isin(gauges, held)]
            val_cost = UnitCost(X[val], y[val], self.cost)
        train_cost = UnitCost(X[train], y[train], self.cost)
        batch = self.batch_size
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch!r}")

        def batch_value_and_gradient(x):
            if batch is None or batch >= train.size:
                return value_and_gradient(x, train_cost)
            idx = np.sort(rng.choice(train, batch, replace=False))
            return value_and_gradient(x, UnitCost(X[idx], y[idx], self.cost))

        best = [np.inf, np.array(x0, dtype=np.float64), 0]
        history = []

        def after_iteration(r):
            if tick:
                tick()
            if val_cost is None:
                return False
            set_values(r.x)
            v = val_cost.value(problem.run()[0])
            history.append(v)
            if v < best[0]:
                best[:] = [v, r.x.copy(), int(r.nit)]
            return r.nit - best[2] > self.n_iter_no_change

        result = minimize(optimizer, batch_value_and_gradient, x0, bounds, self._optimizer_options(max_iter),
                          callback=after_iteration)
        if val_cost is not None:
            self.validation_history_ = history
            self.best_iteration_ = best[2]
            if history:
                result.x, result.nit = best[1], best[2]
        return result

    def _fitted_mapping(self, mapping, x, names):
        self.coef_ = np.array(x, dtype=np.float64)
        self.mapping_ = mapping
        values = mapping.to_values(x)
        d = mapping.descriptors
        table = np.full((d.shape[1], len(names)), np.nan)
        for j, name in enumerate(names):
            v = values[name]
            if v.std() > 0:
                for i in range(d.shape[1]):
                    table[i, j] = np.corrcoef(d[:, i], v)[0, 1]
        self.descriptor_correlations_ = pd.DataFrame(table, index=pd.Index(self.descriptor_names_, name="descriptor"),
                                                     columns=pd.Index(list(names), name="parameter"))


class RegionalANNMapping(RegionalModel):
    """:class:`RegionalModel` with the neural-network mapping (``mapping="ann"``, Adam) by default.

    The descriptor-to-parameter network of the HDA-PR method: a multilayer perceptron, its tanh
    outputs scaled to each parameter's bounds, trained through the differentiable model. Every
    parameter, attribute and method is the one of :class:`RegionalModel`.

    Examples
    --------
    >>> from skhydro.estimators import RegionalANNMapping
    >>> RegionalANNMapping().get_params()["mapping"]
    'ann'
    """

    def __init__(self, structure="zero-gr4-kw", mapping="ann", optimizer=None, max_iter=None, cost="nse",
                 parameters=None, calibrate_states=False, bounds=None, init_parameters=None, init_states=None,
                 learning_rate=None, descriptors=None, descriptor_transform=None, hidden_layer_sizes=None,
                 activation="relu", random_state=None, batch_size=None, early_stopping=False,
                 validation_fraction=0.25, n_iter_no_change=10, scoring="nse", num_threads=1, verbose=False):
        super().__init__(structure=structure, mapping=mapping, optimizer=optimizer, max_iter=max_iter, cost=cost,
                         parameters=parameters, calibrate_states=calibrate_states, bounds=bounds,
                         init_parameters=init_parameters, init_states=init_states, learning_rate=learning_rate,
                         descriptors=descriptors, descriptor_transform=descriptor_transform,
                         hidden_layer_sizes=hidden_layer_sizes, activation=activation, random_state=random_state,
                         batch_size=batch_size, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
                         scoring=scoring, num_threads=num_threads, verbose=verbose)
