"""Calibration of a distributed GR model as a scikit-learn estimator."""
import numbers

import numpy as np
from scipy.optimize import OptimizeResult
from sklearn.base import BaseEstimator

from ..cost import UnitCost
from ..gradient import problem_value_and_gradient
from ..mappings import DistributedMapping, UniformMapping
from ..optimizers import minimize
from ..simulation import Problem
from ..structures import get_structure
from ..units import check_units
from ._base import BasinEstimatorMixin, check_num_threads, check_X, parse_scoring

__all__ = ["DistributedModel", "DistributedGR4"]

_MAPPINGS = {"uniform": UniformMapping, "distributed": DistributedMapping}
_OPTIMIZERS = {
    "uniform": ("sbs", "lbfgsb", "adam", "sgd", "adagrad", "rmsprop"),
    "distributed": ("lbfgsb", "adam", "sgd", "adagrad", "rmsprop"),
}
# Problem attribute holding a value -> VectorGradient attribute holding its gradient
_GRADIENT_OF = {"hparams": "hparams", "rparams": "rparams", "hstates0": "hstates", "rstates0": "rstates",
                "net_params": "net_params"}
_DEFAULT_MAX_ITER = {"sbs": 50, "lbfgsb": 100, "adam": 200, "sgd": 200, "adagrad": 200, "rmsprop": 200}


class DistributedModel(BasinEstimatorMixin, BaseEstimator):
    """A distributed model of any structure, calibrated on observed discharge.

    ``fit`` calibrates the parameter maps (and optionally the initial states) so that the mean cost of
    the observation units of ``X`` is minimal: the model runs over the whole basin and window, the
    units choose which gauges and periods enter the cost. Gradient-based optimisers use the exact
    adjoint gradient (:func:`skhydro.value_and_gradient`'s kernels).

    Parameters
    ----------
    structure : str, default="zero-gr4-kw"
        Model structure (``"zero-{gr4,gr5,gr6,grc,grd}-{zero,lag0,lr,kw}"``, see :mod:`skhydro.structures`).
    mapping : {"uniform", "distributed"}, default="uniform"
        One value per parameter for the whole basin, or one per cell.
    optimizer : str, optional
        ``"sbs"`` (uniform only, gradient-free), ``"lbfgsb"``, ``"adam"``, ``"sgd"``, ``"adagrad"``,
        ``"rmsprop"``. Default: ``"sbs"`` for ``uniform``, ``"lbfgsb"`` for ``distributed``.
    max_iter : int, optional
        Iteration budget; default 50 (sbs), 100 (lbfgsb), 200 (adaptive). 0 keeps the first guess.
    cost : str, default="nse"
        Metric of the cost (``1 - m`` for nse, nnse, kge; the metric for mae, mape, mse, rmse, lgrm).
    parameters : list of str, optional
        Parameters to calibrate; default every parameter of the structure except ``ci``.
    calibrate_states : bool or list of str, default=False
        Also calibrate these initial states (``True``: all of them).
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds.
    init_parameters, init_states : dict, optional
        Starting (and, for names not calibrated, fixed) values: scalars or maps. Defaults from the
        registry; ``ci`` is adjusted to the forcings when not given.
    learning_rate : float, optional
        For the adaptive optimisers (defaults of the reference).
    scoring : str, default="nse"
        Metric of :meth:`score`: ``"nse"``, ``"nnse"``, ``"kge"`` or a negated error such as ``"neg_rmse"``.
    num_threads : int, default=1
        OpenMP threads (``-1``: all CPUs).
    verbose : bool, default=False
        Show a progress bar (tqdm) during ``fit``.

    Attributes
    ----------
    parameters_ : dict of ndarray
        Calibrated parameter maps ``(nrow, ncol)`` (every parameter of the structure).
    initial_states_ : dict of ndarray
        Initial state maps used (calibrated ones included).
    final_states_ : dict of ndarray
        State maps at the end of the window, simulated with the calibrated maps.
    cost_ : float
        Final cost.
    n_iter_ : int
        Iterations run.
    history_ : list of float
        Cost per iteration.
    mesh_shape_ : tuple
        Grid shape of the basin the estimator was fitted on.
    structure_ : str

    Examples
    --------
    >>> import skhydro
    >>> from skhydro.estimators import DistributedGR4
    >>> wet = {"hp": 0.5, "ht": 0.3}
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=300, initial_states=wet)
    >>> X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, warmup=48)
    >>> model = DistributedGR4(optimizer="lbfgsb", max_iter=5, init_states=wet).fit(X, y)
    >>> sorted(model.parameters_)
    ['akw', 'bkw', 'ci', 'cp', 'ct', 'kexc']
    >>> bool(model.cost_ < model.history_[0])
    True
    """

    def __init__(self, structure="zero-gr4-kw", mapping="uniform", optimizer=None, max_iter=None, cost="nse",
                 parameters=None, calibrate_states=False, bounds=None, init_parameters=None, init_states=None,
                 learning_rate=None, scoring="nse", num_threads=1, verbose=False):
        self.structure = structure
        self.mapping = mapping
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.cost = cost
        self.parameters = parameters
        self.calibrate_states = calibrate_states
        self.bounds = bounds
        self.init_parameters = init_parameters
        self.init_states = init_states
        self.learning_rate = learning_rate
        self.scoring = scoring
        self.num_threads = num_threads
        self.verbose = verbose

    # ------------------------------------------------------------------------------ validation
    def _calibrated_names(self, structure):
        s = get_structure(structure)
        if self.parameters is None:
            params = [p for p in s.parameters if p != "ci"]
        else:
            params = [self.parameters] if isinstance(self.parameters, str) else list(self.parameters)
            unknown = [p for p in params if p not in s.parameters]
            if unknown:
                raise ValueError(f"parameters {unknown} are not parameters of {s.name}: {list(s.parameters)}")
        if self.calibrate_states is True:
            states = list(s.states)
        elif self.calibrate_states is False or self.calibrate_states is None:
            states = []
        else:
            states = [self.calibrate_states] if isinstance(self.calibrate_states, str) else list(self.calibrate_states)
            unknown = [p for p in states if p not in s.states]
            if unknown:
                raise ValueError(f"calibrate_states {unknown} are not states of {s.name}: {list(s.states)}")
        names = params + states
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"nothing or duplicates to calibrate: {names}")
        return names

    # the mappings this estimator offers and, first the default, the optimisers each allows
    _optimizers = _OPTIMIZERS
    # whether the estimator trains a hybrid structure's flux-correction network
    _hybrid = False

    def _check_params(self):
        s = get_structure(self.structure)
        if s.is_hybrid != self._hybrid:
            raise ValueError(f"structure {s.name!r} is hybrid: use HybridFluxCorrector" if s.is_hybrid else
                             f"{type(self).__name__} needs a hybrid structure such as 'zero-gr4_mlp-lr', "
                             f"got {s.name!r}")
        if self.mapping not in self._optimizers:
            raise ValueError(f"mapping must be one of {sorted(self._optimizers)}, got {self.mapping!r}")
        optimizer = self._optimizers[self.mapping][0] if self.optimizer is None else self.optimizer
        if optimizer not in self._optimizers[self.mapping]:
            raise ValueError(f"optimizer {optimizer!r} is not available with mapping {self.mapping!r}; "
                             f"use one of {list(self._optimizers[self.mapping])}")
        max_iter = _DEFAULT_MAX_ITER[optimizer] if self.max_iter is None else self.max_iter
        if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if self.learning_rate is not None and not (isinstance(self.learning_rate, numbers.Real)
                                                   and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        parse_scoring(self.scoring)
        check_num_threads(self.num_threads)
        return optimizer, int(max_iter)

    # ------------------------------------------------------------------------------------- fit
    def _setup(self, X, y):
        check_X(X)
        check_units(X, y)
        optimizer, max_iter = self._check_params()
        names = self._calibrated_names(self.structure)
        problem = Problem(X.mesh, X.forcings, self.structure, self.init_parameters, self.init_states,
                          self.num_threads, self._initial_network(get_structure(self.structure)))
        if problem.network is not None:  # the network's parameters are trained with the mapping's
            names = names + ["network"]
        mapping = self._make_mapping(X, names, optimizer)
        cost = UnitCost(X, y, self.cost)
        return problem, mapping, cost, optimizer, max_iter, names

    def _initial_network(self, structure):
        """The flux-correction network training starts from (hybrid estimators)."""
        return None

    def _make_mapping(self, X, names, optimizer):
        return _MAPPINGS[self.mapping](names, bounds=self.bounds,
                                       transform="sbs" if optimizer == "sbs" else "normalize")

    @staticmethod
    def _locations(problem):
        """Where each name's values live: ``{name: (block, row)}``, block one of hparams, rparams,
        hstates0, rstates0 (the attributes of Problem and, without the 0, of the gradient result)."""
        s = problem.structure
        n_hp, n_hs = problem.hparams.shape[0], problem.hstates0.shape[0]
        where = {}
        for i, name in enumerate(s.parameters):
            where[name] = ("hparams", i) if i < n_hp else ("rparams", i - n_hp)
        for i, name in enumerate(s.states):
            where[name] = ("hstates0", i) if i < n_hs else ("rstates0", i - n_hs)
        if problem.network is not None:
            where["network"] = ("net_params", slice(None))
        return where

    def fit(self, X, y):
        """Calibrate on the observation units of ``X``.

        Parameters
        ----------
        X : ObservationUnits
        y : UnitDischarge

        Returns
        -------
        self
        """
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)  # a refit (with other hyper-parameters) keeps nothing of the last fit
        problem, mapping, cost, optimizer, max_iter, names = self._setup(X, y)
        where = self._locations(problem)
        nac = X.mesh.n_active

        def set_values(x):
            for name, values in mapping.to_values(x, nac).items():
                block, i = where[name]
                getattr(problem, block)[i] = values

        def value(x):
            set_values(x)
            return cost.value(problem.run()[0])

        def value_and_gradient(x, unit_cost=cost):
            set_values(x)
            r = problem_value_and_gradient(problem, unit_cost.value_and_gradient)
            grads = {name: getattr(r, _GRADIENT_OF[where[name][0]])[where[name][1]] for name in names}
            return r.value, mapping.pullback(x, grads)

        x0 = mapping.initial_control({name: getattr(problem, where[name][0])[where[name][1]].copy()
                                      for name in names})
        bar = self._progress(max_iter)
        try:
            if max_iter == 0:  # no iteration: the first guess, as given
                result = OptimizeResult(x=np.array(x0, dtype=np.float64), nit=0, history=[])
            else:
                result = self._optimize(X, y, optimizer, max_iter, value, value_and_gradient, set_values, x0,
                                        mapping.control_bounds(), (lambda: bar.update(1)) if bar else None,
                                        problem)
        finally:
            if bar:
                bar.close()
        set_values(result.x)
        q, _, _, hstates, rstates, _ = problem.run()
        s = problem.structure
        grid = X.mesh.to_grid
        self.structure_ = s.name
        self.mesh_shape_ = X.mesh.shape
        self.parameters_ = dict(zip(s.parameters, grid(np.concatenate([problem.hparams, problem.rparams]))))
        self.initial_states_ = dict(zip(s.states, grid(np.concatenate([problem.hstates0, problem.rstates0]))))
        self.final_states_ = dict(zip(s.states, grid(np.concatenate([hstates, rstates]))))
        self.cost_ = cost.value(q)
        self.n_iter_ = int(result.nit)
        self.history_ = list(getattr(result, "history", []))
        self._fitted_mapping(mapping, result.x, names)
        return self

    def _optimize(self, X, y, optimizer, max_iter, value, value_and_gradient, set_values, x0, bounds, tick,
                  problem):
        """Run the optimiser on the cost of every unit (a subclass may train otherwise)."""
        return minimize(optimizer, value if optimizer == "sbs" else value_and_gradient, x0, bounds,
                        self._optimizer_options(max_iter), callback=(lambda r: tick()) if tick else None)

    def _optimizer_options(self, max_iter):
        options = dict(maxiter=max_iter)
        if self.learning_rate is not None:
            options["learning_rate"] = self.learning_rate
        return options

    def _fitted_mapping(self, mapping, x, names):
        """Hook for subclasses that keep what the mapping learnt."""

    def _progress(self, total):
        if not self.verbose:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"{type(self).__name__} ({self.mapping})", unit="it")


class DistributedGR4(DistributedModel):
    """:class:`DistributedModel` with the GR4 structure ``"zero-gr4-kw"`` by default.

    Every parameter, attribute and method is the one of :class:`DistributedModel`.

    Examples
    --------
    >>> from skhydro.estimators import DistributedGR4
    >>> DistributedGR4().structure
    'zero-gr4-kw'
    """
