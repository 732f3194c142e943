"""Regionalisation mappings: descriptors -> parameter (and initial-state) values on every active cell.

``../shared/spec/inverse.md`` §3.4-§3.6. With ``S_k(z) = l_k + (u_k - l_k) σ(z)`` the bounded output of name
k and ``D`` the ``(n_active, n_descriptors)`` matrix of transformed descriptors (:class:`Descriptors`):

* :class:`MultiLinearMapping`: ``θ_k = S_k(a_k0 + Σ_d a_kd D_d)``;
* :class:`MultiPowerMapping`: ``θ_k = S_k(a_k0 + Σ_d a_kd D_d^b_kd)`` (descriptors must be >= 0, e.g.
  normalised);
* :class:`ANNMapping`: a multilayer perceptron ``D -> θ`` whose tanh output is scaled to the bounds.

They share the interface of the uniform and distributed mappings (``initial_control``, ``control_bounds``,
``to_values``, ``pullback``): ``pullback`` chains the model's gradient with respect to the values,
``dJ/dθ``, into ``dJ/dx = (dθ/dx)ᵀ dJ/dθ``, vectorised over the cells (BLAS through numpy).
"""
import math

import numpy as np
from sklearn.utils import check_random_state

from ._mappings import _check_bounds, _check_names

__all__ = ["MultiLinearMapping", "MultiPowerMapping", "ANNMapping", "ACTIVATIONS", "INITIALIZERS"]

# the inverse sigmoid stays this far (relative to the range) inside the bounds: a first guess on a bound
# would otherwise be infinite
_EDGE = 1e-6


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def _check_descriptors(descriptors):
    d = np.asarray(descriptors, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] == 0 or d.shape[1] == 0:
        raise ValueError(f"descriptors must be a (n_active, n_descriptors) matrix, got shape {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("descriptors are not all finite")
    return d


class _RegionalMapping:
    """What the regional mappings share: names, bounds, the descriptor matrix and control checks."""

    def __init__(self, names, descriptors, bounds=None):
        self.names = _check_names(names)
        self.bounds = _check_bounds(self.names, bounds)
        self.descriptors = _check_descriptors(descriptors)
        self.n_active_ = self.descriptors.shape[0]
        self._low = np.array([self.bounds[n][0] for n in self.names])
        self._span = np.array([self.bounds[n][1] - self.bounds[n][0] for n in self.names])

    @property
    def n_descriptors(self):
        return self.descriptors.shape[1]

    def _check_n_active(self, n_active):
        if n_active is not None and n_active != self.n_active_:
            raise ValueError(f"this mapping's descriptors cover {self.n_active_} active cells, not {n_active}")

    def _check_x(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.size(),):
            raise ValueError(f"control vector must have shape ({self.size()},), got {x.shape}")
        return x

    def _gradient_matrix(self, gradients):
        """``(n_active, n_names)`` matrix of dJ/dθ."""
        missing = [n for n in self.names if n not in gradients]
        if missing:
            raise ValueError(f"gradients has no entry for {missing}")
        cols = []
        for n in self.names:
            g = np.asarray(gradients[n], dtype=np.float64)
            if g.shape != (self.n_active_,):
                raise ValueError(f"gradient of {n!r} must have shape ({self.n_active_},), got {g.shape}")
            cols.append(g)
        return np.column_stack(cols)

    def _mean_values(self, values):
        """Mean over the cells of each name's current values, clipped inside the bounds."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ValueError(f"values has no entry for {missing}")
        means = np.array([np.mean(np.asarray(values[n], dtype=np.float64)) for n in self.names])
        if not np.isfinite(means).all():
            raise ValueError("values are not all finite")
        return np.clip(means, self._low + _EDGE * self._span, self._low + (1.0 - _EDGE) * self._span)

    def to_values(self, x, n_active=None):
        """Values of the mapped names, ``{name: (n_active,) vector}``, for the control ``x``."""
        self._check_n_active(n_active)
        theta = self._forward(self._check_x(x))[0]
        return {n: theta[:, i].copy() for i, n in enumerate(self.names)}

    def pullback(self, x, gradients, n_active=None):
        """``dJ/dx`` from ``{name: (n_active,) dJ/dθ}``, through the mapping's chain rule."""
        self._check_n_active(n_active)
        return self._backward(self._check_x(x), self._gradient_matrix(gradients))

    def __repr__(self):
        return f"{type(self).__name__}(names={list(self.names)}, n_descriptors={self.n_descriptors})"


class MultiLinearMapping(_RegionalMapping):
    """``θ_k(c) = S_k(a_k0 + Σ_d a_kd D_d(c))``, a sigmoid of a linear function of the descriptors.

    Parameters
    ----------
    names : str or sequence of str
        Parameter and/or initial-state names, in control order.
    descriptors : ndarray, (n_active, n_descriptors)
        Transformed descriptors of the active cells (:meth:`Descriptors.matrix`).
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds: the outputs stay strictly inside them.

    Notes
    -----
    The control holds one block ``[a_k0, a_k1, ..., a_knd]`` per name, all unbounded. The first guess
    is ``a_k0 = S_k^{-1}(mean of the current values)``, ``a_kd = 0``: the spatially uniform mean.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[-1.0], [0.0], [1.0]])
    >>> m = MultiLinearMapping(["cp"], d, bounds={"cp": (100.0, 1000.0)})
    >>> x0 = m.initial_control({"cp": np.full(3, 325.0)})
    >>> x0.round(6)  # ln((325 - 100) / (1000 - 325)), 0
    array([-1.098612,  0.      ])
    >>> m.to_values(np.array([0.0, 1.0]))["cp"].round(2)
    array([342.05, 550.  , 757.95])
    """

    def size(self, n_active=None):
        """Length of the control vector."""
        self._check_n_active(n_active)
        return len(self.names) * (1 + self.n_descriptors)

    def control_bounds(self, n_active=None):
        """``(lower, upper)``: unbounded (the sigmoid keeps the values inside their bounds)."""
        n = self.size(n_active)
        return np.full(n, -np.inf), np.full(n, np.inf)

    def initial_control(self, values):
        """First guess: the uniform mean of ``values`` (``{name: vector}``)."""
        y = self._mean_values(values)
        x = np.zeros((len(self.names), 1 + self.n_descriptors))
        x[:, 0] = np.log((y - self._low) / (self._low + self._span - y))
        return x.ravel()

    def _forward(self, x):
        a = x.reshape(len(self.names), 1 + self.n_descriptors)
        s = _sigmoid(a[:, 0] + self.descriptors @ a[:, 1:].T)
        return self._low + self._span * s, s

    def _backward(self, x, g):
        _, s = self._forward(x)
        gz = g * self._span * s * (1.0 - s)  # (n_active, n_names)
        return np.column_stack([gz.sum(axis=0), gz.T @ self.descriptors]).ravel()


class MultiPowerMapping(_RegionalMapping):
    """``θ_k(c) = S_k(a_k0 + Σ_d a_kd D_d(c)^b_kd)``: a sigmoid of a sum of powers of the descriptors.

    Parameters
    ----------
    names : str or sequence of str
        Parameter and/or initial-state names, in control order.
    descriptors : ndarray, (n_active, n_descriptors)
        Transformed descriptors of the active cells, all >= 0 (use the ``"normalize"`` transform).
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds.
    exponent_bounds : tuple, default=(0.5, 2.0)
        Bounds of every exponent ``b_kd``.

    Notes
    -----
    The control holds one block ``[a_k0, a_k1, b_k1, ..., a_knd, b_knd]`` per name; the ``a`` are
    unbounded, the ``b`` bounded. First guess: ``a_k0 = S_k^{-1}(mean)``, ``a_kd = 0``, ``b_kd = 1``.
    ``d(D^b)/db = D^b ln D`` where ``D > 0`` and 0 where ``D = 0``.

    Raises
    ------
    ValueError
        A negative descriptor (a real power of a negative number is undefined) or bad exponent bounds.

    Examples
    --------
    >>> import numpy as np
    >>> m = MultiPowerMapping(["ct"], np.array([[0.0], [0.25], [1.0]]), bounds={"ct": (10.0, 110.0)})
    >>> x = np.array([0.0, 2.0, 0.5])  # a0, a1, b1
    >>> m.to_values(x)["ct"].round(2)
    array([60.  , 83.11, 98.08])
    """

    def __init__(self, names, descriptors, bounds=None, exponent_bounds=(0.5, 2.0)):
        super().__init__(names, descriptors, bounds)
        if (self.descriptors < 0).any():
            raise ValueError("multi-power needs non-negative descriptors (a real power of a negative number is "
                             "undefined): transform them with 'normalize'")
        low, high = (float(b) for b in exponent_bounds)
        if not (0 < low < high and np.isfinite(high)):
            raise ValueError(f"exponent_bounds must satisfy 0 < low < high < inf, got {exponent_bounds!r}")
        self.exponent_bounds = (low, high)
        with np.errstate(divide="ignore"):
            self._log_d = np.where(self.descriptors > 0, np.log(self.descriptors), 0.0)

    def size(self, n_active=None):
        """Length of the control vector."""
        self._check_n_active(n_active)
        return len(self.names) * (1 + 2 * self.n_descriptors)

    def control_bounds(self, n_active=None):
        """``(lower, upper)``: the ``a`` unbounded, the exponents within ``exponent_bounds``."""
        lower = np.full((len(self.names), 1 + 2 * self.n_descriptors), -np.inf)
        upper = np.full_like(lower, np.inf)
        lower[:, 2::2], upper[:, 2::2] = self.exponent_bounds
        self._check_n_active(n_active)
        return lower.ravel(), upper.ravel()

    def initial_control(self, values):
        """First guess: the uniform mean of ``values``, unit exponents."""
        y = self._mean_values(values)
        x = np.zeros((len(self.names), 1 + 2 * self.n_descriptors))
        x[:, 0] = np.log((y - self._low) / (self._low + self._span - y))
        x[:, 2::2] = 1.0
        return x.ravel()

    def _powers(self, x):
        blocks = x.reshape(len(self.names), 1 + 2 * self.n_descriptors)
        a0, a, b = blocks[:, 0], blocks[:, 1::2], blocks[:, 2::2]
        # D^b for every (cell, name, descriptor); 0^b = 0 for b > 0
        p = np.exp(b[None, :, :] * self._log_d[:, None, :]) * (self.descriptors[:, None, :] > 0)
        return a0, a, p

    def _forward(self, x):
        a0, a, p = self._powers(x)
        s = _sigmoid(a0 + np.einsum("cnd,nd->cn", p, a))
        return self._low + self._span * s, s

    def _backward(self, x, g):
        a0, a, p = self._powers(x)
        s = _sigmoid(a0 + np.einsum("cnd,nd->cn", p, a))
        gz = g * self._span * s * (1.0 - s)
        grad_a = np.einsum("cn,cnd->nd", gz, p)
        grad_b = np.einsum("cn,cnd,cd->nd", gz, p, self._log_d) * a
        out = np.empty((len(self.names), 1 + 2 * self.n_descriptors))
        out[:, 0], out[:, 1::2], out[:, 2::2] = gz.sum(axis=0), grad_a, grad_b
        return out.ravel()


# ------------------------------------------------------------------------------------------------ ANN
def _relu(z):
    return np.maximum(z, 0.0), (z >= 0.0).astype(np.float64)


def _leaky_relu(z):
    return np.where(z >= 0.0, z, 0.01 * z), np.where(z >= 0.0, 1.0, 0.01)


def _tanh(z):
    t = np.tanh(z)
    return t, 1.0 - t * t


def _sigmoid_act(z):
    s = _sigmoid(z)
    return s, s * (1.0 - s)


def _silu(z):
    s = _sigmoid(z)
    return z * s, s * (1.0 + z * (1.0 - s))


def _softplus(z):
    return np.logaddexp(0.0, z), _sigmoid(z)


def _elu(z):
    neg = 0.1 * np.expm1(np.minimum(z, 0.0))  # alpha = 0.1 as the reference
    return np.where(z >= 0.0, z, neg), np.where(z >= 0.0, 1.0, neg + 0.1)


def _identity(z):
    return z, np.ones_like(z)


#: Hidden-layer activations: name -> function returning (value, derivative).
ACTIVATIONS = {"relu": _relu, "leaky_relu": _leaky_relu, "tanh": _tanh, "sigmoid": _sigmoid_act, "silu": _silu,
               "softplus": _softplus, "elu": _elu, "identity": _identity}


def _init_uniform(scale):
    return lambda rng, n_out, n_in: rng.uniform(-scale(n_in, n_out), scale(n_in, n_out), (n_out, n_in))


def _init_normal(scale):
    return lambda rng, n_out, n_in: rng.normal(0.0, scale(n_in, n_out), (n_out, n_in))


#: Weight initialisers of the reference (spec §3.6): name -> f(rng, n_out, n_in).
INITIALIZERS = {
    "zeros": lambda rng, n_out, n_in: np.zeros((n_out, n_in)),
    "uniform": _init_uniform(lambda i, o: 1.0 / math.sqrt(i)),
    "glorot_uniform": _init_uniform(lambda i, o: math.sqrt(6.0 / (i + o))),
    "he_uniform": _init_uniform(lambda i, o: math.sqrt(6.0 / i)),
    "normal": _init_normal(lambda i, o: 0.01),
    "glorot_normal": _init_normal(lambda i, o: math.sqrt(2.0 / (i + o))),
    "he_normal": _init_normal(lambda i, o: math.sqrt(2.0 / i)),
}


class ANNMapping(_RegionalMapping):
    """A multilayer perceptron from the descriptors to bounded parameter values (spec §3.6).

    ``h_1 = f(D W_1ᵀ + b_1)``, ..., ``y = tanh(h_L W_oᵀ + b_o)``, ``θ_k = l_k + (y_k + 1)/2 (u_k - l_k)``,
    evaluated on all active cells at once.

    Parameters
    ----------
    names : str or sequence of str
        Parameter and/or initial-state names (the network's outputs), in order.
    descriptors : ndarray, (n_active, n_descriptors)
        Transformed descriptors of the active cells.
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds.
    hidden_layer_sizes : sequence of int, optional
        Widths of the hidden layers. Default, as the reference: ``(3 nd, round(sqrt(nd ncv) ln(n_cells)),
        3 ncv)`` for nd descriptors and ncv outputs.
    activation : str, default="relu"
        Hidden activation, one of :data:`ACTIVATIONS`.
    kernel_initializer : str, default="glorot_uniform"
        One of :data:`INITIALIZERS`; biases start at zero.
    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialisation.
    n_cells : int, optional
        Cell count in the default width formula (the reference uses the whole grid, ``nrow * ncol``);
        default the number of active cells.

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(nd, hidden..., ncv)``.
    n_weights : int
        Length of the control vector (every weight and bias).

    Notes
    -----
    The control vector is ``[W_1 (row-major), b_1, W_2, b_2, ...]``, unbounded. ``initial_control``
    returns the initialised weights (the current values do not enter).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.random.default_rng(0).normal(size=(50, 2))
    >>> m = ANNMapping(["cp", "ct"], d, hidden_layer_sizes=(8,), random_state=0)
    >>> m.layer_sizes, m.n_weights
    ((2, 8, 2), 42)
    >>> x0 = m.initial_control({})
    >>> cp = m.to_values(x0)["cp"]
    >>> bool(((cp > 1e-6) & (cp < 1000.0)).all())
    True
    """

    def __init__(self, names, descriptors, bounds=None, hidden_layer_sizes=None, activation="relu",
                 kernel_initializer="glorot_uniform", random_state=None, n_cells=None):
        super().__init__(names, descriptors, bounds)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"kernel_initializer must be one of {sorted(INITIALIZERS)}, got {kernel_initializer!r}")
        nd, ncv = self.n_descriptors, len(self.names)
        if hidden_layer_sizes is None:
            cells = self.n_active_ if n_cells is None else int(n_cells)
            hidden_layer_sizes = (3 * nd, max(1, round(math.sqrt(nd * ncv) * math.log(cells))), 3 * ncv)
        hidden = tuple(hidden_layer_sizes)
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {hidden_layer_sizes!r}")
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.random_state = random_state
        self.layer_sizes = (nd,) + tuple(int(h) for h in hidden) + (ncv,)
        self._shapes = [(o, i) for i, o in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]
        self.n_weights = sum(o * i + o for o, i in self._shapes)

    def size(self, n_active=None):
        """Length of the control vector (the number of weights and biases)."""
        self._check_n_active(n_active)
        return self.n_weights

    def control_bounds(self, n_active=None):
        """``(lower, upper)``: unbounded."""
        n = self.size(n_active)
        return np.full(n, -np.inf), np.full(n, np.inf)

    def initial_control(self, values=None):
        """Initialised weights (``kernel_initializer``, zero biases, ``random_state``)."""
        rng = check_random_state(self.random_state)
        init = INITIALIZERS[self.kernel_initializer]
        parts = []
        for o, i in self._shapes:
            parts += [init(rng, o, i).ravel(), np.zeros(o)]
        return np.concatenate(parts)

    def unpack(self, x):
        """The layers' ``[(W, b), ...]`` (views into ``x``), W of shape ``(n_out, n_in)``."""
        x = self._check_x(x)
        layers, pos = [], 0
        for o, i in self._shapes:
            w = x[pos:pos + o * i].reshape(o, i)
            pos += o * i
            layers.append((w, x[pos:pos + o]))
            pos += o
        return layers

    def _run(self, x):
        """Forward pass keeping each layer's input and activation derivative."""
        act = ACTIVATIONS[self.activation]
        layers = self.unpack(x)
        h, trace = self.descriptors, []
        for j, (w, b) in enumerate(layers):
            z = h @ w.T + b
            out, deriv = _tanh(z) if j == len(layers) - 1 else act(z)
            trace.append((h, deriv))
            h = out
        return h, trace, layers

    def _forward(self, x):
        y = self._run(x)[0]
        return self._low + 0.5 * (y + 1.0) * self._span, y

    def _backward(self, x, g):
        _, trace, layers = self._run(x)
        delta = g * (0.5 * self._span)  # through the scaling to the bounds
        grads = [None] * len(layers)
        for j in range(len(layers) - 1, -1, -1):
            h_in, deriv = trace[j]
            delta = delta * deriv
            grads[j] = (delta.T @ h_in, delta.sum(axis=0))
            if j:
                delta = delta @ layers[j][0]
        return np.concatenate([part for gw, gb in grads for part in (gw.ravel(), gb)])
