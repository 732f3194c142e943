"""Test shims for the LOIEAU point function (the driver inlines it from ``_loieau.pxd``)."""
import numpy as np

from skhydro._kernels._loieau cimport loieau_step, loieau_step_b, LOIEAU_NFLUX, LOIEAU_NTAPE


def loieau_series(const double[::1] prcp, const double[::1] pet, double ca, double cc, double kb, double beta,
                  double ha, double hc):
    """Run LOIEAU on one cell: ``(q, fluxes (LOIEAU_NFLUX, n), states (2, n + 1))``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((LOIEAU_NFLUX, n))
    st = np.empty((2, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0], st_v[1, 0] = ha, hc
    for t in range(n):
        q_v[t] = loieau_step(prcp[t], pet[t], ca, cc, kb, beta, &ha, &hc, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1], st_v[1, t + 1] = ha, hc
    return q, fl, st


def loieau_series_b(const double[::1] prcp, const double[::1] pet, double ca, double cc, double kb, double beta,
                    double ha, double hc, const double[::1] q_b, const double[::1] states_b):
    """Reverse of :func:`loieau_series`: ``(params_b (ca, cc, kb), states0_b (ha, hc), prcp_b)``."""
    cdef Py_ssize_t n = prcp.shape[0], t
    tape = np.empty((LOIEAU_NTAPE, n))
    st = np.empty((2, n))
    prcp_b = np.zeros(n)
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    cdef double[::1] prcp_b_v = prcp_b
    for t in range(n):
        st_v[0, t], st_v[1, t] = ha, hc
        loieau_step(prcp[t], pet[t], ca, cc, kb, beta, &ha, &hc, NULL, 0, &tape_v[0, t], n)
    cdef double ha_b = states_b[0], hc_b = states_b[1], ca_b = 0.0, cc_b = 0.0, kb_b = 0.0
    for t in range(n - 1, -1, -1):
        loieau_step_b(prcp[t], pet[t], ca, cc, kb, beta, st_v[0, t], st_v[1, t], &tape_v[0, t], n, q_b[t],
                      &ha_b, &hc_b, &ca_b, &cc_b, &kb_b, &prcp_b_v[t])
    return np.array([ca_b, cc_b, kb_b]), np.array([ha_b, hc_b]), prcp_b
