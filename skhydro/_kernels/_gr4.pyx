"""Test shims for the GR4 point function (the driver inlines it from ``_gr4.pxd``)."""
import numpy as np

from skhydro._kernels._gr4 cimport gr4_step, GR4_NFLUX


def gr4_series(const double[::1] prcp, const double[::1] pet,
               double ci, double cp, double ct, double kexc, double beta,
               double hi, double hp, double ht):
    """Run GR4 on one cell over a series.

    Returns ``(q, fluxes, states)``: runoff (mm per step), the internal fluxes (nflux, ntime) in the
    order of ``skhydro.structures`` and the state history (3, ntime + 1) of hi, hp, ht.
    """
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((GR4_NFLUX, n))
    st = np.empty((3, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0] = hi
    st_v[1, 0] = hp
    st_v[2, 0] = ht
    for t in range(n):
        q_v[t] = gr4_step(prcp[t], pet[t], ci, cp, ct, kexc, beta, &hi, &hp, &ht, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1] = hi
        st_v[1, t + 1] = hp
        st_v[2, t + 1] = ht
    return q, fl, st
