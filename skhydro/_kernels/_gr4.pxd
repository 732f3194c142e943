# GR4 hydrological operator: point function for one cell and one time step.
#
# Equations: ../shared/spec/forward.md §6.0-6.2 (interception I, production P, exchange E4, transfer T5).
# States are normalised levels (hi, hp, ht); fluxes are depths in mm per time step.
from libc.math cimport tanh, sqrt
from skhydro._kernels._common cimport dmin, dmax, inv_fourth_root

# Internal fluxes written when ``fluxes`` is not NULL (stride ``fstride`` between names).
# Order follows the reference: pn, en, pr, perc, ps, es, lexc, prr, prd, qr, qd (qt is added by the driver).
cdef enum:
    GR4_NFLUX = 11

cdef inline double transfer_store(double* h, double c, double x, bint prcp_missing) noexcept nogil:
    """Non-linear transfer store with exponent 5 (T5). Returns its outflow in mm.

    The reference writes the outflow law on levels in mm, h <- ((h c)^-4 + c^-4)^(-1/4) / c; divided
    through by c it is h <- h / (1 + h^4)^(1/4) on the normalised level, with no power of c to form.
    """
    cdef double hstar, hnew, y
    if prcp_missing:
        # inflow that leaves the level unchanged (reference behaviour on missing rain):
        # the level before the outflow is h / (1 - h^4)^(1/4)
        y = h[0] * h[0]
        hstar = dmax(1e-6, h[0] * inv_fourth_root(1.0 - y * y))
    else:
        hstar = dmax(1e-6, h[0] + x / c)
    y = hstar * hstar
    hnew = hstar * inv_fourth_root(1.0 + y * y)
    h[0] = hnew
    return (hstar - hnew) * c


cdef inline double gr4_step(
    double prcp, double pet,
    double ci, double cp, double ct, double kexc, double beta,
    double* hi, double* hp, double* ht,
    double* fluxes, Py_ssize_t fstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm)."""
    cdef double ei = 0.0, pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0
    cdef double lexc = 0.0, prr = 0.0, prd = 0.0, qr, qd
    cdef double h, tp, te, hstar, r4, icp
    if prcp >= 0.0 and pet >= 0.0:
        # interception store
        ei = dmin(pet, prcp + hi[0] * ci)
        pn = dmax(0.0, prcp - ci * (1.0 - hi[0]) - ei)
        en = pet - ei
        hi[0] = hi[0] + (prcp - ei - pn) / ci
        # production store
        h = hp[0]
        icp = 1.0 / cp
        if pn > 0.0:  # tanh(0) = 0: most steps have no net rain
            tp = tanh(pn * icp)
            ps = dmin(pn, cp * (1.0 - h * h) * tp / (1.0 + h * tp))
            pr = pn - ps
        if en > 0.0:
            te = tanh(en * icp)
            es = dmin(en, h * cp * (2.0 - h) * te / (1.0 + (1.0 - h) * te))
        hstar = h + (ps - es) * icp
        # percolation h* c (1 - (1 + (h*/beta)^4)^(-1/4)), written on the level it leaves
        r4 = hstar / beta
        r4 = r4 * r4
        h = hstar * inv_fourth_root(1.0 + r4 * r4)
        perc = (hstar - h) * cp
        hp[0] = h
        # groundwater exchange from the transfer level at the start of the step
        h = ht[0]
        lexc = kexc * h * h * h * sqrt(h)
        prr = 0.9 * (pr + perc) + lexc
        prd = 0.1 * (pr + perc)
    qr = transfer_store(ht, ct, prr, prcp < 0.0)
    qd = dmax(0.0, prd + lexc)
    if fluxes != NULL:
        fluxes[0] = pn
        fluxes[fstride] = en
        fluxes[2 * fstride] = pr
        fluxes[3 * fstride] = perc
        fluxes[4 * fstride] = ps
        fluxes[5 * fstride] = es
        fluxes[6 * fstride] = lexc
        fluxes[7 * fstride] = prr
        fluxes[8 * fstride] = prd
        fluxes[9 * fstride] = qr
        fluxes[10 * fstride] = qd
    return qr + qd
