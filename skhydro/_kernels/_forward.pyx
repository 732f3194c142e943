"""Forward time loop: snow -> hydrological -> routing operators, step by step.

Cells are stored as a vector of the active cells sorted upstream to downstream (by flow partition), so
the hydrological operator is one contiguous, embarrassingly parallel loop and every routing level is a
contiguous slice whose cells are independent of each other.

:func:`run_segment` advances the model over steps ``[t0, t1)`` in place (states and routing buffers),
which is what a checkpointed reverse sweep needs to recompute one segment at a time.
"""
cimport cython
from cython.parallel cimport prange
from libc.string cimport memcpy

from skhydro._kernels._gr4 cimport gr4_step, GR4_NFLUX
from skhydro._kernels._routing cimport (
    ROUTING_ZERO, ROUTING_LAG0, ROUTING_LR, ROUTING_KW, upstream_sum, lr_cell, kw_cell,
)

cdef enum:
    HYDRO_GR4 = 1

# Routing levels smaller than this are routed by one thread: waking threads costs more than they save.
cdef Py_ssize_t MIN_PARALLEL_LEVEL = 2048

HYDRO_CODES = {"gr4": HYDRO_GR4}
ROUTING_CODES = {"zero": ROUTING_ZERO, "lag0": ROUTING_LAG0, "lr": ROUTING_LR, "kw": ROUTING_KW}
HYDRO_NFLUX = {"gr4": GR4_NFLUX}


cdef struct Model:
    int hydro
    int routing
    Py_ssize_t nac
    double dt
    double beta
    const double* hparams      # (n_hydro_params, nac)
    double* hstates            # (n_hydro_states, nac)
    const double* rparams      # (n_routing_params, nac)
    double* rstates            # (n_routing_states, nac)
    double* qt                 # (nac,) local runoff of the step, m3/s
    double* q                  # (nac,) routed discharge of the step, m3/s
    double* qt_prev            # previous step's qt and q (kw)
    double* q_prev
    const double* qt_factor    # mm/dt -> m3/s
    const double* area_up      # upstream area, m2 (lr)
    const double* dt_over_dx   # kw
    const int* up_ptr
    const int* up_idx


cdef void hydro_block(Model* m, const double* prcp, const double* pet, Py_ssize_t k0, Py_ssize_t k1,
                      double* fluxes) noexcept nogil:
    cdef Py_ssize_t k, n = m.nac
    cdef const double* p = m.hparams
    cdef double* s = m.hstates
    cdef double* f = NULL
    if m.hydro == HYDRO_GR4:
        for k in range(k0, k1):
            if fluxes != NULL:
                f = fluxes + k
            m.qt[k] = m.qt_factor[k] * gr4_step(
                prcp[k], pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], m.beta,
                s + k, s + n + k, s + 2 * n + k, f, n)
            if f != NULL:
                f[GR4_NFLUX * n] = m.qt[k]


cdef inline void route_cell(Model* m, Py_ssize_t k, double* qup_out) noexcept nogil:
    cdef double qup = upstream_sum(m.q, m.up_idx, m.up_ptr[k], m.up_ptr[k + 1])
    if qup_out != NULL:
        qup_out[k] = qup
    if m.routing == ROUTING_LAG0:
        m.q[k] = m.qt[k] + qup
    elif m.routing == ROUTING_LR:
        m.q[k] = lr_cell(m.qt[k], qup, m.rstates + k, m.rparams[k], m.dt, m.area_up[k])
    elif m.routing == ROUTING_KW:
        m.q[k] = kw_cell(m.qt[k], m.qt_prev[k], m.q_prev[k], qup,
                         m.rparams[k], m.rparams[m.nac + k], m.dt_over_dx[k])


@cython.boundscheck(False)
@cython.wraparound(False)
def run_segment(
    str hydro, str routing, Py_ssize_t t0, Py_ssize_t t1,
    const double[:, ::1] prcp, const double[:, ::1] pet,
    const double[:, ::1] hparams, double[:, ::1] hstates,
    const double[:, ::1] rparams, double[:, ::1] rstates,
    double[:, ::1] buffers,
    const double[::1] qt_factor, const double[::1] area_up, const double[::1] dt_over_dx,
    const int[::1] up_ptr, const int[::1] up_idx, const int[::1] level_ptr, bint first_level_routed,
    const int[::1] gauge_idx, double dt, double beta,
    double[:, ::1] q_gauge, double[:, ::1] q_cells, double[:, :, ::1] fluxes,
    int num_threads=1,
):
    """Advance the model over steps ``[t0, t1)``, updating states and buffers in place.

    Parameters
    ----------
    prcp, pet : (ntime, nac) forcing of the active cells in routing order, mm per step (< 0: missing).
    hparams, hstates : hydrological parameters and states, (n, nac).
    rparams, rstates : routing parameters and states, (n, nac) (may have zero rows).
    buffers : (2, nac) local runoff and routed discharge of the last completed step (kw needs them).
    level_ptr : start of each routing level in the cell vector, plus nac.
    first_level_routed : False when level 0 holds source cells (their discharge is their runoff).
    q_gauge : (t1 - t0, ng) output, routed discharge at the gauges.
    q_cells : (t1 - t0, nac) output or an array with zero rows.
    fluxes : (t1 - t0, nflux, nac) output or an array with zero rows.
    """
    cdef Model m
    cdef Py_ssize_t nac = prcp.shape[1], ng = gauge_idx.shape[0]
    cdef Py_ssize_t t, k, g, lev, k0, k1, chunk, nchunk
    cdef Py_ssize_t nlevel = level_ptr.shape[0] - 1
    cdef bint keep_q = q_cells.shape[0] > 0
    cdef bint keep_fluxes = fluxes.shape[0] > 0
    cdef int hydro_nflux = 0
    cdef double* fl = NULL
    cdef double* qup_out = NULL
    cdef const double* pr
    cdef const double* pe

    if nac == 0:
        return
    m.hydro = HYDRO_CODES[hydro]
    m.routing = ROUTING_CODES[routing]
    hydro_nflux = HYDRO_NFLUX[hydro]
    m.nac = nac
    m.dt = dt
    m.beta = beta
    m.hparams = &hparams[0, 0]
    m.hstates = &hstates[0, 0]
    m.rparams = &rparams[0, 0] if rparams.shape[0] > 0 else NULL
    m.rstates = &rstates[0, 0] if rstates.shape[0] > 0 else NULL
    m.qt_prev = &buffers[0, 0]
    m.q_prev = &buffers[1, 0]
    m.qt_factor = &qt_factor[0]
    m.area_up = &area_up[0]
    m.dt_over_dx = &dt_over_dx[0]
    m.up_ptr = &up_ptr[0]
    m.up_idx = &up_idx[0] if up_idx.shape[0] > 0 else NULL

    import numpy as np
    work = np.empty((2, nac))
    cdef double[:, ::1] work_v = work
    m.qt = &work_v[0, 0]
    m.q = &work_v[1, 0]

    nchunk = num_threads if num_threads > 1 else 1
    with nogil:
        for t in range(t0, t1):
            pr = &prcp[t, 0]
            pe = &pet[t, 0]
            if keep_fluxes:
                fl = &fluxes[t - t0, 0, 0]
                qup_out = fl + (hydro_nflux + 1) * nac
            # local operators: independent cells
            if nchunk > 1:
                for chunk in prange(nchunk, schedule="static", num_threads=num_threads):
                    hydro_block(&m, pr, pe, (chunk * nac) // nchunk, ((chunk + 1) * nac) // nchunk, fl)
            else:
                hydro_block(&m, pr, pe, 0, nac, fl)
            # routing: levels in order, cells of one level independent
            memcpy(m.q, m.qt, nac * sizeof(double))
            if m.routing != ROUTING_ZERO:
                for lev in range(0 if first_level_routed else 1, nlevel):
                    k0 = level_ptr[lev]
                    k1 = level_ptr[lev + 1]
                    if nchunk > 1 and k1 - k0 >= MIN_PARALLEL_LEVEL:
                        for k in prange(k0, k1, schedule="static", num_threads=num_threads):
                            route_cell(&m, k, qup_out)
                    else:
                        for k in range(k0, k1):
                            route_cell(&m, k, qup_out)
            for g in range(ng):
                q_gauge[t - t0, g] = m.q[gauge_idx[g]]
            if keep_q:
                memcpy(&q_cells[t - t0, 0], m.q, nac * sizeof(double))
            memcpy(m.qt_prev, m.qt, nac * sizeof(double))
            memcpy(m.q_prev, m.q, nac * sizeof(double))
