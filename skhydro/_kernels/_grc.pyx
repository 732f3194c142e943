"""Test shims for the GRC point function (the driver inlines it from ``_grc.pxd``)."""
import numpy as np

from skhydro._kernels._grc cimport grc_step, grc_step_b, GRC_NFLUX, GRC_NTAPE


def grc_series(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double cl,
               double kexc, double hi, double hp, double ht, double hl):
    """Run GRC on one cell: ``(q, fluxes (GRC_NFLUX, n), states (4, n + 1))``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((GRC_NFLUX, n))
    st = np.empty((4, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0], st_v[1, 0], st_v[2, 0], st_v[3, 0] = hi, hp, ht, hl
    for t in range(n):
        q_v[t] = grc_step(prcp[t], pet[t], ci, cp, ct, cl, kexc, &hi, &hp, &ht, &hl, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1], st_v[1, t + 1], st_v[2, t + 1], st_v[3, t + 1] = hi, hp, ht, hl
    return q, fl, st


def grc_series_b(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double cl,
                 double kexc, double hi, double hp, double ht, double hl, const double[::1] q_b,
                 const double[::1] states_b):
    """Reverse of :func:`grc_series`: ``(params_b (ci, cp, ct, cl, kexc), states0_b (hi, hp, ht, hl), prcp_b)``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    prcp_b = np.zeros(n)
    cdef double[::1] prcp_b_v = prcp_b
    tape = np.empty((GRC_NTAPE, n))
    st = np.empty((4, n))
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    for t in range(n):
        st_v[0, t], st_v[1, t], st_v[2, t], st_v[3, t] = hi, hp, ht, hl
        grc_step(prcp[t], pet[t], ci, cp, ct, cl, kexc, &hi, &hp, &ht, &hl, NULL, 0, &tape_v[0, t], n)
    cdef double hi_b = states_b[0], hp_b = states_b[1], ht_b = states_b[2], hl_b = states_b[3]
    cdef double ci_b = 0.0, cp_b = 0.0, ct_b = 0.0, cl_b = 0.0, kexc_b = 0.0
    for t in range(n - 1, -1, -1):
        grc_step_b(prcp[t], pet[t], ci, cp, ct, cl, kexc, st_v[0, t], st_v[1, t], st_v[2, t], st_v[3, t],
                   &tape_v[0, t], n, q_b[t], &hi_b, &hp_b, &ht_b, &hl_b, &ci_b, &cp_b, &ct_b, &cl_b, &kexc_b, &prcp_b_v[t])
    return np.array([ci_b, cp_b, ct_b, cl_b, kexc_b]), np.array([hi_b, hp_b, ht_b, hl_b]), prcp_b
