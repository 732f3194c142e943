"""Interception-capacity adjustment (../shared/spec/forward.md §3.4), per cell, in float32 like the reference.

The capacity is chosen among 0.1, 0.2, ..., 2.9 mm so that the interception store alone evaporates, over
the simulation period, as much as the sum over days of min(daily rain, daily PET).
"""
import numpy as np
from cython.parallel cimport prange
from libc.math cimport fabsf


cdef enum:
    NCAND = 29


cdef void run_stores(const float* prcp, const float* pet, Py_ssize_t nt, const float* c,
                     float* evap) noexcept nogil:
    """Interception evaporation of one cell over the period, for every candidate capacity at once.

    The candidates are independent: running them side by side in the inner loop lets the compiler
    vectorise it instead of waiting on one store's division chain.
    """
    cdef Py_ssize_t t, i
    cdef float h[NCAND]
    cdef float p, e, ei, pn, en
    for i in range(NCAND):
        h[i] = 0.0
        evap[i] = 0.0
    for t in range(nt):
        p = prcp[t]
        e = pet[t]
        if p >= 0 and e >= 0:
            for i in range(NCAND):
                ei = min(e, p + h[i] * c[i])
                pn = max(<float>0.0, p - c[i] * (<float>1.0 - h[i]) - ei)
                en = e - ei
                h[i] = h[i] + (p - ei - pn) / c[i]
                evap[i] = evap[i] + (e - en)


def adjust_interception_capacity(const float[:, ::1] prcp, const float[:, ::1] pet,
                                 const Py_ssize_t[::1] day, Py_ssize_t nday, int num_threads=1):
    """Return the adjusted capacity of every cell.

    Parameters
    ----------
    prcp, pet : float32 (ncell, ntime), mm per step; negative values are missing. Cell-major so that
        each cell's series, replayed 29 times, stays in cache.
    day : (ntime,) index of the calendar day of each step's end stamp, 0 .. nday - 1.
    """
    cdef Py_ssize_t ncell = prcp.shape[0], nt = prcp.shape[1], k, t, i, d
    ci = np.empty(ncell)
    cdef double[::1] ci_v = ci
    daily = np.zeros((2, nday, ncell), dtype=np.float32)
    cdef float[:, :, ::1] dv = daily
    cdef float target, best_score, score, best_c, p, e
    cdef float step = 0.1
    cdef float cand[NCAND]
    # one row per cell: the prange threads must not share a scratch buffer
    evap_all = np.empty((ncell, NCAND), dtype=np.float32)
    cdef float[:, ::1] evap = evap_all
    for i in range(NCAND):
        cand[i] = step + i * step
    for k in range(ncell):
        for t in range(nt):
            d = day[t]
            p = prcp[k, t]
            e = pet[k, t]
            if p >= 0:
                dv[0, d, k] += p
            if e >= 0:
                dv[1, d, k] += e
    for k in prange(ncell, nogil=True, schedule="static", num_threads=max(num_threads, 1)):
        target = 0.0
        for d in range(nday):
            target = target + min(dv[0, d, k], dv[1, d, k])
        run_stores(&prcp[k, 0], &pet[k, 0], nt, cand, &evap[k, 0])
        best_score = -1.0
        best_c = 0.0
        for i in range(NCAND):
            score = fabsf(evap[k, i] - target)
            if best_score < 0 or score < best_score:  # first minimiser on ties
                best_score = score
                best_c = cand[i]
        ci_v[k] = best_c
    return ci
