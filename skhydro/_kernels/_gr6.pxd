# GR6 hydrological operator: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.2: interception I, production P, exchange E5, then R = pr + perc
# split 54/36/10 between the transfer store T5(ct, ht), the exponential store X(be, he) and the direct
# branch; the exchange l is added to all three branches (reference quirk); q = qr + max(0, prd + l) + qe.
from skhydro._kernels._common cimport dmax
from skhydro._kernels._gr_blocks cimport (
    InterceptionRecord, gr_soil, interception, interception_recompute, interception_b,
    ProductionRecord, production, production_recompute, production_b, transfer_store, transfer_store_b,
    exponential_store, exponential_store_b,
)

# Fluxes: pn, en, pr, perc, ps, es, lexc, prr, prd, pre, qr, qd, qe (qt added by the driver). Tape: as GR4.
cdef enum:
    GR6_NFLUX = 13
    GR6_NTAPE = 4


cdef inline void gr6_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, double beta,
    double* hi, double* hp, double ht, double* prr, double* pre, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """First half of :func:`gr6_step`: the GR soil (exchange E5) with the 54/36/10 split into ``prr``, ``pre``
    and ``direct`` (prd + l), the exchange on all three (reference quirk)."""
    gr_soil(prcp, pet, ci, cp, kexc, aexc, True, beta, 0.54, 0.36, True, hi, hp, ht, prr, pre, direct,
            fluxes, fstride, tape, tstride)


cdef inline double gr6_stores(
    double prcp, double ct, double be, double* ht, double* he, double prr, double pre, double direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Second half of :func:`gr6_step`: transfer and exponential stores and the direct branch."""
    cdef double gt
    cdef double qr = transfer_store(ht, ct, prr, prcp < 0.0, &gt)
    cdef double qe = exponential_store(he, be, pre)
    cdef double qd = dmax(0.0, direct)
    if tape != NULL:
        tape[3 * tstride] = gt
    if fluxes != NULL:
        fluxes[10 * fstride] = qr
        fluxes[11 * fstride] = qd
        fluxes[12 * fstride] = qe
    return qr + qd + qe


cdef inline void gr6_stores_b(double prcp, double ct, double be, double ht, double he, double prr, double pre,
                              double direct, double gt, double q_b, double* ht_b, double* he_b, double* ct_b,
                              double* be_b, double* prr_b, double* pre_b, double* direct_b) noexcept nogil:
    """Reverse of :func:`gr6_stores` from the start levels and the recomputed inflows: the inflows'
    adjoints ``prr_b``, ``pre_b``, ``direct_b`` (no derivative through max(0, direct) at 0, as gr4)."""
    direct_b[0] = q_b if direct > 0.0 else 0.0
    pre_b[0] = exponential_store_b(he, be, pre, q_b, he_b, be_b)
    prr_b[0] = transfer_store_b(ht, ct, prr, prcp < 0.0, gt, q_b, ht_b, ct_b)


cdef inline double gr6_step(
    double prcp, double pet, double ci, double cp, double ct, double be, double kexc, double aexc, double beta,
    double* hi, double* hp, double* ht, double* he,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm)."""
    cdef double prr, pre, direct
    gr6_soil(prcp, pet, ci, cp, kexc, aexc, beta, hi, hp, ht[0], &prr, &pre, &direct, fluxes, fstride, tape, tstride)
    return gr6_stores(prcp, ct, be, ht, he, prr, pre, direct, fluxes, fstride, tape, tstride)


cdef inline void gr6_step_b(
    double prcp, double pet, double ci, double cp, double ct, double be, double kexc, double aexc, double beta,
    double hi, double hp, double ht, double he,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hi_b, double* hp_b, double* ht_b, double* he_b,
    double* ci_b, double* cp_b, double* ct_b, double* be_b, double* kexc_b, double* aexc_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`gr6_step` (conventions of ``gr4_step_b``)."""
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double lexc = 0.0, prr = 0.0, pre = 0.0, prd = 0.0
    cdef double prd_b, lexc_b, prr_b, pre_b, r_b, pn_b = 0.0, en_b = 0.0
    cdef InterceptionRecord ir
    cdef ProductionRecord rec
    if active:
        ir = interception_recompute(prcp, pet, ci, hi)
        rec = production_recompute(ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0)
        lexc = kexc * (ht - aexc)
        prr = 0.54 * (rec.pr + rec.perc) + lexc
        pre = 0.36 * (rec.pr + rec.perc) + lexc
        prd = 0.1 * (rec.pr + rec.perc)
    gr6_stores_b(prcp, ct, be, ht, he, prr, pre, prd + lexc, gt, q_b, ht_b, he_b, ct_b, be_b, &prr_b, &pre_b, &prd_b)
    lexc_b = prd_b
    if not active:
        return
    lexc_b += prr_b + pre_b
    r_b = 0.54 * prr_b + 0.36 * pre_b + 0.1 * prd_b
    kexc_b[0] += lexc_b * (ht - aexc)
    ht_b[0] += lexc_b * kexc
    aexc_b[0] -= lexc_b * kexc
    production_b(&rec, ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0, r_b, r_b, hp_b, &pn_b, &en_b, cp_b, NULL, NULL)
    interception_b(&ir, prcp, ci, hi, pn_b, en_b, hi_b, ci_b, prcp_b)
