# GRD hydrological operator: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.1-6.2: no interception store (ei = min(E, P)), production P with
# the percolation constant 1000, no exchange, everything through the transfer store T5 (prr = pr + perc).
from skhydro._kernels._gr_blocks cimport (
    no_store, no_store_b, no_production, ProductionRecord, production, production_recompute, production_b,
    transfer_store, transfer_store_b, write_no_store_fluxes,
)

# Fluxes: ei, pn, en, pr, perc, ps, es, prr, qr (qt is added by the driver). Tape: as GR4.
cdef enum:
    GRD_NFLUX = 9
    GRD_NTAPE = 4
    GRD_BETA = 1000


cdef inline void grd_soil(
    double prcp, double pet, double cp, double* hp, double* prr,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """First half of :func:`grd_step`: the production store; ``prr`` feeds the transfer store."""
    cdef double ei = 0.0, pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0
    prr[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        no_store(prcp, pet, &ei, &pn, &en)
        production(pn, en, cp, GRD_BETA, 1.0, 1.0, hp, &ps, &es, &pr, &perc, tape, tstride)
        prr[0] = pr + perc
    else:
        no_production(tape, tstride)
    if fluxes != NULL:
        write_no_store_fluxes(fluxes, fstride, ei, pn, en, pr, perc, ps, es, prr[0])


cdef inline double grd_stores(
    double prcp, double ct, double* ht, double prr,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Second half of :func:`grd_step`: the transfer store; returns the runoff."""
    cdef double gt, qr = transfer_store(ht, ct, prr, prcp < 0.0, &gt)
    if tape != NULL:
        tape[3 * tstride] = gt
    if fluxes != NULL:
        fluxes[8 * fstride] = qr
    return qr


cdef inline double grd_step(
    double prcp, double pet, double cp, double ct, double* hp, double* ht,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm)."""
    cdef double prr
    grd_soil(prcp, pet, cp, hp, &prr, fluxes, fstride, tape, tstride)
    return grd_stores(prcp, ct, ht, prr, fluxes, fstride, tape, tstride)


cdef inline void grd_step_b(
    double prcp, double pet, double cp, double ct, double hp, double ht,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hp_b, double* ht_b, double* cp_b, double* ct_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`grd_step` (conventions of ``gr4_step_b``)."""
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double ei, pn = 0.0, en = 0.0, prr = 0.0, prr_b, pn_b = 0.0, en_b = 0.0
    cdef ProductionRecord rec
    if active:
        no_store(prcp, pet, &ei, &pn, &en)
        rec = production_recompute(pn, en, cp, hp, tp, te, gp, 1.0, 1.0)
        prr = rec.pr + rec.perc
    prr_b = transfer_store_b(ht, ct, prr, prcp < 0.0, gt, q_b, ht_b, ct_b)
    if active:
        production_b(&rec, pn, en, cp, hp, tp, te, gp, 1.0, 1.0, prr_b, prr_b, hp_b, &pn_b, &en_b, cp_b, NULL, NULL)
        no_store_b(prcp, pet, pn_b, en_b, prcp_b)
