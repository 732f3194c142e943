"""Mappings between an optimiser's control vector and parameter / initial-state values (spec §2-§3).

A mapping holds the optimised names, their bounds ``(l, u)`` and a transformation of the control:

* ``"normalize"``: ``z = (x - l) / (u - l)``, control bounds ``[0, 1]``;
* ``"sbs"``: by the raw bounds, ``z = asinh(x)`` if ``l < 0``, ``z = logit(x)`` if ``0 <= l`` and
  ``u <= 1``, ``z = ln(x)`` otherwise; control bounds are the transformed raw bounds;
* ``"keep"``: ``z = x``.

Values are handled as one ``(n_active,)`` vector per name (any fixed cell order). The control vector
holds one block per name, in the order of ``names``: one entry (uniform mapping) or ``n_active``
entries (distributed mapping) per block.
"""
import numpy as np

from ..structures import variable

__all__ = ["UniformMapping", "DistributedMapping", "TRANSFORMS"]

TRANSFORMS = ("normalize", "sbs", "keep")

# values may lie that far outside their bounds (float32 round-off of the reference); they are clipped
_BOUND_TOLERANCE = 1e-5


# --------------------------------------------------------------------------------------------------
# elementwise transformations: (forward, inverse, d value / d control)
# --------------------------------------------------------------------------------------------------
def _logit(x):
    return np.log(x / (1.0 - x))


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


class _Transform:
    """Transformation of one name's control entries, given its raw bounds ``(low, high)``."""

    def __init__(self, kind, low, high):
        self.kind, self.low, self.high = kind, low, high
        if kind == "sbs":
            self.kind = "asinh" if low < 0 else ("logit" if high <= 1 else "log")

    def forward(self, x):
        k = self.kind
        if k == "normalize":
            return (x - self.low) / (self.high - self.low)
        if k == "asinh":
            return np.arcsinh(x)
        if k == "logit":
            return _logit(x)
        if k == "log":
            return np.log(x)
        return np.array(x, dtype=np.float64)

    def inverse(self, z):
        k = self.kind
        if k == "normalize":
            return self.low + (self.high - self.low) * z
        if k == "asinh":
            return np.sinh(z)
        if k == "logit":
            return _logistic(z)
        if k == "log":
            return np.exp(z)
        return np.array(z, dtype=np.float64)

    def derivative(self, z):
        """``d value / d z`` at control ``z``."""
        k = self.kind
        if k == "normalize":
            return np.full(np.shape(z), self.high - self.low)
        if k == "asinh":
            return np.cosh(z)
        if k == "logit":
            s = _logistic(z)
            return s * (1.0 - s)
        if k == "log":
            return np.exp(z)
        return np.ones(np.shape(z))


def _check_names(names):
    if isinstance(names, str):
        names = [names]
    try:
        names = [n for n in names]
    except TypeError:
        raise TypeError(f"names must be a string or a sequence of strings, got {names!r}") from None
    if not names:
        raise ValueError("names is empty: give at least one parameter or state name")
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"names must be strings, got {n!r}")
        try:
            variable(n)
        except KeyError:
            raise ValueError(f"unknown parameter or state {n!r}") from None
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"names has duplicates: {duplicates}")
    return tuple(names)


def _check_bounds(names, bounds):
    given = {} if bounds is None else dict(bounds)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"bounds given for {unknown}, which are not among the mapped names {list(names)}")
    out = {}
    for n in names:
        var = variable(n)
        pair = given.get(n, var.bounds)
        try:
            low, high = (float(b) for b in pair)
        except (TypeError, ValueError):
            raise ValueError(f"bounds of {n!r} must be a pair (low, high) of numbers, got {pair!r}") from None
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"bounds of {n!r} must be finite, got ({low:g}, {high:g})")
        if not low < high:
            raise ValueError(f"bounds of {n!r} must satisfy low < high, got ({low:g}, {high:g})")
        f_low, f_high = var.feasible
        if not (f_low < low and high < f_high):
            raise ValueError(f"bounds ({low:g}, {high:g}) of {n!r} must lie strictly inside its feasible "
                             f"interval ]{f_low:g}, {f_high:g}[")
        out[n] = (low, high)
    return out


class _Mapping:
    """Common part of the uniform and distributed mappings."""

    _kind = None

    def __init__(self, names, bounds=None, transform="normalize"):
        self.names = _check_names(names)
        self.bounds = _check_bounds(self.names, bounds)
        if not isinstance(transform, str) or transform.lower() not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; use one of {list(TRANSFORMS)}")
        self.transform = transform.lower()
        self._tf = {n: _Transform(self.transform, *self.bounds[n]) for n in self.names}
        self.n_active_ = None

    # -- sizes ------------------------------------------------------------------------------------------
    def _block(self, n_active):
        raise NotImplementedError

    def _n_active(self, n_active):
        if n_active is None:
            if self.n_active_ is None:
                raise ValueError("n_active is unknown: give it, or call initial_control first")
            return self.n_active_
        if isinstance(n_active, bool) or not isinstance(n_active, (int, np.integer)) or n_active < 1:
            raise ValueError(f"n_active must be a positive integer, got {n_active!r}")
        return int(n_active)

    def size(self, n_active=None):
        """Length of the control vector.

        Parameters
        ----------
        n_active : int, optional
            Number of active cells; default the one of the last :meth:`initial_control` call (a uniform
            mapping does not need it).

        Returns
        -------
        int
        """
        if self._kind == "uniform":
            if n_active is not None:
                self._n_active(n_active)  # validated all the same
            return len(self.names)
        return len(self.names) * self._block(self._n_active(n_active))

    # -- control <-> values -----------------------------------------------------------------------------
    def _checked_values(self, values):
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ValueError(f"values has no entry for {missing}")
        arrays = {n: np.asarray(values[n], dtype=np.float64) for n in self.names}
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1 or next(iter(shapes))[0] == 0:
            raise ValueError(f"values must be non-empty (n_active,) vectors of one length, got shapes "
                             f"{ {n: a.shape for n, a in arrays.items()} }")
        out = {}
        for n, a in arrays.items():
            if not np.isfinite(a).all():
                raise ValueError(f"values of {n!r} are not all finite")
            low, high = self.bounds[n]
            if a.min() < low - _BOUND_TOLERANCE or a.max() > high + _BOUND_TOLERANCE:
                raise ValueError(f"values of {n!r} range from {a.min():g} to {a.max():g}, outside its bounds "
                                 f"({low:g}, {high:g}); widen the bounds or change the values")
            out[n] = np.clip(a, low, high)
        return out

    def initial_control(self, values):
        """Control vector of the current values (the optimiser's first guess).

        Parameters
        ----------
        values : dict
            ``{name: (n_active,) vector}`` of the current values of at least every mapped name
            (other entries are ignored).

        Returns
        -------
        ndarray, (size(n_active),)
            Transformed control. Sets ``n_active_``.

        Raises
        ------
        ValueError
            A name is missing, values are not finite or lie outside the bounds (by more than 1e-5;
            values within that tolerance are clipped).
        """
        values = self._checked_values(values)
        self.n_active_ = next(iter(values.values())).size
        x = []
        for n in self.names:
            with np.errstate(divide="ignore", invalid="ignore"):
                z = self._tf[n].forward(self._reduce(values[n]))
            if not np.isfinite(z).all():
                # an 'sbs' log (logit) cannot represent a value on a zero (zero or one) bound
                raise ValueError(f"transform {self.transform!r} sends values of {n!r} on its bound "
                                 f"{self.bounds[n]} to infinity; start inside the bounds or use another transform")
            x.append(z)
        return np.concatenate(x)

    def control_bounds(self, n_active=None):
        """Bounds of the control vector (transformed space).

        Parameters
        ----------
        n_active : int, optional
            Number of active cells; default the one of the last :meth:`initial_control` call (a uniform
            mapping does not need it).

        Returns
        -------
        lower, upper : ndarray, (size(n_active),)
        """
        block = self._block(self._n_active(n_active) if self._kind == "distributed" else 1)
        lower, upper = [], []
        for n in self.names:
            with np.errstate(divide="ignore"):  # a bound on a log/logit singularity is an open side
                z = self._tf[n].forward(np.array(self.bounds[n]))
            lower.append(np.full(block, z[0]))
            upper.append(np.full(block, z[1]))
        return np.concatenate(lower), np.concatenate(upper)

    def _split(self, x, n_active):
        n_active = self._n_active(n_active)
        x = np.asarray(x, dtype=np.float64)
        size = self.size(n_active)
        if x.shape != (size,):
            raise ValueError(f"control vector must have shape ({size},) for {len(self.names)} name(s) and "
                             f"n_active={n_active}, got {x.shape}")
        block = self._block(n_active)
        return n_active, {n: x[i * block:(i + 1) * block] for i, n in enumerate(self.names)}

    def to_values(self, x, n_active=None):
        """Values of the mapped names for a control vector (inverse transformation).

        Parameters
        ----------
        x : ndarray, (size(n_active),)
            Control vector, normally within :meth:`control_bounds` (it is not clipped: outside them the
            values leave their bounds).
        n_active : int, optional
            Number of active cells; default the one of the last :meth:`initial_control` call.

        Returns
        -------
        dict
            ``{name: (n_active,) vector}``.
        """
        n_active, blocks = self._split(x, n_active)
        return {n: np.broadcast_to(self._tf[n].inverse(z), (n_active,)).copy() for n, z in blocks.items()}

    def pullback(self, x, gradients, n_active=None):
        """Gradient with respect to the control from the gradients with respect to the values.

        Parameters
        ----------
        x : ndarray, (size(n_active),)
            Control vector at which the gradients were taken.
        gradients : dict
            ``{name: (n_active,) vector}`` of ``dJ/d(value)`` for at least every mapped name.
        n_active : int, optional
            Number of active cells; default the length of the gradient vectors.

        Returns
        -------
        ndarray, (size(n_active),)
            ``dJ/dx`` (chain rule through the transformation; a uniform entry sums over the cells).
        """
        missing = [n for n in self.names if n not in gradients]
        if missing:
            raise ValueError(f"gradients has no entry for {missing}")
        grads = {n: np.asarray(gradients[n], dtype=np.float64) for n in self.names}
        if n_active is None:
            n_active = grads[self.names[0]].size
        n_active, blocks = self._split(x, n_active)
        out = []
        for n, z in blocks.items():
            g = grads[n]
            if g.shape != (n_active,):
                raise ValueError(f"gradient of {n!r} must have shape ({n_active},), got {g.shape}")
            out.append(self._sum(g) * self._tf[n].derivative(z))
        return np.concatenate(out)

    def __repr__(self):
        return f"{type(self).__name__}(names={list(self.names)}, transform={self.transform!r})"


class UniformMapping(_Mapping):
    """One spatially uniform value per name: ``value(c) = x_k`` on every active cell (spec §3.2).

    Parameters
    ----------
    names : str or sequence of str
        Parameter and/or initial-state names (``skhydro.structures`` registry), in control order.
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds. Bounds must satisfy ``low < high`` and
        lie strictly inside the feasible interval of the variable.
    transform : {"normalize", "sbs", "keep"}, default "normalize"
        Transformation of the control (see the module docstring).

    Attributes
    ----------
    names : tuple of str
    bounds : dict
        ``{name: (low, high)}`` raw bounds in use.
    transform : str
    n_active_ : int or None
        Number of active cells seen by the last :meth:`initial_control`.

    Raises
    ------
    ValueError
        Unknown or duplicate name, unknown transform, bounds for an unmapped name, bounds not
        ordered or not strictly inside the feasible interval, or an ``"sbs"`` log/logit with a bound
        sent to infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.mappings import UniformMapping
    >>> mapping = UniformMapping(["cp", "kexc"], transform="sbs")
    >>> x0 = mapping.initial_control({"cp": np.array([100.0, 300.0]), "kexc": np.zeros(2)})
    >>> x0  # (ln 200, asinh 0)
    array([5.29831737, 0.        ])
    >>> mapping.to_values(x0)["cp"]
    array([200., 200.])
    >>> mapping.pullback(x0, {"cp": np.array([1.0, 2.0]), "kexc": np.array([0.5, 0.5])})
    array([600.,   1.])
    """

    _kind = "uniform"

    def _block(self, n_active):
        return 1

    @staticmethod
    def _reduce(v):
        return np.array([v.mean()])

    @staticmethod
    def _sum(g):
        return g.sum()


class DistributedMapping(_Mapping):
    """One value per name and active cell: ``value(c) = x_{k,c}`` (spec §3.3).

    The control holds one block of ``n_active`` entries per name, in the cell order of the value
    vectors.

    Parameters
    ----------
    names : str or sequence of str
        Parameter and/or initial-state names (``skhydro.structures`` registry), in control order.
    bounds : dict, optional
        ``{name: (low, high)}`` overriding the registry bounds. Bounds must satisfy ``low < high`` and
        lie strictly inside the feasible interval of the variable.
    transform : {"normalize", "sbs", "keep"}, default "normalize"
        Transformation of the control (see the module docstring).

    Attributes
    ----------
    names : tuple of str
    bounds : dict
        ``{name: (low, high)}`` raw bounds in use.
    transform : str
    n_active_ : int or None
        Number of active cells seen by the last :meth:`initial_control`.

    Raises
    ------
    ValueError
        Unknown or duplicate name, unknown transform, bounds for an unmapped name, bounds not
        ordered or not strictly inside the feasible interval, or an ``"sbs"`` log/logit with a bound
        sent to infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.mappings import DistributedMapping
    >>> mapping = DistributedMapping(["cp", "hp"], bounds={"cp": (1.0, 1001.0)})
    >>> x0 = mapping.initial_control({"cp": np.array([100.0, 300.0]), "hp": np.array([0.5, 0.25])})
    >>> x0.round(4)
    array([0.099, 0.299, 0.5  , 0.25 ])
    >>> lower, upper = mapping.control_bounds()
    >>> lower, upper
    (array([0., 0., 0., 0.]), array([1., 1., 1., 1.]))
    >>> mapping.to_values(x0)["hp"]
    array([0.5 , 0.25])
    >>> mapping.pullback(x0, {"cp": np.ones(2), "hp": np.ones(2)}).round(4)  # (u - l) per entry
    array([1000., 1000.,    1.,    1.])
    """

    _kind = "distributed"

    def _block(self, n_active):
        return n_active

    @staticmethod
    def _reduce(v):
        return v

    @staticmethod
    def _sum(g):
        return g
