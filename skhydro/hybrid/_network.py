"""The flux-correction network φ1 of the hybrid structures (``../shared/spec/forward.md`` §6.4).

Evaluated by the kernels on every active cell and time step: its inputs are the states at the start of
the step and the interception's outputs (``gr4_mlp``: hp, ht, pn, en, raw values), its tanh outputs the
corrections f in ]-1, 1[ of the structure's internal fluxes. This class holds the weights, checks them,
packs them into the flat vector the kernels and optimisers use, and evaluates the network in numpy for
inspection.
"""
import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._kernels._model import ACTIVATION_CODES, MAX_NETWORK_LAYERS, MAX_NETWORK_UNITS
from ..mappings import ACTIVATIONS, INITIALIZERS

__all__ = ["FluxCorrectionNetwork", "NETWORK_ACTIVATIONS"]

#: Hidden activations the kernels offer (the output layer is always tanh).
NETWORK_ACTIVATIONS = tuple(ACTIVATION_CODES)
_MAX_HIDDEN_LAYERS = MAX_NETWORK_LAYERS - 1
_MAX_UNITS = MAX_NETWORK_UNITS


def check_hidden_layer_sizes(hidden_layer_sizes):
    """Validate hidden widths: an int or a sequence of 1 to 3 positive ints; returns a tuple."""
    sizes = (hidden_layer_sizes,) if isinstance(hidden_layer_sizes, numbers.Integral) else hidden_layer_sizes
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got {hidden_layer_sizes!r}") \
            from None
    if not 1 <= len(sizes) <= _MAX_HIDDEN_LAYERS or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in sizes) \
            or sum(sizes) > _MAX_UNITS - 16:
        raise ValueError(f"hidden_layer_sizes must hold 1 to {_MAX_HIDDEN_LAYERS} positive widths (at most "
                         f"{_MAX_UNITS - 16} units in all), got {hidden_layer_sizes!r}")
    return tuple(int(v) for v in sizes)


class FluxCorrectionNetwork:
    """A multilayer perceptron giving flux corrections in ]-1, 1[ (hidden activation, tanh output).

    Parameters
    ----------
    weights : list of ndarray
        One ``(n_out, n_in)`` matrix per dense layer, input to output.
    biases : list of ndarray
        One ``(n_out,)`` vector per dense layer.
    activation : {"leaky_relu", "relu", "silu", "tanh", "sigmoid"}, default="leaky_relu"
        Hidden-layer activation (Leaky ReLU, slope 0.01 for negative inputs, as the hybrid article;
        hydro-smash's ``*_mlp`` structures use ``"silu"``).

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(n_inputs, hidden..., n_outputs)``.
    n_parameters : int
        Number of weights and biases.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.hybrid import FluxCorrectionNetwork
    >>> net = FluxCorrectionNetwork.initialize(4, 4, (16,), random_state=0)
    >>> net.layer_sizes, net.n_parameters
    ((4, 16, 4), 148)
    >>> bool(np.abs(net.predict(np.ones((3, 4)))).max() < 0.05)  # corrections start near zero
    True
    """

    def __init__(self, weights, biases, activation="leaky_relu"):
        if activation not in NETWORK_ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(NETWORK_ACTIVATIONS)}, got {activation!r}")
        weights = [np.array(w, dtype=np.float64) for w in weights]
        biases = [np.array(b, dtype=np.float64) for b in biases]
        if not weights or len(weights) != len(biases) or len(weights) > _MAX_HIDDEN_LAYERS + 1:
            raise ValueError(f"give 1 to {_MAX_HIDDEN_LAYERS + 1} weight matrices and as many biases")
        sizes = [weights[0].shape[1] if weights[0].ndim == 2 else -1]
        for i, (w, b) in enumerate(zip(weights, biases), start=1):
            if w.ndim != 2 or w.shape[1] != sizes[-1] or b.shape != (w.shape[0],) or w.shape[0] < 1:
                raise ValueError(f"layer {i}: weight {w.shape} and bias {b.shape} do not chain "
                                 f"(expected a ({'n_out'}, {sizes[-1]}) matrix and an (n_out,) vector)")
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise ValueError(f"layer {i} has non-finite weights or biases")
            sizes.append(w.shape[0])
        if sizes[0] < 1 or sum(sizes[1:]) > _MAX_UNITS:
            raise ValueError(f"layer sizes {sizes} are out of range")
        self.weights = weights
        self.biases = biases
        self.activation = activation

    # ------------------------------------------------------------------------------ constructors
    @classmethod
    def zeros(cls, n_inputs, n_outputs, hidden_layer_sizes=(16,), activation="leaky_relu"):
        """A network whose weights and biases are all zero (no correction).

        Parameters
        ----------
        n_inputs, n_outputs : int
        hidden_layer_sizes : int or tuple of int, default=(16,)
        activation : str, default="leaky_relu"

        Returns
        -------
        FluxCorrectionNetwork
        """
        sizes = (int(n_inputs),) + check_hidden_layer_sizes(hidden_layer_sizes) + (int(n_outputs),)
        return cls([np.zeros((o, i)) for i, o in zip(sizes[:-1], sizes[1:])], [np.zeros(o) for o in sizes[1:]],
                   activation)

    @classmethod
    def initialize(cls, n_inputs, n_outputs, hidden_layer_sizes=(16,), activation="leaky_relu",
                   kernel_initializer="glorot_uniform", output_scale=0.01, random_state=None):
        """A trainable start: random weights, the output layer's scaled by ``output_scale``, zero biases.

        The corrections start close to zero (the classical structure), yet every weight receives a
        gradient. An all-zero network would not do: its hidden units are zero, so only the output bias
        could learn, and the split correction f3, which enters squared, has no gradient at exactly zero.

        Parameters
        ----------
        n_inputs, n_outputs : int
        hidden_layer_sizes : int or tuple of int, default=(16,)
        activation : str, default="leaky_relu"
        kernel_initializer : str, default="glorot_uniform"
            One of :data:`skhydro.mappings.INITIALIZERS`.
        output_scale : float, default=0.01
            Factor on the output layer's initial weights (0: corrections exactly zero at the start).
        random_state : int, RandomState instance or None

        Returns
        -------
        FluxCorrectionNetwork
        """
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"kernel_initializer must be one of {sorted(INITIALIZERS)}, got {kernel_initializer!r}")
        rng = check_random_state(random_state)
        net = cls.zeros(n_inputs, n_outputs, hidden_layer_sizes, activation)
        for w in net.weights:
            w[...] = INITIALIZERS[kernel_initializer](rng, *w.shape)
        net.weights[-1] *= float(output_scale)
        return net

    # ------------------------------------------------------------------------------ packing
    @property
    def layer_sizes(self):
        """``(n_inputs, hidden..., n_outputs)``."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def n_parameters(self):
        """Number of weights and biases."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    def to_vector(self):
        """All parameters as one vector: per layer, the weights row-major, then the bias (kernel layout)."""
        return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(self.weights, self.biases)])

    def with_vector(self, vector):
        """A network of the same architecture and activation holding the parameters of ``vector``."""
        v = np.asarray(vector, dtype=np.float64)
        if v.shape != (self.n_parameters,):
            raise ValueError(f"vector must have shape ({self.n_parameters},), got {v.shape}")
        weights, biases, i = [], [], 0
        for w in self.weights:
            n_out, n_in = w.shape
            weights.append(v[i:i + n_out * n_in].reshape(n_out, n_in))
            i += n_out * n_in
            biases.append(v[i:i + n_out])
            i += n_out
        return type(self)(weights, biases, self.activation)

    def as_dict(self):
        """``{"weight_1": ..., "bias_1": ..., ...}`` (the reference's names, layers numbered from 1)."""
        out = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            out[f"weight_{i}"] = w.copy()
            out[f"bias_{i}"] = b.copy()
        return out

    # ------------------------------------------------------------------------------ evaluation
    def predict(self, x):
        """Corrections for each row of ``x`` (n, n_inputs) -> (n, n_outputs), in ]-1, 1[."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"x must have shape (n, {self.layer_sizes[0]}), got {a.shape}")
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b
            a = np.tanh(z) if i == len(self.weights) - 1 else ACTIVATIONS[self.activation](z)[0]
        return a

    def __eq__(self, other):
        return (isinstance(other, FluxCorrectionNetwork) and self.activation == other.activation
                and self.layer_sizes == other.layer_sizes and np.array_equal(self.to_vector(), other.to_vector()))

    def __repr__(self):
        return f"FluxCorrectionNetwork(layer_sizes={self.layer_sizes}, activation={self.activation!r})"
