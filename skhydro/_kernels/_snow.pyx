"""Test shims for the snow operator (the driver inlines it from ``_snow.pxd``)."""
import numpy as np

from skhydro._kernels._snow cimport ssn_step, ssn_step_b


def ssn_series(const double[::1] snow, const double[::1] temp, double kmlt, double hs):
    """Run the degree-day store on one cell: ``(melt (n,), hs history (n + 1,))``."""
    cdef Py_ssize_t n = snow.shape[0], t
    mlt = np.empty(n)
    levels = np.empty(n + 1)
    cdef double[::1] m_v = mlt
    cdef double[::1] l_v = levels
    l_v[0] = hs
    for t in range(n):
        m_v[t] = ssn_step(snow[t], temp[t], kmlt, &hs)
        l_v[t + 1] = hs
    return mlt, levels


def ssn_series_b(const double[::1] snow, const double[::1] temp, double kmlt, double hs,
                 const double[::1] mlt_b, double hs_end_b):
    """Reverse of :func:`ssn_series`: ``(kmlt_b, hs0_b)``."""
    cdef Py_ssize_t n = snow.shape[0], t
    levels = np.empty(n)
    cdef double[::1] l_v = levels
    for t in range(n):
        l_v[t] = hs
        ssn_step(snow[t], temp[t], kmlt, &hs)
    cdef double hs_b = hs_end_b, kmlt_b = 0.0
    for t in range(n - 1, -1, -1):
        ssn_step_b(snow[t], temp[t], kmlt, l_v[t], mlt_b[t], &hs_b, &kmlt_b)
    return kmlt_b, hs_b
