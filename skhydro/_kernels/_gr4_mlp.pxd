# Hybrid GR4 / GR5 (gr4_mlp, gr5_mlp): the GR soil with its internal fluxes corrected by a network,
# forward and reverse (../shared/spec/forward.md §6.4).
#
# After interception the network maps (hp, ht, pn, en), states at the start of the step, to four
# corrections f in ]-1, 1[:
#   ps = min(pn, (1 + f1) ps_GR)      es = min(en, (1 + f2) es_GR)
#   prr = 0.9 (1 - f3^2) R + l        prd = (0.1 + 0.9 f3^2) R        (R = pr + perc; mass-conserving)
#   l = (1 + f4) l_GR                 (E4 kexc ht^3.5, or E5 kexc (ht - aexc) for gr5_mlp)
# With f = 0 every factor is exactly 1 and the step is gr4's (or gr5's) bit for bit. Steps with missing
# forcings take no correction. The stores half is gr4's (``gr4_stores``).
from skhydro._kernels._gr_blocks cimport (
    gr_exchange, gr_exchange_b, write_soil_fluxes, InterceptionRecord, interception, interception_recompute, interception_b,
    ProductionRecord, production, production_recompute, production_b, transfer_store_b,
)
from skhydro._kernels._mlp cimport Mlp, MLP_MAX_UNITS, mlp_forward, mlp_backward, mlp_output_offset

# gr4's fluxes (pn, en, pr, perc, ps, es, lexc, prr, prd, qr, qd), then the corrections f1..f4
cdef enum:
    GR4_MLP_NFLUX = 15
    GR4_MLP_NIN = 4
    GR4_MLP_NOUT = 4


cdef inline void corrections(const Mlp* net, double hp, double ht, double pn, double en, double* x, double* z,
                             double* a, double* f) noexcept nogil:
    """The network on (hp, ht, pn, en) -> ``f``; ``x``, ``z``, ``a`` keep its inputs and layers."""
    cdef Py_ssize_t i, off
    x[0] = hp
    x[1] = ht
    x[2] = pn
    x[3] = en
    mlp_forward(net, x, z, a)
    off = mlp_output_offset(net)
    for i in range(GR4_MLP_NOUT):
        f[i] = a[off + i]


cdef inline void gr4_mlp_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange, double beta,
    const Mlp* net, double* hi, double* hp, double ht, double* prr, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of the hybrid GR4/GR5 step (the counterpart of ``gr4_soil``): ``prr`` feeds the transfer
    store, ``direct`` (prd + l) the direct branch. Fluxes as gr4's, plus f1..f4 at rows 11-14."""
    cdef double z[MLP_MAX_UNITS]
    cdef double a[MLP_MAX_UNITS]
    cdef double x[GR4_MLP_NIN]
    cdef double f[GR4_MLP_NOUT]
    cdef double pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0, lexc = 0.0, prd = 0.0, r, s2
    cdef Py_ssize_t i
    for i in range(GR4_MLP_NOUT):
        f[i] = 0.0
    prr[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        interception(prcp, pet, ci, hi, &pn, &en)
        corrections(net, hp[0], ht, pn, en, x, z, a, f)
        production(pn, en, cp, beta, 1.0 + f[0], 1.0 + f[1], hp, &ps, &es, &pr, &perc, tape, tstride)
        lexc = gr_exchange(kexc, aexc, threshold_exchange, ht) * (1.0 + f[3])
        r = pr + perc
        s2 = f[2] * f[2]
        prr[0] = 0.9 * (1.0 - s2) * r + lexc
        prd = (0.1 + 0.9 * s2) * r
    elif tape != NULL:
        tape[0] = 0.0
        tape[tstride] = 0.0
        tape[2 * tstride] = 1.0
    direct[0] = prd + lexc
    if fluxes != NULL:
        write_soil_fluxes(fluxes, fstride, pn, en, pr, perc, ps, es, lexc, prr[0], prd)
        for i in range(GR4_MLP_NOUT):
            fluxes[(11 + i) * fstride] = f[i]


cdef inline void gr4_mlp_step_b(
    double prcp, double pet,
    double ci, double cp, double ct, double kexc, double aexc, bint threshold_exchange, double beta,
    const Mlp* net, double hi, double hp, double ht,
    const double* tape, Py_ssize_t tstride,
    double q_b,
    double* hi_b, double* hp_b, double* ht_b,
    double* ci_b, double* cp_b, double* ct_b, double* kexc_b, double* aexc_b, double* prcp_b, double* net_b,
) noexcept nogil:
    """Reverse of the hybrid step (``gr4_mlp_soil`` then ``gr4_stores``), conventions of ``gr4_step_b``;
    the network parameters' adjoint is accumulated into ``net_b``."""
    cdef double z[MLP_MAX_UNITS]
    cdef double a[MLP_MAX_UNITS]
    cdef double x[GR4_MLP_NIN]
    cdef double x_b[GR4_MLP_NIN]
    cdef double f[GR4_MLP_NOUT]
    cdef double f_b[GR4_MLP_NOUT]
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef double l0 = 0.0, lexc = 0.0, prr = 0.0, prd = 0.0, r = 0.0, s2 = 0.0
    cdef double prd_b, lexc_b, prr_b, r_b, s2_b, l0_b, pn_b = 0.0, en_b = 0.0
    cdef InterceptionRecord ir
    cdef ProductionRecord rec

    # ---- recompute the forward step's intermediates (the network included)
    if active:
        ir = interception_recompute(prcp, pet, ci, hi)
        corrections(net, hp, ht, ir.pn, ir.en, x, z, a, f)
        rec = production_recompute(ir.pn, ir.en, cp, hp, tp, te, gp, 1.0 + f[0], 1.0 + f[1])
        l0 = gr_exchange(kexc, aexc, threshold_exchange, ht)
        lexc = l0 * (1.0 + f[3])
        r = rec.pr + rec.perc
        s2 = f[2] * f[2]
        prr = 0.9 * (1.0 - s2) * r + lexc
        prd = (0.1 + 0.9 * s2) * r

    # ---- reverse: qd = max(0, prd + l), qr = T5(ht; prr); no derivative at prd + l = 0 (as gr4)
    prd_b = q_b if prd + lexc > 0.0 else 0.0
    lexc_b = prd_b
    prr_b = transfer_store_b(ht, ct, prr, prcp < 0.0, gt, q_b, ht_b, ct_b)
    if not active:
        return
    lexc_b += prr_b
    # the corrected split
    r_b = 0.9 * (1.0 - s2) * prr_b + (0.1 + 0.9 * s2) * prd_b
    s2_b = 0.9 * r * (prd_b - prr_b)
    f_b[2] = 2.0 * f[2] * s2_b
    # the corrected exchange
    f_b[3] = lexc_b * l0
    l0_b = lexc_b * (1.0 + f[3])
    gr_exchange_b(kexc, aexc, threshold_exchange, ht, l0_b, kexc_b, aexc_b, ht_b)
    f_b[0] = 0.0
    f_b[1] = 0.0
    production_b(&rec, ir.pn, ir.en, cp, hp, tp, te, gp, 1.0 + f[0], 1.0 + f[1], r_b, r_b, hp_b, &pn_b, &en_b,
                 cp_b, &f_b[0], &f_b[1])
    # the network, on the start-of-step states and the interception's outputs
    mlp_backward(net, x, z, a, f_b, x_b, net_b)
    hp_b[0] += x_b[0]
    ht_b[0] += x_b[1]
    pn_b += x_b[2]
    en_b += x_b[3]
    interception_b(&ir, prcp, ci, hi, pn_b, en_b, hi_b, ci_b, prcp_b)
