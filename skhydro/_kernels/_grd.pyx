"""Test shims for the GRD point function (the driver inlines it from ``_grd.pxd``)."""
import numpy as np

from skhydro._kernels._grd cimport grd_step, grd_step_b, GRD_NFLUX, GRD_NTAPE


def grd_series(const double[::1] prcp, const double[::1] pet, double cp, double ct, double hp, double ht):
    """Run GRD on one cell: ``(q, fluxes (GRD_NFLUX, n), states (2, n + 1))``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((GRD_NFLUX, n))
    st = np.empty((2, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0] = hp
    st_v[1, 0] = ht
    for t in range(n):
        q_v[t] = grd_step(prcp[t], pet[t], cp, ct, &hp, &ht, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1] = hp
        st_v[1, t + 1] = ht
    return q, fl, st


def grd_series_b(const double[::1] prcp, const double[::1] pet, double cp, double ct, double hp, double ht,
                 const double[::1] q_b, const double[::1] states_b):
    """Reverse of :func:`grd_series`: ``(params_b (cp, ct), states0_b (hp, ht), prcp_b)``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    prcp_b = np.zeros(n)
    cdef double[::1] prcp_b_v = prcp_b
    tape = np.empty((GRD_NTAPE, n))
    st = np.empty((2, n))
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    for t in range(n):
        st_v[0, t] = hp
        st_v[1, t] = ht
        grd_step(prcp[t], pet[t], cp, ct, &hp, &ht, NULL, 0, &tape_v[0, t], n)
    cdef double hp_b = states_b[0], ht_b = states_b[1], cp_b = 0.0, ct_b = 0.0
    for t in range(n - 1, -1, -1):
        grd_step_b(prcp[t], pet[t], cp, ct, st_v[0, t], st_v[1, t], &tape_v[0, t], n, q_b[t],
                   &hp_b, &ht_b, &cp_b, &ct_b, &prcp_b_v[t])
    return np.array([cp_b, ct_b]), np.array([hp_b, ht_b]), prcp_b
