"""Test shims for the hybrid point functions (the driver inlines them from ``_hybrid.pxd``) and the network.

Each ``<module>_mlp_series`` runs one cell over a series and returns ``(q, fluxes, states)`` like the
classical shims (runoff in mm per step; the fluxes of ``skhydro.structures`` without qt, corrections
last; the state history); ``<module>_mlp_series_b`` is its reverse, ``(params_b, states0_b, prcp_b,
net_params_b)`` for the adjoints ``q_b`` of the runoff and ``states_b`` of the final states.
"""
import numpy as np

from skhydro._kernels._gr4 cimport gr4_stores, GR4_NTAPE
from skhydro._kernels._gr6 cimport gr6_stores, GR6_NTAPE
from skhydro._kernels._grc cimport grc_stores, GRC_NTAPE
from skhydro._kernels._grd cimport grd_stores, GRD_NTAPE
from skhydro._kernels._loieau cimport loieau_stores, LOIEAU_NTAPE
from skhydro._kernels._hybrid cimport (
    gr4_mlp_soil, gr4_mlp_step_b, GR4_MLP_NFLUX, GR4_MLP_NIN, GR4_MLP_NOUT,
    gr6_mlp_soil, gr6_mlp_step_b, GR6_MLP_NFLUX, GR6_MLP_NIN, GR6_MLP_NOUT,
    grc_mlp_soil, grc_mlp_step_b, GRC_MLP_NFLUX, GRC_MLP_NIN, GRC_MLP_NOUT,
    grd_mlp_soil, grd_mlp_step_b, GRD_MLP_NFLUX, GRD_MLP_NIN, GRD_MLP_NOUT,
    loieau_mlp_soil, loieau_mlp_step_b, LOIEAU_MLP_NFLUX, LOIEAU_MLP_NIN, LOIEAU_MLP_NOUT,
)
from skhydro._kernels._mlp cimport Mlp, MLP_MAX_UNITS, mlp_setup, mlp_forward, mlp_backward, mlp_output_offset

from skhydro._kernels._model import check_network

cdef enum:
    GR4 = 0
    GR5 = 1
    GR6 = 2
    GRC = 3
    GRD = 4
    LOIEAU = 5

# per module: parameters, states, network inputs and outputs, fluxes, tape rows
cdef dict SHAPES = {
    GR4: (4, 3, GR4_MLP_NIN, GR4_MLP_NOUT, GR4_MLP_NFLUX, GR4_NTAPE),
    GR5: (5, 3, GR4_MLP_NIN, GR4_MLP_NOUT, GR4_MLP_NFLUX, GR4_NTAPE),
    GR6: (6, 4, GR6_MLP_NIN, GR6_MLP_NOUT, GR6_MLP_NFLUX, GR6_NTAPE),
    GRC: (5, 4, GRC_MLP_NIN, GRC_MLP_NOUT, GRC_MLP_NFLUX, GRC_NTAPE),
    GRD: (2, 2, GRD_MLP_NIN, GRD_MLP_NOUT, GRD_MLP_NFLUX, GRD_NTAPE),
    LOIEAU: (3, 2, LOIEAU_MLP_NIN, LOIEAU_MLP_NOUT, LOIEAU_MLP_NFLUX, LOIEAU_NTAPE),
}


cdef Mlp make_mlp(const double[::1] params, sizes, str activation) except *:
    cdef Mlp net
    _, sizes, code = check_network(params, sizes, activation)
    mlp_setup(&net, &params[0], sizes, code)
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


# --------------------------------------------------------------------------- one step, any module
cdef double step(int module, double prcp, double pet, const double* p, double beta, const Mlp* net, double* h,
                 double* fl, Py_ssize_t fstride, double* tape, Py_ssize_t tstride) noexcept nogil:
    """One forward step of the hybrid ``module`` with parameters ``p`` and states ``h`` (updated), in the
    order of ``skhydro.structures``; returns the runoff (mm)."""
    cdef double x1, x2, x3
    cdef bint gr5 = module == GR5
    if module == GR4 or gr5:
        gr4_mlp_soil(prcp, pet, p[0], p[1], p[3], p[4] if gr5 else 0.0, gr5, beta, net, h, h + 1, h[2], &x1, &x2,
                     fl, fstride, tape, tstride)
        return gr4_stores(prcp, p[2], h + 2, x1, x2, fl, fstride, tape, tstride)
    if module == GR6:
        gr6_mlp_soil(prcp, pet, p[0], p[1], p[4], p[5], beta, net, h, h + 1, h[2], h[3], &x1, &x2, &x3,
                     fl, fstride, tape, tstride)
        return gr6_stores(prcp, p[2], p[3], h + 2, h + 3, x1, x2, x3, fl, fstride, tape, tstride)
    if module == GRC:
        grc_mlp_soil(prcp, pet, p[0], p[1], p[4], net, h, h + 1, h[2], h[3], &x1, &x2, &x3, fl, fstride, tape,
                     tstride)
        return grc_stores(prcp, p[2], p[3], h + 2, h + 3, x1, x2, x3, fl, fstride, tape, tstride)
    if module == GRD:
        grd_mlp_soil(prcp, pet, p[0], net, h, h[1], &x1, fl, fstride, tape, tstride)
        return grd_stores(prcp, p[1], h + 1, x1, fl, fstride, tape, tstride)
    loieau_mlp_soil(prcp, pet, p[0], beta, net, h, h[1], &x1, &x2, fl, fstride, tape, tstride)
    return loieau_stores(prcp, p[1], p[2], h + 1, x1, x2, fl, fstride, tape, tstride)


cdef void step_b(int module, double prcp, double pet, const double* p, double beta, const Mlp* net, const double* h,
                 const double* tape, Py_ssize_t tstride, double q_b, double* h_b, double* p_b, double* prcp_b,
                 double* net_b) noexcept nogil:
    """Reverse of :func:`step` from the start-of-step states ``h``: ``h_b`` holds the end states' adjoint
    on entry and the start states' on exit; ``p_b``, ``prcp_b`` and ``net_b`` accumulate."""
    cdef bint gr5 = module == GR5
    if module == GR4 or gr5:
        gr4_mlp_step_b(prcp, pet, p[0], p[1], p[2], p[3], p[4] if gr5 else 0.0, gr5, beta, net, h[0], h[1], h[2],
                       tape, tstride, q_b, h_b, h_b + 1, h_b + 2, p_b, p_b + 1, p_b + 2, p_b + 3,
                       p_b + 4 if gr5 else NULL, prcp_b, net_b)
    elif module == GR6:
        gr6_mlp_step_b(prcp, pet, p[0], p[1], p[2], p[3], p[4], p[5], beta, net, h[0], h[1], h[2], h[3], tape,
                       tstride, q_b, h_b, h_b + 1, h_b + 2, h_b + 3, p_b, p_b + 1, p_b + 2, p_b + 3, p_b + 4,
                       p_b + 5, prcp_b, net_b)
    elif module == GRC:
        grc_mlp_step_b(prcp, pet, p[0], p[1], p[2], p[3], p[4], net, h[0], h[1], h[2], h[3], tape, tstride, q_b,
                       h_b, h_b + 1, h_b + 2, h_b + 3, p_b, p_b + 1, p_b + 2, p_b + 3, p_b + 4, prcp_b, net_b)
    elif module == GRD:
        grd_mlp_step_b(prcp, pet, p[0], p[1], net, h[0], h[1], tape, tstride, q_b, h_b, h_b + 1, p_b, p_b + 1,
                       prcp_b, net_b)
    else:
        loieau_mlp_step_b(prcp, pet, p[0], p[1], p[2], beta, net, h[0], h[1], tape, tstride, q_b, h_b, h_b + 1,
                          p_b, p_b + 1, p_b + 2, prcp_b, net_b)


cdef Mlp module_mlp(int module, const double[::1] net_params, net_sizes, str activation, params, states) except *:
    n_params, n_states, n_in, n_out = SHAPES[module][:4]
    if len(params) != n_params or len(states) != n_states:
        raise ValueError("parameters or states do not match the module")
    if int(net_sizes[0]) != n_in or int(net_sizes[len(net_sizes) - 1]) != n_out:
        raise ValueError(f"the module's network has {n_in} inputs and {n_out} outputs")
    return make_mlp(net_params, net_sizes, activation)


def _series(int module, const double[::1] prcp, const double[::1] pet, params, double beta, states,
            const double[::1] net_params, net_sizes, str activation):
    cdef Mlp net = module_mlp(module, net_params, net_sizes, activation, params, states)
    cdef Py_ssize_t n = prcp.shape[0], t, i, ns = len(states)
    cdef double[::1] p = np.array(params, dtype=np.float64)
    cdef double[::1] h = np.array(states, dtype=np.float64)
    q = np.empty(n)
    fl = np.empty((SHAPES[module][4], n))
    st = np.empty((ns, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    cdef double[:, ::1] tape = np.empty((SHAPES[module][5], 1))
    for i in range(ns):
        st_v[i, 0] = h[i]
    for t in range(n):
        q_v[t] = step(module, prcp[t], pet[t], &p[0], beta, &net, &h[0], &fl_v[0, t], n, &tape[0, 0], 1)
        for i in range(ns):
            st_v[i, t + 1] = h[i]
    return q, fl, st


def _series_b(int module, const double[::1] prcp, const double[::1] pet, params, double beta, states,
              const double[::1] net_params, net_sizes, str activation, const double[::1] q_b,
              const double[::1] states_b):
    cdef Mlp net = module_mlp(module, net_params, net_sizes, activation, params, states)
    cdef Py_ssize_t n = prcp.shape[0], t, i, ns = len(states)
    cdef double[::1] p = np.array(params, dtype=np.float64)
    cdef double[::1] h = np.array(states, dtype=np.float64)
    prcp_b = np.zeros(n)
    net_b = np.zeros(net_params.shape[0])
    params_b = np.zeros(len(params))
    h_b = np.array(states_b, dtype=np.float64)
    cdef double[::1] prcp_b_v = prcp_b
    cdef double[::1] net_b_v = net_b
    cdef double[::1] p_b = params_b
    cdef double[::1] hb = h_b
    cdef double[:, ::1] tape = np.empty((SHAPES[module][5], n))
    cdef double[:, ::1] st = np.empty((n, ns))
    for t in range(n):
        for i in range(ns):
            st[t, i] = h[i]
        step(module, prcp[t], pet[t], &p[0], beta, &net, &h[0], NULL, 0, &tape[0, t], n)
    for t in range(n - 1, -1, -1):
        step_b(module, prcp[t], pet[t], &p[0], beta, &net, &st[t, 0], &tape[0, t], n, q_b[t], &hb[0], &p_b[0],
               &prcp_b_v[t], &net_b_v[0])
    return params_b, h_b, prcp_b, net_b


# ------------------------------------------------------------------------------- named shims
def gr4_mlp_series(prcp, pet, double ci, double cp, double ct, double kexc, double beta, double hi, double hp,
                   double ht, net_params, net_sizes, str activation="leaky_relu", aexc=None):
    """Run hybrid GR4 (or GR5, when ``aexc`` is given) on one cell: ``(q, fluxes (15, n), states (3, n + 1))``;
    the fluxes end with the corrections f1..f4."""
    gr5 = aexc is not None
    params = (ci, cp, ct, kexc) + ((float(aexc),) if gr5 else ())
    return _series(GR5 if gr5 else GR4, prcp, pet, params, beta, (hi, hp, ht), net_params, net_sizes, activation)


def gr4_mlp_series_b(prcp, pet, double ci, double cp, double ct, double kexc, double beta, double hi, double hp,
                     double ht, net_params, net_sizes, q_b, states_b, str activation="leaky_relu", aexc=None):
    """Reverse of :func:`gr4_mlp_series`: ``(params_b (ci, cp, ct, kexc[, aexc]), states0_b (hi, hp, ht), prcp_b,
    net_params_b)``."""
    gr5 = aexc is not None
    params = (ci, cp, ct, kexc) + ((float(aexc),) if gr5 else ())
    return _series_b(GR5 if gr5 else GR4, prcp, pet, params, beta, (hi, hp, ht), net_params, net_sizes, activation,
                     q_b, states_b)


def gr6_mlp_series(prcp, pet, double ci, double cp, double ct, double be, double kexc, double aexc, double beta,
                   double hi, double hp, double ht, double he, net_params, net_sizes, str activation="leaky_relu"):
    """Run hybrid GR6 on one cell: ``(q, fluxes (18, n), states (4, n + 1))``; fluxes end with f1..f5."""
    return _series(GR6, prcp, pet, (ci, cp, ct, be, kexc, aexc), beta, (hi, hp, ht, he), net_params, net_sizes,
                   activation)


def gr6_mlp_series_b(prcp, pet, double ci, double cp, double ct, double be, double kexc, double aexc, double beta,
                     double hi, double hp, double ht, double he, net_params, net_sizes, q_b, states_b,
                     str activation="leaky_relu"):
    """Reverse of :func:`gr6_mlp_series`: ``(params_b (ci, cp, ct, be, kexc, aexc), states0_b (hi, hp, ht, he),
    prcp_b, net_params_b)``."""
    return _series_b(GR6, prcp, pet, (ci, cp, ct, be, kexc, aexc), beta, (hi, hp, ht, he), net_params, net_sizes,
                     activation, q_b, states_b)


def grc_mlp_series(prcp, pet, double ci, double cp, double ct, double cl, double kexc, double hi, double hp,
                   double ht, double hl, net_params, net_sizes, str activation="leaky_relu"):
    """Run hybrid GRC on one cell: ``(q, fluxes (18, n), states (4, n + 1))``; fluxes end with f1..f5."""
    return _series(GRC, prcp, pet, (ci, cp, ct, cl, kexc), 0.0, (hi, hp, ht, hl), net_params, net_sizes, activation)


def grc_mlp_series_b(prcp, pet, double ci, double cp, double ct, double cl, double kexc, double hi, double hp,
                     double ht, double hl, net_params, net_sizes, q_b, states_b, str activation="leaky_relu"):
    """Reverse of :func:`grc_mlp_series`: ``(params_b (ci, cp, ct, cl, kexc), states0_b (hi, hp, ht, hl), prcp_b,
    net_params_b)``."""
    return _series_b(GRC, prcp, pet, (ci, cp, ct, cl, kexc), 0.0, (hi, hp, ht, hl), net_params, net_sizes,
                     activation, q_b, states_b)


def grd_mlp_series(prcp, pet, double cp, double ct, double hp, double ht, net_params, net_sizes,
                   str activation="leaky_relu"):
    """Run hybrid GRD on one cell: ``(q, fluxes (11, n), states (2, n + 1))``; fluxes end with f1, f2."""
    return _series(GRD, prcp, pet, (cp, ct), 0.0, (hp, ht), net_params, net_sizes, activation)


def grd_mlp_series_b(prcp, pet, double cp, double ct, double hp, double ht, net_params, net_sizes, q_b, states_b,
                     str activation="leaky_relu"):
    """Reverse of :func:`grd_mlp_series`: ``(params_b (cp, ct), states0_b (hp, ht), prcp_b, net_params_b)``."""
    return _series_b(GRD, prcp, pet, (cp, ct), 0.0, (hp, ht), net_params, net_sizes, activation, q_b, states_b)


def loieau_mlp_series(prcp, pet, double ca, double cc, double kb, double beta, double ha, double hc, net_params,
                      net_sizes, str activation="leaky_relu"):
    """Run hybrid LOIEAU on one cell: ``(q, fluxes (14, n), states (2, n + 1))``; fluxes end with f1..f3."""
    return _series(LOIEAU, prcp, pet, (ca, cc, kb), beta, (ha, hc), net_params, net_sizes, activation)


def loieau_mlp_series_b(prcp, pet, double ca, double cc, double kb, double beta, double ha, double hc, net_params,
                        net_sizes, q_b, states_b, str activation="leaky_relu"):
    """Reverse of :func:`loieau_mlp_series`: ``(params_b (ca, cc, kb), states0_b (ha, hc), prcp_b,
    net_params_b)``."""
    return _series_b(LOIEAU, prcp, pet, (ca, cc, kb), beta, (ha, hc), net_params, net_sizes, activation, q_b,
                     states_b)
