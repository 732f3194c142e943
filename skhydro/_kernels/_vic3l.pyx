"""Test shims for the VIC3L point function (the driver inlines it from ``_vic3l.pxd``)."""
import numpy as np

from skhydro._kernels._vic3l cimport vic3l_step, vic3l_step_b, VIC3L_NFLUX, VIC3L_NTAPE


def vic3l_series(const double[::1] prcp, const double[::1] pet, double b, double cusl, double cmsl, double cbsl,
                 double ks, double pbc, double ds, double dsm, double ws,
                 double hcl, double husl, double hmsl, double hbsl):
    """Run VIC3L on one cell.

    Returns
    -------
    q : ndarray (n,)
        Local runoff qr + qb, mm per step.
    fluxes : ndarray (VIC3L_NFLUX, n)
        pn, en, qr, qb.
    states : ndarray (4, n + 1)
        hcl, husl, hmsl, hbsl at the start of each step and after the last.
    """
    cdef Py_ssize_t n = prcp.shape[0], t
    q = np.empty(n)
    fl = np.empty((VIC3L_NFLUX, n))
    st = np.empty((4, n + 1))
    cdef double[::1] q_v = q
    cdef double[:, ::1] fl_v = fl
    cdef double[:, ::1] st_v = st
    st_v[0, 0], st_v[1, 0], st_v[2, 0], st_v[3, 0] = hcl, husl, hmsl, hbsl
    for t in range(n):
        q_v[t] = vic3l_step(prcp[t], pet[t], b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws,
                            &hcl, &husl, &hmsl, &hbsl, &fl_v[0, t], n, NULL, 0)
        st_v[0, t + 1], st_v[1, t + 1], st_v[2, t + 1], st_v[3, t + 1] = hcl, husl, hmsl, hbsl
    return q, fl, st


def vic3l_series_b(const double[::1] prcp, const double[::1] pet, double b, double cusl, double cmsl,
                   double cbsl, double ks, double pbc, double ds, double dsm, double ws,
                   double hcl, double husl, double hmsl, double hbsl,
                   const double[::1] q_b, const double[::1] states_b):
    """Reverse of :func:`vic3l_series` for the output adjoints ``q_b`` (n,) and ``states_b`` (4,) (final states).

    Returns
    -------
    params_b : ndarray (9,)
        Adjoints of b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws.
    states0_b : ndarray (4,)
        Adjoints of the initial hcl, husl, hmsl, hbsl.
    prcp_b : ndarray (n,)
        Adjoint of each step's precipitation (0 on steps with missing forcings).
    """
    cdef Py_ssize_t n = prcp.shape[0], t
    tape = np.empty((VIC3L_NTAPE, n))
    st = np.empty((4, n))
    prcp_b = np.zeros(n)
    pb = np.zeros(9)
    cdef double[:, ::1] tape_v = tape
    cdef double[:, ::1] st_v = st
    cdef double[::1] prcp_b_v = prcp_b
    cdef double[::1] pb_v = pb
    for t in range(n):
        st_v[0, t], st_v[1, t], st_v[2, t], st_v[3, t] = hcl, husl, hmsl, hbsl
        vic3l_step(prcp[t], pet[t], b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws,
                   &hcl, &husl, &hmsl, &hbsl, NULL, 0, &tape_v[0, t], n)
    cdef double hcl_b = states_b[0], husl_b = states_b[1], hmsl_b = states_b[2], hbsl_b = states_b[3]
    for t in range(n - 1, -1, -1):
        vic3l_step_b(prcp[t], pet[t], b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws,
                     st_v[0, t], st_v[1, t], st_v[2, t], st_v[3, t], &tape_v[0, t], n, q_b[t],
                     &hcl_b, &husl_b, &hmsl_b, &hbsl_b, &pb_v[0], &pb_v[1], &pb_v[2], &pb_v[3], &pb_v[4],
                     &pb_v[5], &pb_v[6], &pb_v[7], &pb_v[8], &prcp_b_v[t])
    return pb, np.array([hcl_b, husl_b, hmsl_b, hbsl_b]), prcp_b
