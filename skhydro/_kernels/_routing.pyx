"""Test shims for the routing point functions (the driver inlines them from ``_routing.pxd``)."""
import numpy as np

from skhydro._kernels._routing cimport lr_cell, kw_cell


def lr_series(const double[::1] qt, const double[::1] qup, double llr, double dt, double area_up,
              double hlr):
    """Route one cell with the linear reservoir over a series; returns ``(q, hlr_history)``."""
    cdef Py_ssize_t n = qt.shape[0], t
    q = np.empty(n)
    h = np.empty(n + 1)
    cdef double[::1] q_v = q
    cdef double[::1] h_v = h
    h_v[0] = hlr
    for t in range(n):
        q_v[t] = lr_cell(qt[t], qup[t], &hlr, llr, dt, area_up)
        h_v[t + 1] = hlr
    return q, h


def kw_series(const double[::1] qt, const double[::1] qup, double akw, double bkw,
              double dt_over_dx):
    """Route one cell with the kinematic wave over a series starting from zero buffers."""
    cdef Py_ssize_t n = qt.shape[0], t
    q = np.empty(n)
    cdef double[::1] q_v = q
    cdef double qt_prev = 0.0, q_prev = 0.0
    for t in range(n):
        q_v[t] = kw_cell(qt[t], qt_prev, q_prev, qup[t], akw, bkw, dt_over_dx, NULL, 0)
        qt_prev = qt[t]
        q_prev = q_v[t]
    return q
