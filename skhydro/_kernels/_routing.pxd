# Routing operators: point functions for one cell and one time step.
#
# Equations: ../shared/spec/forward.md §7. Discharges are in m³/s. ``qup`` is the sum of the routed
# discharge of the cell's upstream neighbours at the current step (already final: upstream cells are
# visited first).
from libc.math cimport exp, pow
from skhydro._kernels._common cimport dmax

cdef enum:
    ROUTING_ZERO = 0
    ROUTING_LAG0 = 1
    ROUTING_LR = 2
    ROUTING_KW = 3

cdef inline double upstream_sum(const double* q, const int* up_idx, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t j
    for j in range(j0, j1):
        s = s + q[up_idx[j]]
    return s


cdef inline double lr_cell(double qt, double qup, double* hlr, double llr, double dt,
                           double area_up) noexcept nogil:
    """Linear reservoir on the upstream inflow; the cell's own runoff bypasses it. llr in minutes."""
    cdef double hstar = hlr[0] + qup * dt / (1e-3 * area_up)
    hlr[0] = hstar * exp(-dt / (60.0 * llr))
    return qt + (hstar - hlr[0]) * 1e-3 * area_up / dt


cdef inline double kw_cell(double qt, double qt_prev, double q_prev, double qup,
                           double akw, double bkw, double dt_over_dx) noexcept nogil:
    """Linearised implicit kinematic wave (A = akw * Q^bkw), all inputs floored at 1e-6."""
    cdef double eps = 1e-6
    cdef double qu = dmax(eps, qup)
    cdef double qp = dmax(eps, q_prev)
    cdef double lat = 0.5 * (dmax(eps, qt_prev) + dmax(eps, qt))
    cdef double d2 = akw * bkw * pow(0.5 * (qp + qu), bkw - 1.0)
    return (dt_over_dx * (qu + lat) + d2 * qp) / (dt_over_dx + d2)
