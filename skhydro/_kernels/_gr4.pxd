# GR4 and GR5 hydrological operators: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.0-6.2 (interception I, production P, exchange E4 (gr4) or E5 (gr5),
# transfer T5). GR5 differs from GR4 only by its exchange, kexc (ht - aexc) instead of kexc ht^3.5.
# States are normalised levels (hi, hp, ht); fluxes are depths in mm per time step.
#
# The reverse twin ``gr4_step_b`` gets the states at the start of the step and the few transcendental
# values the forward step recorded on its tape (two tanh, two fourth-root factors); everything else is
# recomputed, so the tape holds 4 numbers per cell and step.
from skhydro._kernels._common cimport dmax
from skhydro._kernels._gr_blocks cimport (
    InterceptionRecord, gr_exchange, gr_exchange_b, gr_soil, interception, interception_recompute, interception_b,
    ProductionRecord, production, production_recompute, production_b, transfer_store, transfer_store_b,
)

# Internal fluxes written when ``fluxes`` is not NULL (stride ``fstride`` between names).
# Order follows the reference: pn, en, pr, perc, ps, es, lexc, prr, prd, qr, qd (qt is added by the driver).
cdef enum:
    GR4_NFLUX = 11
    GR4_NTAPE = 4      # tanh(pn/cp), tanh(en/cp), percolation and transfer fourth-root factors


cdef inline void gr4_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange, double beta,
    double* hi, double* hp, double ht, double* prr, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """First half of :func:`gr4_step`: the GR soil with the 90/10 split; ``prr`` feeds the transfer store,
    ``direct`` (prd + l) the direct branch."""
    cdef double unused
    gr_soil(prcp, pet, ci, cp, kexc, aexc, threshold_exchange, beta, 0.9, 0.0, False, hi, hp, ht, prr, &unused,
            direct, fluxes, fstride, tape, tstride)


cdef inline double gr4_stores(
    double prcp, double ct, double* ht, double prr, double direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Second half of :func:`gr4_step`: the transfer store and the direct branch; returns the runoff."""
    cdef double gt, qr = transfer_store(ht, ct, prr, prcp < 0.0, &gt)
    cdef double qd = dmax(0.0, direct)
    if tape != NULL:
        tape[3 * tstride] = gt
    if fluxes != NULL:
        fluxes[9 * fstride] = qr
        fluxes[10 * fstride] = qd
    return qr + qd


cdef inline double gr4_stores_b(double prcp, double ct, double ht, double prr, double direct, double gt, double q_b,
                               double* ht_b, double* ct_b, double* direct_b) noexcept nogil:
    """Reverse of :func:`gr4_stores` from the start level ``ht`` and the recomputed inflows: returns the
    adjoint of ``prr`` and writes that of ``direct`` (prd + l). At direct = 0 (dry steps with no exchange)
    either branch is exact; like the reference's adjoint, no derivative passes there."""
    direct_b[0] = q_b if direct > 0.0 else 0.0
    return transfer_store_b(ht, ct, prr, prcp < 0.0, gt, q_b, ht_b, ct_b)


cdef inline double gr4_step(
    double prcp, double pet,
    double ci, double cp, double ct, double kexc, double aexc, bint threshold_exchange, double beta,
    double* hi, double* hp, double* ht,
    double* fluxes, Py_ssize_t fstride,
    double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff (mm).

    ``threshold_exchange`` selects GR5's exchange ``kexc (ht - aexc)`` (``aexc`` is unused otherwise).
    ``fluxes`` (GR4_NFLUX values) and ``tape`` (GR4_NTAPE values for :func:`gr4_step_b`) may be NULL.
    The driver runs the two halves as two passes over the cells (shorter loop bodies overlap better).
    """
    cdef double prr, direct
    gr4_soil(prcp, pet, ci, cp, kexc, aexc, threshold_exchange, beta, hi, hp, ht[0], &prr, &direct,
             fluxes, fstride, tape, tstride)
    return gr4_stores(prcp, ct, ht, prr, direct, fluxes, fstride, tape, tstride)


cdef inline void gr4_step_b(
    double prcp, double pet,
    double ci, double cp, double ct, double kexc, double aexc, bint threshold_exchange, double beta,
    double hi, double hp, double ht,
    const double* tape, Py_ssize_t tstride,
    double q_b,
    double* hi_b, double* hp_b, double* ht_b,
    double* ci_b, double* cp_b, double* ct_b, double* kexc_b, double* aexc_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`gr4_step`.

    ``hi, hp, ht`` are the states at the start of the step and ``tape`` what the forward step recorded.
    ``q_b`` is the adjoint of the returned runoff. On entry ``hi_b, hp_b, ht_b`` hold the adjoints of the
    end-of-step states; on exit, those of the start-of-step states. Parameter adjoints are accumulated.
    Every min/max follows the branch the forward step took. ``aexc_b`` is only written with
    ``threshold_exchange`` (it may be NULL otherwise). ``prcp_b`` (may be NULL) accumulates the adjoint of
    the precipitation (the snow melt is part of it).
    """
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double lexc = 0.0, prr = 0.0, prd = 0.0
    cdef double prd_b, lexc_b, prr_b, pr_b, pn_b = 0.0, en_b = 0.0
    cdef InterceptionRecord ir
    cdef ProductionRecord rec

    # ---- recompute the cheap intermediates of the forward step
    if active:
        ir = interception_recompute(prcp, pet, ci, hi)
        rec = production_recompute(ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0)
        lexc = gr_exchange(kexc, aexc, threshold_exchange, ht)
        prr = 0.9 * (rec.pr + rec.perc) + lexc
        prd = 0.1 * (rec.pr + rec.perc)

    # ---- reverse: qd = max(0, prd + lexc), qr = T5(ht; prr)
    prr_b = gr4_stores_b(prcp, ct, ht, prr, prd + lexc, gt, q_b, ht_b, ct_b, &prd_b)
    lexc_b = prd_b
    if not active:
        return
    # exchange and the 90/10 split
    lexc_b += prr_b
    pr_b = 0.9 * prr_b + 0.1 * prd_b
    gr_exchange_b(kexc, aexc, threshold_exchange, ht, lexc_b, kexc_b, aexc_b, ht_b)
    production_b(&rec, ir.pn, ir.en, cp, hp, tp, te, gp, 1.0, 1.0, pr_b, pr_b, hp_b, &pn_b, &en_b, cp_b, NULL, NULL)
    interception_b(&ir, prcp, ci, hi, pn_b, en_b, hi_b, ci_b, prcp_b)
