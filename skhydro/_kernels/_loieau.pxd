# LOIEAU hydrological operator: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.1-6.2: no interception store (ei = min(E, P)), production P(ca, β)
# on ha, no exchange, R = pr + perc split 90/10 between the transfer store T4(cc, hc) and the direct branch;
# the runoff is multiplied by kb: q = kb (qr + max(0, prd)).
from skhydro._kernels._common cimport dmax
from skhydro._kernels._gr_blocks cimport (
    no_store, no_store_b, no_production, ProductionRecord, production, production_recompute, production_b,
    inv_cube_root, transfer_store4, transfer_store4_b, write_no_store_fluxes,
)

# Fluxes: ei, pn, en, pr, perc, ps, es, prr, prd, qr, qd (qt added by the driver). Tape: as GR4
# (tanh(pn/ca), tanh(en/ca), percolation factor, transfer factor).
cdef enum:
    LOIEAU_NFLUX = 11
    LOIEAU_NTAPE = 4


cdef inline void loieau_soil(
    double prcp, double pet, double ca, double beta, double* ha, double* prr, double* prd,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """First half of :func:`loieau_step`: the soil (production store), giving the inflows ``prr`` of the
    transfer store and ``prd`` of the direct branch."""
    cdef double ei = 0.0, pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0
    prr[0] = 0.0
    prd[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        no_store(prcp, pet, &ei, &pn, &en)
        production(pn, en, ca, beta, 1.0, 1.0, ha, &ps, &es, &pr, &perc, tape, tstride)
        prr[0] = 0.9 * (pr + perc)
        prd[0] = 0.1 * (pr + perc)
    else:
        no_production(tape, tstride)
    if fluxes != NULL:
        write_no_store_fluxes(fluxes, fstride, ei, pn, en, pr, perc, ps, es, prr[0])
        fluxes[8 * fstride] = prd[0]


cdef inline double loieau_stores(
    double prcp, double cc, double kb, double* hc, double prr, double prd,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Second half of :func:`loieau_step`: the transfer store and the direct branch; returns the runoff."""
    cdef double qr, qd, gt
    qr = transfer_store4(hc, cc, prr, prcp < 0.0, &gt)
    qd = dmax(0.0, prd)
    if tape != NULL:
        tape[3 * tstride] = gt
    if fluxes != NULL:
        fluxes[9 * fstride] = qr
        fluxes[10 * fstride] = qd
    return kb * (qr + qd)


cdef inline double loieau_stores_b(double prcp, double cc, double kb, double hc, double prr, double prd, double gt,
                                   double q_b, double* hc_b, double* cc_b, double* kb_b, double* prd_b) noexcept nogil:
    """Reverse of :func:`loieau_stores` from the start level ``hc``, the recomputed inflows and the tape's
    transfer factor ``gt``: returns the adjoint of ``prr`` and writes that of ``prd``."""
    cdef double y, qr, qd
    # the transfer outflow, recomputed from the tape's factor (kb needs it)
    if prcp < 0.0:
        y = dmax(1e-6, hc * inv_cube_root(1.0 - hc * hc * hc))
    else:
        y = dmax(1e-6, hc + prr / cc)
    qr = (y - y * gt) * cc
    qd = dmax(0.0, prd)
    kb_b[0] += q_b * (qr + qd)
    prd_b[0] = kb * q_b if prd > 0.0 else 0.0  # at prd = 0 no derivative, as in the reference's adjoint
    return transfer_store4_b(hc, cc, prr, prcp < 0.0, gt, kb * q_b, hc_b, cc_b)


cdef inline double loieau_step(
    double prcp, double pet, double ca, double cc, double kb, double beta, double* ha, double* hc,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm).

    The driver runs the two halves as two passes over the cells (shorter bodies overlap better)."""
    cdef double prr, prd
    loieau_soil(prcp, pet, ca, beta, ha, &prr, &prd, fluxes, fstride, tape, tstride)
    return loieau_stores(prcp, cc, kb, hc, prr, prd, fluxes, fstride, tape, tstride)


cdef inline void loieau_step_b(
    double prcp, double pet, double ca, double cc, double kb, double beta, double ha, double hc,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* ha_b, double* hc_b, double* ca_b, double* cc_b, double* kb_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`loieau_step` (conventions of ``gr4_step_b``)."""
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double ei, pn = 0.0, en = 0.0, prr = 0.0, prd = 0.0, r_b, qd_b, prr_b
    cdef double pn_b = 0.0, en_b = 0.0
    cdef ProductionRecord rec
    if active:
        no_store(prcp, pet, &ei, &pn, &en)
        rec = production_recompute(pn, en, ca, ha, tp, te, gp, 1.0, 1.0)
        prr = 0.9 * (rec.pr + rec.perc)
        prd = 0.1 * (rec.pr + rec.perc)
    prr_b = loieau_stores_b(prcp, cc, kb, hc, prr, prd, gt, q_b, hc_b, cc_b, kb_b, &qd_b)
    if not active:
        return
    r_b = 0.9 * prr_b + 0.1 * qd_b
    production_b(&rec, pn, en, ca, ha, tp, te, gp, 1.0, 1.0, r_b, r_b, ha_b, &pn_b, &en_b, ca_b, NULL, NULL)
    no_store_b(prcp, pet, pn_b, en_b, prcp_b)
