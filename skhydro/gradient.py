"""Exact gradients of a discharge cost: ``skhydro.value_and_gradient``.

The cost ``J`` of the simulated gauge discharge is differentiated by the hand-written reverse-mode
kernels (``skhydro/_kernels``) with checkpointing: the forward run keeps the model states at the start of
every segment of ``checkpoint_interval`` steps, and the reverse sweep recomputes one segment at a time,
so memory grows like ``sqrt(n_steps)`` cell vectors instead of ``n_steps``. The result does not depend on
the interval (the recomputation repeats the same floating-point operations).
"""
from dataclasses import dataclass

import numpy as np

from .cost import DischargeCost
from .simulation import Problem

__all__ = ["value_and_gradient", "default_checkpoint_interval"]


def default_checkpoint_interval(n_steps):
    """Segment length ``ceil(sqrt(n_steps))``: checkpoints and tape then hold about as many steps each.

    Parameters
    ----------
    n_steps : int
        Length of the simulated series.

    Returns
    -------
    int

    Examples
    --------
    >>> from skhydro.gradient import default_checkpoint_interval
    >>> default_checkpoint_interval(1440)
    38
    """
    return max(1, int(np.ceil(np.sqrt(n_steps))))


@dataclass
class VectorGradient:
    """Gradient on the packed active-cell vectors of a :class:`~skhydro.simulation.Problem`."""

    value: float
    q_gauge: np.ndarray          # (ntime, ng) simulated gauge discharge
    hparams: np.ndarray          # (n, nac), like problem.hparams
    rparams: np.ndarray
    hstates: np.ndarray          # initial states
    rstates: np.ndarray
    net_params: np.ndarray       # the flux-correction network's parameters (empty for classical structures)


def problem_value_and_gradient(problem, cost, checkpoint_interval=None, q_cotangent=None):
    """Cost and gradient of a :class:`~skhydro.simulation.Problem` (internal entry point).

    Parameters
    ----------
    problem : Problem
    cost : callable
        ``cost(q_gauge) -> (value, dJ/dq_gauge)`` on the ``(ntime, ng)`` gauge discharge.
    checkpoint_interval : int, optional
        Steps per checkpoint segment; default :func:`default_checkpoint_interval`.

    Returns
    -------
    VectorGradient
    """
    nt, nac = problem.forcings.ntime, problem.mesh.n_active
    interval = default_checkpoint_interval(nt) if checkpoint_interval is None else int(checkpoint_interval)
    if interval < 1:
        raise ValueError(f"checkpoint_interval must be a positive number of steps, got {checkpoint_interval!r}")
    interval = min(interval, nt)
    kernel = problem.kernel()
    n_segments = -(-nt // interval)
    checkpoints = np.empty((n_segments, kernel.checkpoint_rows, nac))
    tape = np.empty((interval, kernel.tape_rows, nac))
    hstates, rstates = problem.hstates0.copy(), problem.rstates0.copy()
    q_gauge = np.empty((nt, problem.mesh.gauge_index.size))
    kernel.forward_checkpointed(hstates, rstates, np.zeros((2, nac)), interval, checkpoints, tape, q_gauge)

    value, q_gauge_b = cost(q_gauge)
    q_gauge_b = np.ascontiguousarray(q_gauge_b, dtype=np.float64)
    if q_gauge_b.shape != q_gauge.shape:
        raise ValueError(f"cost gradient has shape {q_gauge_b.shape}, expected {q_gauge.shape}")
    hparams_b, rparams_b = np.zeros_like(problem.hparams), np.zeros_like(problem.rparams)
    hstates_b, rstates_b = np.zeros_like(problem.hstates0), np.zeros_like(problem.rstates0)
    net_b = np.zeros_like(problem.net_params)
    kernel.reverse(interval, checkpoints, tape, True, q_gauge_b, hparams_b, rparams_b, hstates_b, rstates_b,
                   net_b if net_b.size else None)
    return VectorGradient(float(value), q_gauge, hparams_b, rparams_b, hstates_b, rstates_b, net_b)


def value_and_gradient(mesh, forcings, structure, parameters=None, states=None, observed=None, cost="nse", *,
                       gauges=None, weights="mean", warmup=None, checkpoint_interval=None, num_threads=1,
                       network=None):
    """Cost of the simulated discharge against observations, and its exact gradient.

    ``J = Σ_g w_g j_g`` over the selected gauges, ``j_g`` the cost component of metric ``cost`` (``1 - m``
    for the efficiencies nse, nnse and kge, the metric itself for the errors), see
    :class:`~skhydro.cost.DischargeCost`. The gradient is taken with respect to every parameter map and
    every initial state map of the structure, by reverse-mode kernels with checkpointing.

    Parameters
    ----------
    mesh : Mesh
        The basin grid and its gauges.
    forcings : Forcings
        Precipitation and PET on the mesh grid.
    structure : str
        Model structure, e.g. ``"zero-gr4-kw"``.
    parameters, states : dict, optional
        Scalars or ``(nrow, ncol)`` maps by name, as for :func:`skhydro.simulate`.
    observed : pandas.DataFrame
        Observed discharge (m³/s), rows = step end stamps (``forcings.index``), columns = gauge codes;
        NaN or negative values are missing.
    cost : str, default="nse"
        Metric name: nse, nnse, kge, mae, mape, mse, rmse or lgrm.
    gauges : str or list of str, optional
        Gauges entering the cost; default every column of ``observed``.
    weights : str, sequence or dict, default="mean"
        ``"mean"``/``"uniform"``, a quantile alias (``"median"``, ``"lquartile"``, ``"uquartile"``) or
        explicit non-negative weights.
    warmup : int or timestamp, optional
        Leading steps (or the end of the warm-up period) left out of the cost.
    checkpoint_interval : int, optional
        Steps per checkpoint segment (default ``ceil(sqrt(n_steps))``). Any value gives the same
        gradient; larger values use more memory and fewer, longer segments.
    num_threads : int, default=1
        OpenMP threads (``-1``: all CPUs). The result does not depend on it.
    network : skhydro.hybrid.FluxCorrectionNetwork, optional
        The flux-correction network of a hybrid structure (default all-zero weights).

    Returns
    -------
    value : float
        The cost ``J``.
    gradients : dict of ndarray
        ``{name: (nrow, ncol) map of dJ/d(name)}`` for every parameter and every initial state of the
        structure (zero outside the active cells). Hybrid structures add ``"network"``: the gradient with
        respect to the network's weights and biases, ``{"weight_1": ..., "bias_1": ..., ...}``.

    Examples
    --------
    >>> import skhydro
    >>> basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=500)
    >>> value, grad = skhydro.value_and_gradient(basin.mesh, basin.forcings, "zero-gr4-kw",
    ...                                          observed=basin.observed, cost="nse")
    >>> sorted(grad)
    ['akw', 'bkw', 'ci', 'cp', 'ct', 'hi', 'hp', 'ht', 'kexc']
    >>> grad["cp"].shape == basin.mesh.shape
    True
    """
    if observed is None:
        raise ValueError("observed discharge is required to evaluate a cost")
    problem = Problem(mesh, forcings, structure, parameters, states, num_threads, network)
    discharge_cost = DischargeCost(observed, forcings.index, mesh.gauge_codes, metric=cost, gauges=gauges,
                                   weights=weights, warmup=warmup)
    result = problem_value_and_gradient(problem, discharge_cost.value_and_gradient, checkpoint_interval)
    s = problem.structure
    vectors = np.concatenate([result.hparams, result.rparams, result.hstates, result.rstates])
    grids = mesh.to_grid(vectors)
    grids[:, ~mesh.active] = 0.0
    gradients = dict(zip(s.parameters + s.states, grids))
    if problem.network is not None:
        gradients["network"] = problem.network.with_vector(result.net_params).as_dict()
    return result.value, gradients
