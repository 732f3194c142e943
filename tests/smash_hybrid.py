"""hydro-smash 1.3.0 as the reference for the hybrid ``*_mlp`` structures (spec forward §6.4, inverse §9).

Test-support functions, no tests: build a smash ``gr4_mlp`` model, give it network weights, run it, read
its discharge and internal fluxes, and draw random networks that change Cance's discharge substantially.
Imported by test modules as ``from smash_hybrid import ...`` (pytest puts ``tests/`` on ``sys.path``); it
does not import skhydro.

Facts about the reference, verified on Cance (``zero-gr4_mlp-lr``, ``hidden_neuron`` 16):

* Weights: ``model.set_nn_parameters_weight([W1, W2])`` and ``model.set_nn_parameters_bias([b1, b2])``
  take a list with one entry per trainable layer; each entry is a float or an array broadcastable to that
  layer's shape, cast to float32. ``W_k`` has shape ``(n_out, n_in)``: ``W1`` (16, 4), ``W2`` (4, 16),
  ``b1`` (16,), ``b2`` (4,). The getters ``get_nn_parameters_weight()`` / ``get_nn_parameters_bias()``
  return lists of float32 arrays of those shapes. A new model has all weights and biases zero. Called
  without ``value`` the setters draw from an initialiser instead (weights default ``glorot_uniform``,
  biases ``zeros``).
* Network: ``f = tanh(W2 silu(W1 x + b1) + b2)`` with ``x = (hp, ht, pn, en)`` in that order, the raw
  values, not scaled: ``hp``, ``ht`` the filling ratios at the start of the step, ``pn``, ``en`` the rain
  and PET left after interception, mm per step. SiLU fits the outputs inferred from smash's internal fluxes
  to 3e-7; ReLU, sigmoid, tanh, softplus and leaky ReLU miss by 0.13 to 0.8, every other order of the
  inputs by 0.25 to 1.8. With two hidden layers (``hidden_neuron=[8, 6]``: ``W`` (8, 4), (6, 8), (4, 6)) both
  use SiLU (same check, 2e-7).
* Uses of the outputs (checked against the internal fluxes): ``ps = min(pn, (1 + f1) ps_gr4)``,
  ``es = min(en, (1 + f2) es_gr4)``, ``prd = (0.1 + 0.9 f3²)(pr + perc)``, ``lexc = (1 + f4) kexc ht^3.5``.
  Cance's default ``kexc`` is 0, so ``f4`` does nothing there unless ``kexc`` is set.
* With all weights and biases zero the ``gr4_mlp`` discharge is the ``gr4`` one, bit for bit. An output
  bias alone moves it as the physics says: ``b2 = (0.3, 0, 0, 0)`` (more rain into the production store)
  (flow volume x0.90-0.94 over the gauges) and ``b2 = (0, 0.3, 0, 0)`` (more evaporation; x0.97) lower the
  total flow; ``b2 = (0, 0, 0.5, 0)`` (a larger direct share) raises the peaks x2.3-2.8.
* :func:`random_network` with its default scale gives outputs of median magnitude 0.05 to 0.65 and changes
  Cance's discharge substantially: ``max_t |Q_mlp - Q_gr4| / max_t Q_gr4`` is 0.19, 0.62, 0.53 at the three
  gauges for ``default_rng(0)``, and 0.2 to 3 over seeds 0-4 (the split correction f3 alone can double a peak).
* Keep a reference to the model that ``smash.forward_run`` returns while reading ``response.q``:
  ``np.array(smash.forward_run(m).response.q)`` on the temporary can read freed Fortran memory (segfault).
"""
import contextlib
import os

import numpy as np

SMASH_OPTIONS = {"verbose": False, "ncpu": 1}

# typical magnitude of each network input on hourly data, used by random_network to draw weights that
# give every input a comparable share of the hidden pre-activation: hp, ht in [0, 1]; pn up to ~50 mm per
# hour in Cance's storms (mostly 0); en up to ~0.26 mm per hour
INPUT_SCALE = (1.0, 1.0, 10.0, 0.25)


@contextlib.contextmanager
def quiet():
    """Silence smash's progress bars and messages (stdout and stderr)."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
            contextlib.redirect_stderr(devnull):
        yield


def smash_model(dataset="Cance", hydrological_module="gr4", routing="lr", **setup_options):
    """A built hydro-smash model of one of its bundled datasets.

    Parameters
    ----------
    dataset : str, default "Cance"
        Name given to ``smash.factory.load_dataset``.
    hydrological_module : str, default "gr4"
        smash's ``hydrological_module`` (e.g. ``"gr4"`` or ``"gr4_mlp"``).
    routing : str, default "lr"
        smash's ``routing_module``.
    **setup_options
        Further setup entries (e.g. ``hidden_neuron=16``, ``read_qobs=False``).

    Returns
    -------
    smash.Model
        The model, built (forcings read), not run. Its network weights are zero.

    Examples
    --------
    >>> model = smash_model("Cance", "gr4", "lr")  # doctest: +SKIP
    """
    import smash

    with quiet():
        setup, mesh = smash.factory.load_dataset(dataset)
        setup["hydrological_module"] = hydrological_module
        setup["routing_module"] = routing
        setup["read_descriptor"] = False
        setup.update(setup_options)
        return smash.Model(setup, mesh)


def smash_gr4_mlp_model(dataset="Cance", routing="lr", hidden_neuron=16):
    """A built hydro-smash model of structure ``zero-gr4_mlp-<routing>`` (network weights zero).

    Parameters
    ----------
    dataset : str, default "Cance"
        Name given to ``smash.factory.load_dataset``.
    routing : str, default "lr"
        smash's ``routing_module``.
    hidden_neuron : int or list of int, default 16
        Size of the hidden layer (a list of two sizes gives two hidden layers).

    Returns
    -------
    smash.Model
        The model, built, not run; observed discharge read.

    Examples
    --------
    >>> model = smash_gr4_mlp_model()  # doctest: +SKIP
    >>> [w.shape for w in model.get_nn_parameters_weight()]  # doctest: +SKIP
    [(16, 4), (4, 16)]
    """
    return smash_model(dataset, "gr4_mlp", routing, hidden_neuron=hidden_neuron)


def _with_network(model, weights, biases, parameters):
    """A copy of ``model`` with the given network and rr parameters (``model`` is left untouched)."""
    model = model.copy()
    if weights is not None:
        model.set_nn_parameters_weight([np.asarray(w, dtype=np.float32) for w in weights])
    if biases is not None:
        model.set_nn_parameters_bias([np.asarray(b, dtype=np.float32) for b in biases])
    for name, value in (parameters or {}).items():
        model.set_rr_parameters(name, np.asarray(value, dtype=np.float32))
    return model


def smash_gr4_mlp_discharge(model, weights, biases, parameters=None):
    """Discharge simulated by a smash hybrid model with the given network weights.

    Parameters
    ----------
    model : smash.Model
        A built ``*_mlp`` model, e.g. from :func:`smash_gr4_mlp_model`. It is not modified (a copy is run).
    weights : list of ndarray or None
        One weight matrix per trainable layer, shapes ``(n_out, n_in)`` (``gr4_mlp``, 16 hidden neurons:
        ``(16, 4)``, ``(4, 16)``); cast to float32. None keeps the model's weights.
    biases : list of ndarray or None
        One bias vector per trainable layer (``(16,)``, ``(4,)``); None keeps the model's biases.
    parameters : dict of str to float or ndarray, optional
        rr parameters to set first (scalars or ``(nrow, ncol)`` maps), e.g. ``{"kexc": -1.0}``.

    Returns
    -------
    ndarray of shape (ntime, n_gauges), float64
        Discharge at every gauge, m³/s, in smash's gauge order.

    Examples
    --------
    >>> model = smash_gr4_mlp_model()  # doctest: +SKIP
    >>> w, b = random_network(np.random.default_rng(0))  # doctest: +SKIP
    >>> smash_gr4_mlp_discharge(model, w, b).shape  # doctest: +SKIP
    (1440, 3)
    """
    import smash

    model = _with_network(model, weights, biases, parameters)
    with quiet():
        run = smash.forward_run(model, common_options=SMASH_OPTIONS)
    return np.array(run.response.q, dtype=np.float64).T


def smash_gr4_mlp_fluxes(model, weights, biases, parameters=None):
    """Network inputs and internal fluxes of a smash ``gr4_mlp`` run, per cell and step.

    Parameters
    ----------
    model : smash.Model
        A built ``gr4_mlp`` model; not modified.
    weights, biases : list of ndarray or None
        As in :func:`smash_gr4_mlp_discharge`.
    parameters : dict, optional
        rr parameters to set first.

    Returns
    -------
    dict of str to ndarray
        float64 arrays of shape ``(ntime, nrow, ncol)``: smash's internal fluxes (``pn``, ``en``, ``pr``,
        ``perc``, ``ps``, ``es``, ``lexc``, ``prr``, ``prd``, ``qr``, ``qd``, ``qt``, ``qup``) and the states
        at the *start* of each step under ``hp0``, ``ht0`` (the network's first two inputs); inactive cells
        hold undefined values. ``"x"`` stacks the network inputs ``(hp0, ht0, pn, en)`` on a last axis.

    Examples
    --------
    >>> out = smash_gr4_mlp_fluxes(smash_gr4_mlp_model(), None, None)  # doctest: +SKIP
    >>> out["x"].shape  # doctest: +SKIP
    (1440, 28, 28, 4)
    """
    import smash

    model = _with_network(model, weights, biases, parameters)
    with quiet():
        _, ret = smash.forward_run(model, common_options=SMASH_OPTIONS,
                                   return_options={"internal_fluxes": True, "rr_states": True,
                                                   "time_step": "all"})
    with np.errstate(invalid="ignore"):  # inactive cells hold uninitialised values (possibly signalling NaNs)
        out = {k: np.moveaxis(np.asarray(v, dtype=np.float64), -1, 0) for k, v in ret.internal_fluxes.items()}
    keys = [str(k) for k in ret.rr_states[0].keys]
    end = np.stack([np.asarray(s.values, dtype=np.float64) for s in ret.rr_states])  # state after step t
    init = np.stack([np.asarray(model.get_rr_initial_states(k), dtype=np.float64) for k in keys], axis=-1)
    start = np.concatenate([init[None], end[:-1]])
    out["hp0"] = start[..., keys.index("hp")]
    out["ht0"] = start[..., keys.index("ht")]
    out["x"] = np.stack([out["hp0"], out["ht0"], out["pn"], out["en"]], axis=-1)
    return out


def network_outputs(x, weights, biases):
    """Outputs of the process-parameterisation network, in float64 (spec forward §6.4).

    ``h = silu(W h_prev + b)`` on every hidden layer, ``f = tanh(W h + b)`` on the last one.

    Parameters
    ----------
    x : array_like of shape (..., n_in)
        Raw inputs (``gr4_mlp``: ``hp, ht, pn, en``).
    weights : list of array_like
        Weight matrices, shapes ``(n_out, n_in)`` per layer.
    biases : list of array_like
        Bias vectors per layer.

    Returns
    -------
    ndarray of shape (..., n_out)
        Network outputs in ]-1, 1[.

    Examples
    --------
    >>> w = [np.zeros((16, 4)), np.zeros((4, 16))]
    >>> b = [np.zeros(16), np.array([0.5, 0.0, 0.0, 0.0])]
    >>> network_outputs(np.ones(4), w, b).round(4)
    array([0.4621, 0.    , 0.    , 0.    ])
    """
    h = np.asarray(x, dtype=np.float64)
    n = len(weights)
    for k, (w, b) in enumerate(zip(weights, biases)):
        z = h @ np.asarray(w, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        h = np.tanh(z) if k == n - 1 else z / (1.0 + np.exp(-z))
    return h


def random_network(rng, hidden=16, scale=1.0, n_in=4, n_out=4, input_scale=INPUT_SCALE):
    """Random weights and biases giving clearly nonzero corrections on hourly data such as Cance.

    Hidden weights are ``N(0, scale²)`` divided by each input's typical magnitude (``input_scale``), so that
    ``hp``, ``ht`` (in [0, 1]), ``pn`` (mm, up to tens) and ``en`` (mm, tenths) each move the hidden units
    by O(scale); hidden biases ``N(0, scale²)``; output weights ``N(0, (0.5 scale)² / n_hidden)``, output
    biases ``N(0, (0.2 scale)²)``. With ``scale=1`` most outputs lie within ±0.5 (tanh not saturated), and
    Cance's discharge moves from ``gr4``'s by 0.2 to 3 times its peak, depending on the draw.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    hidden : int or list of int, default 16
        Hidden layer size(s).
    scale : float, default 1.0
        Overall magnitude of the weights.
    n_in, n_out : int, default 4
        Network inputs and outputs (``gr4_mlp``: 4 and 4).
    input_scale : sequence of float, default INPUT_SCALE
        Typical magnitude of each input, length ``n_in``.

    Returns
    -------
    weights : list of ndarray
        float64 matrices of shapes ``(n_out_k, n_in_k)``, exactly float32-representable (the reference
        stores float32).
    biases : list of ndarray
        float64 vectors, float32-representable.

    Examples
    --------
    >>> w, b = random_network(np.random.default_rng(0))
    >>> [a.shape for a in w], [a.shape for a in b]
    ([(16, 4), (4, 16)], [(16,), (4,)])
    """
    sizes = [n_in] + ([hidden] if np.isscalar(hidden) else list(hidden)) + [n_out]
    weights, biases = [], []
    for k in range(len(sizes) - 1):
        n_i, n_o = sizes[k], sizes[k + 1]
        if k == 0:
            w = rng.normal(0.0, scale, (n_o, n_i)) / np.asarray(input_scale, dtype=np.float64)
            b = rng.normal(0.0, scale, n_o)
        elif k < len(sizes) - 2:
            w = rng.normal(0.0, scale / np.sqrt(n_i), (n_o, n_i))
            b = rng.normal(0.0, scale, n_o)
        else:
            w = rng.normal(0.0, 0.5 * scale / np.sqrt(n_i), (n_o, n_i))
            b = rng.normal(0.0, 0.2 * scale, n_o)
        weights.append(w.astype(np.float32).astype(np.float64))
        biases.append(b.astype(np.float32).astype(np.float64))
    return weights, biases
