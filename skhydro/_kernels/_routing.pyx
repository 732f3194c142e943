"""Test shims for the routing point functions (the driver inlines them from ``_routing.pxd``)."""
import numpy as np

from skhydro._kernels._routing cimport lr_decay, lr_cell, lr_cell_b, kw_cell, kw_cell_b


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
        q_v[t] = lr_cell(qt[t], qup[t], &hlr, lr_decay(llr, dt), dt, area_up)
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


def lr_series_b(const double[::1] qt, const double[::1] qup, double llr, double dt, double area_up,
                double hlr, const double[::1] q_b, double hlr_final_b):
    """Reverse of :func:`lr_series`: returns ``(llr_b, hlr0_b, qt_b, qup_b)``."""
    cdef Py_ssize_t n = qt.shape[0], t
    h = np.empty(n)
    qt_b = np.zeros(n)
    qup_b = np.empty(n)
    cdef double[::1] h_v = h
    cdef double[::1] qt_b_v = qt_b
    cdef double[::1] qup_b_v = qup_b
    for t in range(n):
        h_v[t] = hlr
        lr_cell(qt[t], qup[t], &hlr, lr_decay(llr, dt), dt, area_up)
    cdef double hlr_b = hlr_final_b, llr_b = 0.0
    for t in range(n - 1, -1, -1):
        qup_b_v[t] = lr_cell_b(qup[t], h_v[t], llr, lr_decay(llr, dt), dt, area_up, q_b[t], &hlr_b, &llr_b, &qt_b_v[t])
    return llr_b, hlr_b, qt_b, qup_b


def kw_series_b(const double[::1] qt, const double[::1] qup, double akw, double bkw, double dt_over_dx,
                const double[::1] q_b):
    """Reverse of :func:`kw_series` (zero initial buffers): returns ``(akw_b, bkw_b, qt_b, qup_b)``."""
    cdef Py_ssize_t n = qt.shape[0], t
    q = np.empty(n)
    tape = np.empty((2, n))
    cdef double[::1] q_v = q
    cdef double[:, ::1] tape_v = tape
    cdef double qt_prev = 0.0, q_prev = 0.0
    for t in range(n):
        q_v[t] = kw_cell(qt[t], qt_prev, q_prev, qup[t], akw, bkw, dt_over_dx, &tape_v[0, t], n)
        qt_prev = qt[t]
        q_prev = q_v[t]
    qt_b = np.zeros(n)
    qup_b = np.empty(n)
    cdef double[::1] qt_b_v = qt_b
    cdef double[::1] qup_b_v = qup_b
    cdef double akw_b = 0.0, bkw_b = 0.0, q_next_b = 0.0, qt_prev_b, q_prev_b, total_b
    cdef double dummy = 0.0
    for t in range(n - 1, -1, -1):
        total_b = q_b[t] + q_next_b  # q(t) also feeds step t + 1 as its q_prev
        qt_prev_b = 0.0
        q_prev_b = 0.0
        qup_b_v[t] = kw_cell_b(qt[t], qt[t - 1] if t > 0 else 0.0, q_v[t - 1] if t > 0 else 0.0, qup[t], q_v[t],
                               akw, bkw, dt_over_dx, tape_v[0, t], tape_v[1, t], total_b,
                               &qt_b_v[t], &qt_prev_b if t > 0 else &dummy, &q_prev_b, &akw_b, &bkw_b)
        if t > 0:
            qt_b_v[t - 1] += qt_prev_b
        q_next_b = q_prev_b
    return akw_b, bkw_b, qt_b, qup_b
