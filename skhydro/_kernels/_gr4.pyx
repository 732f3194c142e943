"""Test shims for the GR4 point function (the driver inlines it from ``_gr4.pxd``)."""
import numpy as np

from skhydro._kernels._gr4 cimport gr4_step, gr4_step_b, GR4_NFLUX, GR4_NTAPE


def gr4_series(const double[::1] prcp, const double[::1] pet,
               double ci, double cp, double ct, double kexc, double beta,
               double hi, double hp, double ht, aexc=None):
    """Run GR4 (or GR5, when ``aexc`` is given) on one cell over a series.

    Returns ``(q, fluxes, states)``: runoff (mm per step), the internal fluxes (nflux, ntime) in the
    order of ``skhydro.structures`` and the state history (3, ntime + 1) of hi, hp, ht.
    """
    cdef Py_ssize_t n = prcp.shape[0], t
    cdef bint e5 = aexc is not None
    cdef double a = aexc if e5 else 0.0
    q = np.empty(n)
    fl = np.empty((GR4_NFLUX, n))
    st = np.empty((3, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0] = hi
    st_v[1, 0] = hp
    st_v[2, 0] = ht
    for t in range(n):
        q_v[t] = gr4_step(prcp[t], pet[t], ci, cp, ct, kexc, a, e5, beta, &hi, &hp, &ht, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1] = hi
        st_v[1, t + 1] = hp
        st_v[2, t + 1] = ht
    return q, fl, st


def gr4_series_b(const double[::1] prcp, const double[::1] pet,
                 double ci, double cp, double ct, double kexc, double beta,
                 double hi, double hp, double ht, const double[::1] q_b, const double[::1] states_b,
                 aexc=None):
    """Reverse of :func:`gr4_series` (one cell).

    ``q_b`` (ntime,) is the adjoint of the runoff series, ``states_b`` (3,) that of the final
    (hi, hp, ht). Returns ``(params_b, states0_b, prcp_b)``: gradients with respect to (ci, cp, ct, kexc)
    (and aexc for GR5), the initial (hi, hp, ht) and the precipitation series.
    """
    cdef Py_ssize_t n = prcp.shape[0], t
    prcp_b = np.zeros(n)
    cdef double[::1] prcp_b_v = prcp_b
    cdef bint e5 = aexc is not None
    cdef double a = aexc if e5 else 0.0, aexc_b = 0.0
    tape = np.empty((GR4_NTAPE, n))
    st = np.empty((3, n))
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    for t in range(n):  # forward, recording the start-of-step states and the tape
        st_v[0, t] = hi
        st_v[1, t] = hp
        st_v[2, t] = ht
        gr4_step(prcp[t], pet[t], ci, cp, ct, kexc, a, e5, beta, &hi, &hp, &ht, NULL, 0, &tape_v[0, t], n)
    cdef double hi_b = states_b[0], hp_b = states_b[1], ht_b = states_b[2]
    cdef double ci_b = 0.0, cp_b = 0.0, ct_b = 0.0, kexc_b = 0.0
    for t in range(n - 1, -1, -1):
        gr4_step_b(prcp[t], pet[t], ci, cp, ct, kexc, a, e5, beta, st_v[0, t], st_v[1, t], st_v[2, t],
                   &tape_v[0, t], n, q_b[t], &hi_b, &hp_b, &ht_b, &ci_b, &cp_b, &ct_b, &kexc_b, &aexc_b, &prcp_b_v[t])
    params_b = [ci_b, cp_b, ct_b, kexc_b] + ([aexc_b] if e5 else [])
    return np.array(params_b), np.array([hi_b, hp_b, ht_b]), prcp_b
