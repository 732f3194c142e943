"""Bound-constrained optimisers of a control vector (spec §7).

Every optimiser returns a :class:`scipy.optimize.OptimizeResult` with ``x``, ``fun``, ``nit``,
``nfev`` (cost evaluations), ``njev`` (gradient evaluations), ``success``, ``message`` and ``history``
(``history[k]`` is the best cost known after ``k`` iterations, ``history[0]`` the cost at ``x0``; the
adaptive optimisers record the cost at the current iterate). ``success`` is True when a stopping
criterion other than the iteration limit ended the run.

Bounds are ``None`` (unbounded), a :class:`scipy.optimize.Bounds`, or a pair ``(lower, upper)`` of
scalars or arrays broadcastable to ``x0`` (``±inf`` or None for an unbounded side), e.g. the output of
:meth:`skhydro.mappings.UniformMapping.control_bounds`. The start point is clipped into the bounds.

Callbacks are called once per iteration as ``callback(intermediate_result)`` with an
``OptimizeResult`` holding ``x``, ``fun`` and ``nit``; returning True stops the optimiser.
"""
import numbers

import numpy as np
import scipy.optimize
from scipy.optimize import OptimizeResult

__all__ = ["minimize", "minimize_sbs", "minimize_lbfgsb", "minimize_adaptive", "METHODS", "ADAPTIVE_METHODS",
           "DEFAULT_LEARNING_RATES"]

ADAPTIVE_METHODS = ("adam", "sgd", "adagrad", "rmsprop")
METHODS = ("sbs", "lbfgsb") + ADAPTIVE_METHODS
DEFAULT_LEARNING_RATES = {"adam": 0.003, "sgd": 0.02, "adagrad": 0.02, "rmsprop": 0.003}
_OPTIONS = {
    "sbs": ("maxiter", "float32"),
    "lbfgsb": ("maxiter", "factr", "pgtol"),
    "adam": ("learning_rate", "maxiter", "early_stopping", "legacy_adam"),
}
for _m in ("sgd", "adagrad", "rmsprop"):
    _OPTIONS[_m] = ("learning_rate", "maxiter", "early_stopping")


# --------------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------------
def _check_x0(x0):
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x0 must be a non-empty 1-D vector, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x0 must be finite")
    return x


def _check_bounds(bounds, n):
    """``(lower, upper)`` float arrays of length n, ``±inf`` where unbounded."""
    if bounds is None:
        return np.full(n, -np.inf), np.full(n, np.inf)
    if isinstance(bounds, scipy.optimize.Bounds):
        pair = (bounds.lb, bounds.ub)
    else:
        try:
            pair = tuple(bounds)
        except TypeError:
            raise TypeError("bounds must be None, scipy.optimize.Bounds or a pair (lower, upper)") from None
        if len(pair) != 2:
            raise ValueError(f"bounds must be a pair (lower, upper) (or scipy.optimize.Bounds), got {len(pair)} "
                             f"items; for a list of (low, high) pairs use scipy.optimize.Bounds(*zip(*pairs))")
    out = []
    for side, value, fill in zip(("lower", "upper"), pair, (-np.inf, np.inf)):
        v = np.array(fill if value is None else value, dtype=object)
        v = np.where(np.equal(v, None), fill, v).astype(np.float64)
        try:
            v = np.broadcast_to(v, (n,)).copy()
        except ValueError:
            raise ValueError(f"{side} bounds of shape {v.shape} do not match x0 of length {n}") from None
        if np.isnan(v).any():
            raise ValueError(f"{side} bounds contain NaN")
        out.append(v)
    lower, upper = out
    if (lower >= upper).any():
        i = int(np.argmax(lower >= upper))
        raise ValueError(f"bounds must satisfy lower < upper, got ({lower[i]:g}, {upper[i]:g}) at entry {i}")
    return lower, upper


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, "
                         f"got {value!r}")
    return float(value)


def _check_callback(callback):
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None")
    return callback


def _notify(callback, x, fun, nit):
    """Call the user callback; True means stop."""
    if callback is None:
        return False
    return bool(callback(OptimizeResult(x=np.array(x, dtype=np.float64), fun=float(fun), nit=nit)))


def _value_and_grad(fun_and_grad, x, n):
    out = fun_and_grad(x)
    try:
        value, grad = out
    except (TypeError, ValueError):
        raise TypeError("fun must return (value, gradient) for a gradient-based method") from None
    grad = np.array(grad, dtype=np.float64)
    if grad.shape != (n,):
        raise ValueError(f"gradient must have shape ({n},), got {grad.shape}")
    return float(value), grad


# --------------------------------------------------------------------------------------------------
# SBS
# --------------------------------------------------------------------------------------------------
def minimize_sbs(fun, x0, bounds=None, maxiter=50, callback=None, *, float32=False):
    """Step-by-step (SBS) coordinate search, gradient-free (spec §7.1).

    Each sweep tries ``±Δ`` moves of every coordinate from the current point (the reverse of the last
    successful move is skipped), keeps the best, doubles ``Δ`` after ``2n`` successful sweeps in a row
    and halves it after a failed sweep; after ``4n`` sweeps it also tries a damped extrapolation step
    along the recent successful moves. Starts with ``Δ = 0.64`` and stops when ``Δ < 0.01`` or after
    ``maxiter * n`` sweeps (``maxiter`` iterations of ``n`` sweeps).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``, the cost.
    x0 : array_like, (n,)
        Start point (clipped into the bounds).
    bounds : None, scipy.optimize.Bounds or (lower, upper), optional
        Box constraints.
    maxiter : int, default 50
        Maximum number of iterations.
    callback : callable, optional
        Called after every iteration (``n`` sweeps) and at convergence with an ``OptimizeResult``
        (``x``, ``fun``, ``nit``); returning True stops the search.
    float32 : bool, default False
        Hold the points and bounds in single precision and compute the trial moves in single
        precision, as the reference (hydro-smash) does; reproduces its search path.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (best point), ``fun``, ``nit`` (iterations started, ``ceil(sweeps / n)``), ``nfev``,
        ``njev`` (0), ``success`` (``Δ < 0.01`` reached), ``message``, ``history``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.optimizers import minimize_sbs
    >>> res = minimize_sbs(lambda x: float(np.sum((x - [0.3, -0.2]) ** 2)), [0.0, 0.0], ([-1, -1], [1, 1]))
    >>> res.success, res.x.round(2)
    (True, array([ 0.3, -0.2]))
    """
    x0 = _check_x0(x0)
    n = x0.size
    lower, upper = _check_bounds(bounds, n)
    maxiter = _check_int("maxiter", maxiter, 1)
    callback = _check_callback(callback)
    dtype = np.float32 if float32 else np.float64
    lower, upper = lower.astype(dtype), upper.astype(dtype)
    y = np.clip(x0.astype(dtype), lower, upper)

    nfev = 0

    def cost(x):
        nonlocal nfev
        nfev += 1
        return float(fun(np.array(x, dtype=np.float64)))

    z = y.copy()
    g = cost(y)
    history = [g]
    step = step_min = 0.64
    s = np.zeros(n)
    c = 0.7 ** (1.0 / n)
    i_a = i_aa = m = -1
    phi_a = phi_aa = 0
    message, success, nit = "maximum number of iterations reached", False, 0
    for k in range(1, maxiter * n + 1):
        step_min = min(step_min, step)
        if step > 2.0:
            step = step_min
        for i in range(n):
            trial = y.copy()
            for phi in (-1, 1):
                if (i == i_aa and phi == -phi_aa) or (phi < 0 and y[i] <= lower[i]) \
                        or (phi > 0 and y[i] >= upper[i]):
                    continue
                moved = y[i] + dtype(phi * step)  # float32 arithmetic on the float32 path
                trial[i] = min(max(moved, lower[i]), upper[i])
                f = cost(trial)
                if f < g:
                    z, g, i_a, phi_a = trial.copy(), f, i, phi
        i_aa, phi_aa = i_a, phi_a
        if i_a >= 0:
            y = z.copy()
            s *= c
            s[i_a] = (1.0 - c) * phi_a * step + c * s[i_a]
            m += 1
            if m + 1 > 2 * n:
                step, m = 2.0 * step, 0
        else:
            step, m = step / 2.0, -1
        if k > 4 * n:
            trial = np.clip(y + s, lower, upper).astype(dtype)
            f = cost(trial)
            if f < g:
                g, y, z, phi_aa = f, trial.copy(), trial.copy(), 0
        i_a = -1
        nit = -(-k // n)
        converged = step < 0.01
        if k % n == 0 or converged:
            history.append(g)
            if _notify(callback, z, g, nit):
                message = "stopped by the callback"
                break
        if converged:
            message, success = "converged: step below 0.01", True
            break
    return OptimizeResult(x=np.array(z, dtype=np.float64), fun=g, nit=nit, nfev=nfev, njev=0, success=success,
                          message=message, history=history)


# --------------------------------------------------------------------------------------------------
# L-BFGS-B
# --------------------------------------------------------------------------------------------------
def minimize_lbfgsb(fun_and_grad, x0, bounds=None, maxiter=100, factr=1e6, pgtol=1e-12, callback=None):
    """L-BFGS-B with the reference's options (spec §7.2), through :func:`scipy.optimize.minimize`.

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (value, gradient)``.
    x0 : array_like, (n,)
        Start point (clipped into the bounds).
    bounds : None, scipy.optimize.Bounds or (lower, upper), optional
        Box constraints.
    maxiter : int, default 100
        Maximum number of iterations.
    factr : float, default 1e6
        Relative cost decrease tolerance in units of the machine epsilon: ``ftol = 2.22e-16 * factr``.
    pgtol : float, default 1e-12
        Projected gradient tolerance (``gtol``).
    callback : callable, optional
        Called after every iteration with an ``OptimizeResult`` (``x``, ``fun``, ``nit``); returning
        True stops the optimiser.

    Returns
    -------
    scipy.optimize.OptimizeResult
        SciPy's result, plus ``history``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.optimizers import minimize_lbfgsb
    >>> def f(x):
    ...     return float(np.sum((x - 2.0) ** 2)), 2.0 * (x - 2.0)
    >>> res = minimize_lbfgsb(f, [0.0, 0.0], ([-1.0, -1.0], [1.0, 1.5]))
    >>> res.x
    array([1. , 1.5])
    """
    x0 = _check_x0(x0)
    n = x0.size
    lower, upper = _check_bounds(bounds, n)
    maxiter = _check_int("maxiter", maxiter, 1)
    factr = _check_positive("factr", factr)
    pgtol = _check_positive("pgtol", pgtol, allow_zero=True)
    callback = _check_callback(callback)
    x0 = np.clip(x0, lower, upper)

    def fg(x):
        return _value_and_grad(fun_and_grad, x, n)

    history = []
    stopped = []

    def on_iteration(intermediate_result):
        history.append(float(intermediate_result.fun))
        if _notify(callback, intermediate_result.x, intermediate_result.fun, len(history)):
            stopped.append(True)
            raise StopIteration

    first = {}

    def fg_first(x):
        value, grad = fg(x)
        if not first:
            first["fun"] = value
        return value, grad

    scipy_bounds = list(zip(np.where(np.isfinite(lower), lower, None), np.where(np.isfinite(upper), upper, None)))
    res = scipy.optimize.minimize(fg_first, x0, method="L-BFGS-B", jac=True, bounds=scipy_bounds,
                                  callback=on_iteration,
                                  options={"maxiter": maxiter, "ftol": 2.22e-16 * factr, "gtol": pgtol})
    res.history = [first.get("fun", float(res.fun))] + history
    if stopped:
        res.message = "stopped by the callback"
        res.success = False
    return res


# --------------------------------------------------------------------------------------------------
# adaptive (first-order) optimisers
# --------------------------------------------------------------------------------------------------
class _SGD:
    def __init__(self, lr, momentum=0.0):
        self.lr, self.momentum, self.v = lr, momentum, 0.0

    def update(self, w, g):
        self.v = self.momentum * self.v + (1.0 - self.momentum) * g
        return w - self.lr * self.v


class _Adam:
    def __init__(self, lr, legacy=True, beta_1=0.9, beta_2=0.999, eps=1e-8):
        self.lr, self.legacy, self.b1, self.b2, self.eps = lr, legacy, beta_1, beta_2, eps
        self.m = self.v = 0.0
        self.t = 0

    def update(self, w, g):
        self.t += 1
        self.m = self.b1 * self.m + (1.0 - self.b1) * g
        self.v = self.b2 * self.v + (1.0 - self.b2) * g ** 2
        p1, p2 = (1, 1) if self.legacy else (self.t, self.t)  # the reference: no power of the step (Q3)
        m_hat = self.m / (1.0 - self.b1 ** p1)
        v_hat = self.v / (1.0 - self.b2 ** p2)
        return w - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class _Adagrad:
    def __init__(self, lr, eps=1e-8):
        self.lr, self.eps, self.G = lr, eps, 0.0

    def update(self, w, g):
        self.G = self.G + g ** 2
        return w - self.lr * g / np.sqrt(self.G + self.eps)


class _RMSprop:
    def __init__(self, lr, rho=0.9, eps=1e-8):
        self.lr, self.rho, self.eps, self.E = lr, rho, eps, 0.0

    def update(self, w, g):
        self.E = self.rho * self.E + (1.0 - self.rho) * g ** 2
        return w - self.lr * g / np.sqrt(self.E + self.eps)


def minimize_adaptive(fun_and_grad, x0, bounds=None, method="adam", learning_rate=None, maxiter=200,
                      early_stopping=0, callback=None, legacy_adam=True):
    """First-order adaptive optimisers: Adam, SGD, Adagrad, RMSprop (spec §7.3).

    One gradient at ``x0``, then per iteration: update the point with the method's rule, clip it into
    the bounds, evaluate the cost and gradient there. Update rules (elementwise, ``g`` the gradient):

    * ``sgd``: ``x ← x − lr·g``;
    * ``adam`` (β1 = 0.9, β2 = 0.999, ε = 1e-8): ``m ← β1 m + (1−β1) g``, ``v ← β2 v + (1−β2) g²``,
      ``x ← x − lr·m̂ / (√v̂ + ε)`` with ``m̂ = m / (1−β1)``, ``v̂ = v / (1−β2)`` (the reference's
      constant bias correction) or, with ``legacy_adam=False``, ``m̂ = m / (1−β1ᵗ)``,
      ``v̂ = v / (1−β2ᵗ)`` at step ``t`` (standard Adam);
    * ``adagrad`` (ε = 1e-8): ``G ← G + g²``, ``x ← x − lr·g / √(G + ε)``;
    * ``rmsprop`` (ρ = 0.9, ε = 1e-8): ``E ← ρE + (1−ρ) g²``, ``x ← x − lr·g / √(E + ε)``.

    Parameters
    ----------
    fun_and_grad : callable
        ``fun_and_grad(x) -> (value, gradient)``.
    x0 : array_like, (n,)
        Start point (clipped into the bounds).
    bounds : None, scipy.optimize.Bounds or (lower, upper), optional
        Box constraints (the iterates are clipped into them).
    method : {"adam", "sgd", "adagrad", "rmsprop"}, default "adam"
    learning_rate : float, optional
        Default: adam 0.003, sgd 0.02, adagrad 0.02, rmsprop 0.003.
    maxiter : int, default 200
        Number of iterations.
    early_stopping : int, default 0
        When ``N > 0``: stop once the best cost (among iterations >= 1) has not improved for more than
        ``N`` iterations. 0 disables it. With it, the result is the best iterate and ``nit`` its
        iteration number.
    callback : callable, optional
        Called after every iteration with an ``OptimizeResult`` (``x``, ``fun``, ``nit``); returning
        True stops the optimiser.
    legacy_adam : bool, default True
        Adam bias correction as in the reference (constant); False gives standard Adam.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac`` (gradient at ``x``), ``nit``, ``nfev`` = ``njev``, ``success`` (early
        stopping triggered), ``message``, ``history`` (cost at ``x0`` and after every iteration run).

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.optimizers import minimize_adaptive
    >>> def f(x):
    ...     return float(np.sum((x - 0.5) ** 2)), 2.0 * (x - 0.5)
    >>> res = minimize_adaptive(f, [0.0, 1.0], ([0, 0], [1, 1]), method="adam", learning_rate=0.05, maxiter=300)
    >>> res.x.round(3)
    array([0.5, 0.5])
    """
    if not isinstance(method, str) or method.lower() not in ADAPTIVE_METHODS:
        raise ValueError(f"unknown adaptive method {method!r}; use one of {list(ADAPTIVE_METHODS)}")
    method = method.lower()
    x = _check_x0(x0)
    n = x.size
    lower, upper = _check_bounds(bounds, n)
    lr = DEFAULT_LEARNING_RATES[method] if learning_rate is None else _check_positive("learning_rate",
                                                                                       learning_rate)
    maxiter = _check_int("maxiter", maxiter, 1)
    early_stopping = _check_int("early_stopping", early_stopping, 0)
    callback = _check_callback(callback)
    if not isinstance(legacy_adam, (bool, np.bool_)):
        raise ValueError(f"legacy_adam must be a bool, got {legacy_adam!r}")
    if method == "adam":
        opt = _Adam(lr, legacy=bool(legacy_adam))
    else:
        opt = {"sgd": _SGD, "adagrad": _Adagrad, "rmsprop": _RMSprop}[method](lr)

    x = np.clip(x, lower, upper)
    value, grad = _value_and_grad(fun_and_grad, x, n)
    if not (np.isfinite(value) and np.isfinite(grad).all()):
        raise ValueError("the cost or its gradient is not finite at x0")
    nfev, history = 1, [value]
    best = (np.inf, x, grad, 0)  # cost, x, gradient, iteration
    message, success, it = "maximum number of iterations reached", False, 0
    for it in range(1, maxiter + 1):
        x_new = np.clip(opt.update(x, grad), lower, upper)
        v_new, g_new = _value_and_grad(fun_and_grad, x_new, n)
        nfev += 1
        if not (np.isfinite(v_new) and np.isfinite(g_new).all()):
            message, it = f"the cost or its gradient is not finite at iteration {it}; kept the previous point", it - 1
            break
        x, value, grad = x_new, v_new, g_new
        history.append(value)
        if early_stopping:
            if it == 1 or value < best[0]:
                best = (value, x.copy(), grad.copy(), it)
            elif it - best[3] > early_stopping:
                message, success = f"early stopping: no improvement for {early_stopping} iterations", True
                break
        if _notify(callback, x, value, it):
            message = "stopped by the callback"
            break
    nit = it
    if early_stopping and 0 < best[3] < it:
        value, x, grad, nit = best
    return OptimizeResult(x=x, fun=value, jac=grad, nit=nit, nfev=nfev, njev=nfev, success=success,
                          message=message, history=history)


# --------------------------------------------------------------------------------------------------
# dispatcher
# --------------------------------------------------------------------------------------------------
def minimize(method, fun, x0, bounds=None, options=None, callback=None):
    """Minimise a cost by one of the optimisers of this module.

    Parameters
    ----------
    method : {"sbs", "lbfgsb", "adam", "sgd", "adagrad", "rmsprop"}
        Optimiser (case-insensitive).
    fun : callable
        ``fun(x) -> float`` for ``"sbs"``; ``fun(x) -> (value, gradient)`` for the gradient methods.
    x0 : array_like, (n,)
        Start point.
    bounds : None, scipy.optimize.Bounds or (lower, upper), optional
        Box constraints.
    options : dict, optional
        Keyword options of the optimiser: sbs ``maxiter`` (50), ``float32`` (False); lbfgsb
        ``maxiter`` (100), ``factr`` (1e6), ``pgtol`` (1e-12); adam, sgd, adagrad, rmsprop
        ``learning_rate``, ``maxiter`` (200), ``early_stopping`` (0), and for adam ``legacy_adam``
        (True).
    callback : callable, optional
        Called after every iteration (see the module docstring).

    Returns
    -------
    scipy.optimize.OptimizeResult

    Raises
    ------
    ValueError
        Unknown method or option, invalid option value.

    Examples
    --------
    >>> import numpy as np
    >>> from skhydro.optimizers import minimize
    >>> res = minimize("lbfgsb", lambda x: (float(x @ x), 2 * x), [1.0, -2.0], ([-5, -5], [5, 5]))
    >>> bool(np.abs(res.x).max() < 1e-8)
    True
    >>> minimize("newton", lambda x: 0.0, [0.0])
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'newton'; use one of ['sbs', 'lbfgsb', 'adam', 'sgd', 'adagrad', 'rmsprop']
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {list(METHODS)}")
    method = method.lower()
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(_OPTIONS[method]))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; allowed: {list(_OPTIONS[method])}")
    if not callable(fun):
        raise TypeError("fun must be callable")
    if method == "sbs":
        opts = dict(options)
        float32 = opts.pop("float32", False)
        if not isinstance(float32, (bool, np.bool_)):
            raise ValueError(f"float32 must be a bool, got {float32!r}")
        return minimize_sbs(fun, x0, bounds, callback=callback, float32=bool(float32), **opts)
    if method == "lbfgsb":
        return minimize_lbfgsb(fun, x0, bounds, callback=callback, **options)
    return minimize_adaptive(fun, x0, bounds, method=method, callback=callback, **options)
