# GRC hydrological operator: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.2: interception I, production P with the percolation constant 1000,
# exchange E4, then R = pr + perc split 54/36/10 between the transfer store T5(ct, ht), a slow transfer
# store T5(cl, hl) and the direct branch; q = qr + ql + max(0, prd + l).
from libc.math cimport sqrt
from skhydro._kernels._common cimport dmax
from skhydro._kernels._gr_blocks cimport (
    InterceptionRecord, gr_soil, interception, interception_recompute, interception_b,
    ProductionRecord, production, production_recompute, production_b, transfer_store, transfer_store_b,
)

# Fluxes: pn, en, pr, perc, ps, es, lexc, prr, prd, prl, qr, qd, ql (qt added by the driver).
# Tape: tanh(pn/cp), tanh(en/cp), percolation factor, then the two transfer factors.
cdef enum:
    GRC_NFLUX = 13
    GRC_NTAPE = 5
    GRC_BETA = 1000


cdef inline void grc_soil(
    double prcp, double pet, double ci, double cp, double kexc, double* hi, double* hp, double ht,
    double* prr, double* prl, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """First half of :func:`grc_step`: the GR soil (percolation constant 1000, exchange E4) with the
    54/36/10 split into ``prr``, ``prl`` (no exchange) and ``direct`` (prd + l)."""
    gr_soil(prcp, pet, ci, cp, kexc, 0.0, False, GRC_BETA, 0.54, 0.36, False, hi, hp, ht, prr, prl, direct,
            fluxes, fstride, tape, tstride)


cdef inline double grc_stores(
    double prcp, double ct, double cl, double* ht, double* hl, double prr, double prl, double direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Second half of :func:`grc_step`: the two transfer stores and the direct branch; returns the runoff."""
    cdef double gt, gl
    cdef double qr = transfer_store(ht, ct, prr, prcp < 0.0, &gt)
    cdef double ql = transfer_store(hl, cl, prl, prcp < 0.0, &gl)
    cdef double qd = dmax(0.0, direct)
    if tape != NULL:
        tape[3 * tstride] = gt
        tape[4 * tstride] = gl
    if fluxes != NULL:
        fluxes[10 * fstride] = qr
        fluxes[11 * fstride] = qd
        fluxes[12 * fstride] = ql
    return qr + ql + qd


cdef inline void grc_stores_b(double prcp, double ct, double cl, double ht, double hl, double prr, double prl,
                              double direct, double gt, double gl, double q_b, double* ht_b, double* hl_b,
                              double* ct_b, double* cl_b, double* prr_b, double* prl_b, double* direct_b) noexcept nogil:
    """Reverse of :func:`grc_stores` from the start levels, the recomputed inflows and the tape's transfer
    factors ``gt``, ``gl``: the inflows' adjoints (no derivative through max(0, direct) at 0, as gr4)."""
    direct_b[0] = q_b if direct > 0.0 else 0.0
    prr_b[0] = transfer_store_b(ht, ct, prr, prcp < 0.0, gt, q_b, ht_b, ct_b)
    prl_b[0] = transfer_store_b(hl, cl, prl, prcp < 0.0, gl, q_b, hl_b, cl_b)


cdef inline double grc_step(
    double prcp, double pet, double ci, double cp, double ct, double cl, double kexc,
    double* hi, double* hp, double* ht, double* hl,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm)."""
    cdef double prr, prl, direct
    grc_soil(prcp, pet, ci, cp, kexc, hi, hp, ht[0], &prr, &prl, &direct, fluxes, fstride, tape, tstride)
    return grc_stores(prcp, ct, cl, ht, hl, prr, prl, direct, fluxes, fstride, tape, tstride)


cdef inline void grc_step_b(
    double prcp, double pet, double ci, double cp, double ct, double cl, double kexc,
    double hi, double hp, double ht, double hl,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hi_b, double* hp_b, double* ht_b, double* hl_b,
    double* ci_b, double* cp_b, double* ct_b, double* cl_b, double* kexc_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`grc_step` (conventions of ``gr4_step_b``)."""
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride]
    cdef double gt = tape[3 * tstride], gl = tape[4 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double sh = 0.0, lexc = 0.0, prr = 0.0, prl = 0.0, prd = 0.0
    cdef double prd_b, lexc_b, prr_b, prl_b, r_b, pn_b = 0.0, en_b = 0.0
    cdef InterceptionRecord ir
    cdef ProductionRecord rec
    if active:
        ir = interception_recompute(prcp, pet, ci, hi)
        rec = production_recompute(ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0)
        sh = sqrt(ht)
        lexc = kexc * ht * ht * ht * sh
        prr = 0.54 * (rec.pr + rec.perc) + lexc
        prl = 0.36 * (rec.pr + rec.perc)
        prd = 0.1 * (rec.pr + rec.perc)
    grc_stores_b(prcp, ct, cl, ht, hl, prr, prl, prd + lexc, gt, gl, q_b, ht_b, hl_b, ct_b, cl_b,
                 &prr_b, &prl_b, &prd_b)
    lexc_b = prd_b
    if not active:
        return
    lexc_b += prr_b
    r_b = 0.54 * prr_b + 0.36 * prl_b + 0.1 * prd_b
    kexc_b[0] += lexc_b * ht * ht * ht * sh
    ht_b[0] += lexc_b * kexc * 3.5 * ht * ht * sh
    production_b(&rec, ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0, r_b, r_b, hp_b, &pn_b, &en_b, cp_b, NULL, NULL)
    interception_b(&ir, prcp, ci, hi, pn_b, en_b, hi_b, ci_b, prcp_b)
