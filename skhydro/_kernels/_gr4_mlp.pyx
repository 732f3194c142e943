"""Test shims for the hybrid GR4/GR5 point functions (the driver inlines them from ``_gr4_mlp.pxd``)."""
import numpy as np

from skhydro._kernels._gr4 cimport gr4_stores, GR4_NTAPE
from skhydro._kernels._gr4_mlp cimport gr4_mlp_soil, gr4_mlp_step_b, GR4_MLP_NFLUX
from skhydro._kernels._mlp cimport Mlp, MLP_MAX_LAYERS, MLP_MAX_UNITS, mlp_forward, mlp_backward, mlp_output_offset

from skhydro._kernels._model import ACTIVATION_CODES


cdef Mlp make_mlp(const double[::1] params, sizes, str activation) except *:
    cdef Mlp net
    sizes = [int(v) for v in sizes]
    if len(sizes) - 1 > MLP_MAX_LAYERS or sum(sizes[1:]) > MLP_MAX_UNITS:
        raise ValueError("network too large")
    if params.shape[0] != sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1)):
        raise ValueError("parameter vector does not match the layer sizes")
    net.params = &params[0]
    net.nlayer = len(sizes) - 1
    for i, v in enumerate(sizes):
        net.sizes[i] = v
    net.activation = ACTIVATION_CODES[activation]
    return net


def mlp_eval(const double[::1] params, sizes, str activation, const double[:, ::1] x):
    """Network outputs for each row of ``x`` (n, n_in) -> (n, n_out)."""
    cdef Mlp net = make_mlp(params, sizes, activation)
    cdef double z[MLP_MAX_UNITS]
    cdef double a[MLP_MAX_UNITS]
    cdef Py_ssize_t i, j, n_out = net.sizes[net.nlayer], off = mlp_output_offset(&net)
    out = np.empty((x.shape[0], n_out))
    cdef double[:, ::1] o = out
    for i in range(x.shape[0]):
        mlp_forward(&net, &x[i, 0], z, a)
        for j in range(n_out):
            o[i, j] = a[off + j]
    return out


def mlp_eval_b(const double[::1] params, sizes, str activation, const double[:, ::1] x, const double[:, ::1] out_b):
    """Reverse of :func:`mlp_eval`: ``(params_b, x_b)`` for the output adjoint ``out_b`` (n, n_out)."""
    cdef Mlp net = make_mlp(params, sizes, activation)
    cdef double z[MLP_MAX_UNITS]
    cdef double a[MLP_MAX_UNITS]
    cdef Py_ssize_t i
    params_b = np.zeros(params.shape[0])
    x_b = np.zeros((x.shape[0], x.shape[1]))
    cdef double[::1] pb = params_b
    cdef double[:, ::1] xb = x_b
    for i in range(x.shape[0]):
        mlp_forward(&net, &x[i, 0], z, a)
        mlp_backward(&net, &x[i, 0], z, a, &out_b[i, 0], &xb[i, 0], &pb[0])
    return params_b, x_b


def gr4_mlp_series(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double kexc,
                   double beta, double hi, double hp, double ht, const double[::1] net_params, net_sizes,
                   str activation="leaky_relu", aexc=None):
    """Run hybrid GR4 (or GR5, when ``aexc`` is given) on one cell over a series.

    Returns ``(q, fluxes, states)`` as ``gr4_series``; fluxes end with the corrections f1..f4.
    """
    cdef Mlp net = make_mlp(net_params, net_sizes, activation)
    cdef Py_ssize_t n = prcp.shape[0], t
    cdef bint e5 = aexc is not None
    cdef double av = aexc if e5 else 0.0, prr, direct
    q = np.empty(n)
    fl = np.empty((GR4_MLP_NFLUX, n))
    st = np.empty((3, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    cdef double tape[GR4_NTAPE]
    st_v[0, 0] = hi
    st_v[1, 0] = hp
    st_v[2, 0] = ht
    for t in range(n):
        gr4_mlp_soil(prcp[t], pet[t], ci, cp, kexc, av, e5, beta, &net, &hi, &hp, ht, &prr, &direct,
                     &fl_v[0, t], n, tape, 1)
        q_v[t] = gr4_stores(prcp[t], ct, &ht, prr, direct, &fl_v[0, t], n, tape, 1)
        st_v[0, t + 1] = hi
        st_v[1, t + 1] = hp
        st_v[2, t + 1] = ht
    return q, fl, st


def gr4_mlp_series_b(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double kexc,
                     double beta, double hi, double hp, double ht, const double[::1] net_params, net_sizes,
                     const double[::1] q_b, const double[::1] states_b, str activation="leaky_relu", aexc=None):
    """Reverse of :func:`gr4_mlp_series` (one cell): ``(params_b, states0_b, prcp_b, net_params_b)``."""
    cdef Mlp net = make_mlp(net_params, net_sizes, activation)
    cdef Py_ssize_t n = prcp.shape[0], t
    cdef bint e5 = aexc is not None
    cdef double av = aexc if e5 else 0.0, aexc_b = 0.0, prr, direct
    prcp_b = np.zeros(n)
    net_b = np.zeros(net_params.shape[0])
    cdef double[::1] prcp_b_v = prcp_b
    cdef double[::1] net_b_v = net_b
    tape = np.empty((GR4_NTAPE, n))
    st = np.empty((3, n))
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    for t in range(n):
        st_v[0, t] = hi
        st_v[1, t] = hp
        st_v[2, t] = ht
        gr4_mlp_soil(prcp[t], pet[t], ci, cp, kexc, av, e5, beta, &net, &hi, &hp, ht, &prr, &direct, NULL, 0,
                     &tape_v[0, t], n)
        gr4_stores(prcp[t], ct, &ht, prr, direct, NULL, 0, &tape_v[0, t], n)
    cdef double hi_b = states_b[0], hp_b = states_b[1], ht_b = states_b[2]
    cdef double ci_b = 0.0, cp_b = 0.0, ct_b = 0.0, kexc_b = 0.0
    for t in range(n - 1, -1, -1):
        gr4_mlp_step_b(prcp[t], pet[t], ci, cp, ct, kexc, av, e5, beta, &net, st_v[0, t], st_v[1, t], st_v[2, t],
                       &tape_v[0, t], n, q_b[t], &hi_b, &hp_b, &ht_b, &ci_b, &cp_b, &ct_b, &kexc_b, &aexc_b,
                       &prcp_b_v[t], &net_b_v[0])
    params_b = [ci_b, cp_b, ct_b, kexc_b] + ([aexc_b] if e5 else [])
    return np.array(params_b), np.array([hi_b, hp_b, ht_b]), prcp_b, net_b
