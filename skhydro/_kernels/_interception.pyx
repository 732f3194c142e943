"""Interception-capacity adjustment (../shared/spec/forward.md §3.4), per cell, in float32 like the reference.

The capacity is chosen among 0.1, 0.2, ..., 2.9 mm so that the interception store alone evaporates, over
the simulation period, as much as the sum over days of min(daily rain, daily PET).
"""
import numpy as np
from cython.parallel cimport prange
from libc.math cimport fabsf


cdef float run_store(const float[:, ::1] prcp, const float[:, ::1] pet, Py_ssize_t k, float c) noexcept nogil:
    cdef Py_ssize_t t, nt = prcp.shape[0]
    cdef float h = 0.0, s = 0.0, p, e, ei, pn, en
    for t in range(nt):
        p = prcp[t, k]
        e = pet[t, k]
        if p >= 0 and e >= 0:
            ei = min(e, p + h * c)
            pn = max(<float>0.0, p - c * (<float>1.0 - h) - ei)
            en = e - ei
            h = h + (p - ei - pn) / c
            s = s + (e - en)
    return s


def adjust_interception_capacity(const float[:, ::1] prcp, const float[:, ::1] pet,
                                 const Py_ssize_t[::1] day, Py_ssize_t nday, int num_threads=1):
    """Return the adjusted capacity of every cell.

    Parameters
    ----------
    prcp, pet : float32 (ntime, ncell), mm per step; negative values are missing.
    day : (ntime,) index of the calendar day of each step's end stamp, 0 .. nday - 1.
    """
    cdef Py_ssize_t nt = prcp.shape[0], ncell = prcp.shape[1], k, t, i, d
    ci = np.empty(ncell)
    cdef double[::1] ci_v = ci
    daily = np.zeros((2, nday, ncell), dtype=np.float32)
    cdef float[:, :, ::1] dv = daily
    cdef float target, c, s, best_score, score, best_c, p, e
    cdef float step = 0.1
    for t in range(nt):
        d = day[t]
        for k in range(ncell):
            p = prcp[t, k]
            e = pet[t, k]
            if p >= 0:
                dv[0, d, k] += p
            if e >= 0:
                dv[1, d, k] += e
    for k in prange(ncell, nogil=True, schedule="static", num_threads=max(num_threads, 1)):
        target = 0.0
        for d in range(nday):
            target = target + min(dv[0, d, k], dv[1, d, k])
        best_score = -1.0
        best_c = 0.0
        for i in range(29):
            c = step + i * step
            s = run_store(prcp, pet, k, c)
            score = fabsf(s - target)
            if best_score < 0 or score < best_score:
                best_score = score
                best_c = c
        ci_v[k] = best_c
    return ci
