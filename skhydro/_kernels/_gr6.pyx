"""Test shims for the GR6 point function (the driver inlines it from ``_gr6.pxd``)."""
import numpy as np

from skhydro._kernels._gr6 cimport gr6_step, gr6_step_b, GR6_NFLUX, GR6_NTAPE


def gr6_series(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double be,
               double kexc, double aexc, double beta, double hi, double hp, double ht, double he):
    """Run GR6 on one cell: ``(q, fluxes (GR6_NFLUX, n), states (4, n + 1))``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((GR6_NFLUX, n))
    st = np.empty((4, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0], st_v[1, 0], st_v[2, 0], st_v[3, 0] = hi, hp, ht, he
    for t in range(n):
        q_v[t] = gr6_step(prcp[t], pet[t], ci, cp, ct, be, kexc, aexc, beta, &hi, &hp, &ht, &he,
                          &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1], st_v[1, t + 1], st_v[2, t + 1], st_v[3, t + 1] = hi, hp, ht, he
    return q, fl, st


def gr6_series_b(const double[::1] prcp, const double[::1] pet, double ci, double cp, double ct, double be,
                 double kexc, double aexc, double beta, double hi, double hp, double ht, double he,
                 const double[::1] q_b, const double[::1] states_b):
    """Reverse of :func:`gr6_series`: ``(params_b (ci, cp, ct, be, kexc, aexc), states0_b (hi, hp, ht, he), prcp_b)``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    prcp_b = np.zeros(n)
    cdef double[::1] prcp_b_v = prcp_b
    tape = np.empty((GR6_NTAPE, n))
    st = np.empty((4, n))
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    for t in range(n):
        st_v[0, t], st_v[1, t], st_v[2, t], st_v[3, t] = hi, hp, ht, he
        gr6_step(prcp[t], pet[t], ci, cp, ct, be, kexc, aexc, beta, &hi, &hp, &ht, &he, NULL, 0, &tape_v[0, t], n)
    cdef double hi_b = states_b[0], hp_b = states_b[1], ht_b = states_b[2], he_b = states_b[3]
    cdef double ci_b = 0.0, cp_b = 0.0, ct_b = 0.0, be_b = 0.0, kexc_b = 0.0, aexc_b = 0.0
    for t in range(n - 1, -1, -1):
        gr6_step_b(prcp[t], pet[t], ci, cp, ct, be, kexc, aexc, beta, st_v[0, t], st_v[1, t], st_v[2, t],
                   st_v[3, t], &tape_v[0, t], n, q_b[t], &hi_b, &hp_b, &ht_b, &he_b,
                   &ci_b, &cp_b, &ct_b, &be_b, &kexc_b, &aexc_b, &prcp_b_v[t])
    return np.array([ci_b, cp_b, ct_b, be_b, kexc_b, aexc_b]), np.array([hi_b, hp_b, ht_b, he_b]), prcp_b
