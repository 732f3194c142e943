# Routing operators: point functions for one cell and one time step, and their reverse twins.
#
# Equations: ../shared/spec/forward.md §7. Discharges are in m³/s. ``qup`` is the sum of the routed
# discharge of the cell's upstream neighbours at the current step (already final: upstream cells are
# visited first). A reverse twin returns the adjoint of ``qup``; the driver hands it to every upstream
# neighbour (each cell has one receiver, so cells of one level never write to the same neighbour).
from libc.math cimport exp, log
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


cdef inline double lr_decay(double llr, double dt) noexcept nogil:
    """The reservoir's decay factor over one step, exp(-dt / (60 llr)) (llr in minutes): a constant of the
    cell that the driver forms once per run rather than once per step."""
    return exp(-dt / (60.0 * llr))


cdef inline double lr_cell(double qt, double qup, double* hlr, double decay, double dt,
                           double area_up) noexcept nogil:
    """Linear reservoir on the upstream inflow; the cell's own runoff bypasses it. ``decay`` is
    :func:`lr_decay` of the cell's llr."""
    cdef double hstar = hlr[0] + qup * dt / (1e-3 * area_up)
    hlr[0] = hstar * decay
    return qt + (hstar - hlr[0]) * 1e-3 * area_up / dt


cdef inline double lr_cell_b(double qup, double hlr, double llr, double e, double dt, double area_up,
                             double q_b, double* hlr_b, double* llr_b, double* qt_b) noexcept nogil:
    """Reverse of :func:`lr_cell` from the start-of-step level ``hlr``; returns the adjoint of ``qup``.

    On entry ``hlr_b`` holds the adjoint of the end-of-step level, on exit that of the start-of-step one;
    ``e`` is :func:`lr_decay` of ``llr``.
    """
    cdef double c = 1e-3 * area_up / dt
    cdef double hstar = hlr + qup / c
    cdef double hstar_b = hlr_b[0] * e + q_b * c * (1.0 - e)
    cdef double e_b = (hlr_b[0] - q_b * c) * hstar
    qt_b[0] += q_b
    llr_b[0] += e_b * e * dt / (60.0 * llr * llr)
    hlr_b[0] = hstar_b
    return hstar_b / c


cdef inline double kw_cell(double qt, double qt_prev, double q_prev, double qup,
                           double akw, double bkw, double dt_over_dx, double* tape,
                           Py_ssize_t tstride) noexcept nogil:
    """Linearised implicit kinematic wave (A = akw * Q^bkw), all inputs floored at 1e-6.

    ``tape`` (may be NULL) receives what the reverse step needs: the storage derivative d2 and the log
    of the mean discharge (the power is formed as exp(b log m), which costs what ``pow`` does).
    """
    cdef double eps = 1e-6
    cdef double qu = dmax(eps, qup)
    cdef double qp = dmax(eps, q_prev)
    cdef double lat = 0.5 * (dmax(eps, qt_prev) + dmax(eps, qt))
    cdef double lm = log(0.5 * (qp + qu))
    cdef double d2 = akw * bkw * exp((bkw - 1.0) * lm)
    if tape != NULL:
        tape[0] = d2
        tape[tstride] = lm
    return (dt_over_dx * (qu + lat) + d2 * qp) / (dt_over_dx + d2)


cdef inline double kw_cell_b(double qt, double qt_prev, double q_prev, double qup, double q,
                             double akw, double bkw, double dt_over_dx, double d2, double lm, double q_b,
                             double* qt_b, double* qt_prev_b, double* q_prev_b,
                             double* akw_b, double* bkw_b) noexcept nogil:
    """Reverse of :func:`kw_cell` given its output ``q`` and recorded ``d2``, ``lm``; returns the adjoint
    of ``qup``.

    Adjoints of ``qt``, of the previous step's ``qt_prev`` and ``q_prev`` and of the parameters are
    accumulated.
    """
    cdef double eps = 1e-6
    cdef double qu = dmax(eps, qup)
    cdef double qp = dmax(eps, q_prev)
    cdef double den = dt_over_dx + d2
    cdef double num_b = q_b / den
    cdef double d2_b = num_b * qp - q_b * q / den
    cdef double qu_b = num_b * dt_over_dx
    cdef double lat_b = qu_b
    cdef double qp_b = num_b * d2
    cdef double m = 0.5 * (qp + qu)
    cdef double m_b = d2_b * d2 * (bkw - 1.0) / m
    akw_b[0] += d2_b * d2 / akw
    bkw_b[0] += d2_b * d2 * (1.0 / bkw + lm)
    qp_b += 0.5 * m_b
    qu_b += 0.5 * m_b
    if not (eps > qt_prev):
        qt_prev_b[0] += 0.5 * lat_b
    if not (eps > qt):
        qt_b[0] += 0.5 * lat_b
    if not (eps > q_prev):
        q_prev_b[0] += qp_b
    return 0.0 if eps > qup else qu_b
