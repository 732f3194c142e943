# Building blocks of the hybrid structures (*_mlp, ../shared/spec/forward.md §6.4), forward and reverse: the
# flux-correction network on the start-of-step states and the net rain and PET, the production store with
# its two gains, the corrected splits, and the two soil halves built from them (with interception store and
# exchange: gr4_mlp, gr5_mlp, gr6_mlp, grc_mlp; without: grd_mlp, loieau_mlp). Each structure's point
# functions (_hybrid.pxd) chain a soil half with its classical stores half.
#
# The network's inputs are the structure's levels at the start of the step (the production level first,
# the transfer level second, gr6's exponential / grc's slow level third), then pn and en; its outputs are
# f1 (gain 1 + f1 on the infiltration ps), f2 (gain 1 + f2 on the evaporation es), then the split
# corrections and, where there is an exchange, the exchange gain 1 + f_l last. Every correction enters so
# that f = 0 leaves the classical arithmetic unchanged bit for bit: the factors are exactly 1.0 (or the
# classical constant) and the operations are in the classical order.
from skhydro._kernels._gr_blocks cimport (
    gr_exchange, gr_exchange_b, write_soil_fluxes, write_no_store_fluxes, InterceptionRecord, interception,
    interception_recompute, interception_b, no_store, no_store_b, no_production, ProductionRecord, production,
    production_recompute, production_b,
)
from skhydro._kernels._mlp cimport Mlp, MLP_MAX_UNITS, mlp_forward, mlp_backward, mlp_output_offset

cdef enum:
    HYBRID_MAX_IN = 5      # up to three levels, pn, en
    HYBRID_MAX_OUT = 5


cdef struct Network:
    # one evaluation of the network: its inputs x (the caller writes the levels), every layer's
    # pre-activations z and activations a, the corrections f; in reverse the adjoints f_b and x_b
    double x[HYBRID_MAX_IN]
    double f[HYBRID_MAX_OUT]
    double x_b[HYBRID_MAX_IN]
    double f_b[HYBRID_MAX_OUT]
    double z[MLP_MAX_UNITS]
    double a[MLP_MAX_UNITS]


cdef inline void no_corrections(Network* e, Py_ssize_t nout) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(nout):
        e.f[i] = 0.0


cdef inline void corrections(const Mlp* net, Network* e, Py_ssize_t nlevel, double pn, double en) noexcept nogil:
    """The network on (x[0..nlevel-1], pn, en) -> ``e.f``; the caller has written the levels."""
    cdef Py_ssize_t i, off
    e.x[nlevel] = pn
    e.x[nlevel + 1] = en
    mlp_forward(net, e.x, e.z, e.a)
    off = mlp_output_offset(net)
    for i in range(net.sizes[net.nlayer]):
        e.f[i] = e.a[off + i]


cdef inline void write_corrections(double* fluxes, Py_ssize_t fstride, const Network* e, Py_ssize_t nout) noexcept nogil:
    """f1..f_nout at ``fluxes``, ``fluxes + fstride``..."""
    cdef Py_ssize_t i
    for i in range(nout):
        fluxes[i * fstride] = e.f[i]


# ------------------------------------------------------------------- corrected production store
cdef inline void corrected_production(const Mlp* net, Network* e, Py_ssize_t nlevel, double pn, double en, double c,
                                      double beta, double* h, double* ps, double* es, double* pr, double* perc,
                                      double* tape, Py_ssize_t tstride) noexcept nogil:
    """The corrections, then the production store with the gains 1 + f1 (ps) and 1 + f2 (es)."""
    corrections(net, e, nlevel, pn, en)
    production(pn, en, c, beta, 1.0 + e.f[0], 1.0 + e.f[1], h, ps, es, pr, perc, tape, tstride)


cdef inline ProductionRecord corrected_production_recompute(const Mlp* net, Network* e, Py_ssize_t nlevel, double pn,
                                                            double en, double c, double h,
                                                            const double* tape, Py_ssize_t tstride) noexcept nogil:
    corrections(net, e, nlevel, pn, en)
    return production_recompute(pn, en, c, h, tape[0], tape[tstride], tape[2 * tstride], 1.0 + e.f[0], 1.0 + e.f[1])


cdef inline void corrected_production_b(const Mlp* net, Network* e, ProductionRecord* rec, Py_ssize_t nlevel,
                                        double pn, double en, double c, double h, const double* tape,
                                        Py_ssize_t tstride, double r_b, double* h_b, double* pn_b, double* en_b,
                                        double* c_b, double* net_b) noexcept nogil:
    """Reverse of :func:`corrected_production` (R = pr + perc has the adjoint ``r_b``), then of the network:
    ``e.f_b`` holds the other corrections' adjoints on entry (f3...); the network parameters' adjoint is
    accumulated into ``net_b``, pn's and en's into ``pn_b``, ``en_b`` and the production level's (the first
    input) into ``h_b``; the other levels' are left in ``e.x_b[1:nlevel]``."""
    e.f_b[0] = 0.0
    e.f_b[1] = 0.0
    production_b(rec, pn, en, c, h, tape[0], tape[tstride], tape[2 * tstride], 1.0 + e.f[0], 1.0 + e.f[1], r_b, r_b,
                 h_b, pn_b, en_b, c_b, &e.f_b[0], &e.f_b[1])
    mlp_backward(net, e.x, e.z, e.a, e.f_b, e.x_b, net_b)
    h_b[0] += e.x_b[0]
    pn_b[0] += e.x_b[nlevel]
    en_b[0] += e.x_b[nlevel + 1]


# ------------------------------------------------------------------------------ corrected splits
cdef inline void corrected_split(double r, double f3, double* prr, double* prd) noexcept nogil:
    """gr4, gr5, loieau: prr = 0.9 (1 - f3²) R, prd = (0.1 + 0.9 f3²) R (mass-conserving; l added by the caller)."""
    cdef double s2 = f3 * f3
    prr[0] = 0.9 * (1.0 - s2) * r
    prd[0] = (0.1 + 0.9 * s2) * r


cdef inline double corrected_split_b(double r, double f3, double prr_b, double prd_b, double* f3_b) noexcept nogil:
    """Reverse of :func:`corrected_split`: returns R's adjoint and writes f3's."""
    cdef double s2 = f3 * f3
    f3_b[0] = 2.0 * f3 * (0.9 * r * (prd_b - prr_b))
    return 0.9 * (1.0 - s2) * prr_b + (0.1 + 0.9 * s2) * prd_b


cdef inline void corrected_three_way_split(double r, double f3, double f4, double* prr, double* second,
                                           double* prd) noexcept nogil:
    """gr6, grc: prr = (0.6 - 0.4 f4) 0.9 (1 - f3²) R, second = 0.4 (1 + f4) 0.9 (1 - f3²) R,
    prd = (0.1 + 0.9 f3²) R, with 0.6·0.9 and 0.4·0.9 written 0.54 and 0.36 as in the classical split
    (l added by the caller)."""
    cdef double u = 1.0 - f3 * f3
    prr[0] = (0.54 - 0.36 * f4) * u * r
    second[0] = 0.36 * (1.0 + f4) * u * r
    prd[0] = (0.1 + 0.9 * (f3 * f3)) * r


cdef inline double corrected_three_way_split_b(double r, double f3, double f4, double prr_b, double second_b,
                                               double prd_b, double* f3_b, double* f4_b) noexcept nogil:
    """Reverse of :func:`corrected_three_way_split`: returns R's adjoint and writes f3's and f4's."""
    cdef double s2 = f3 * f3, u = 1.0 - s2, g = 0.54 - 0.36 * f4, k = 0.36 * (1.0 + f4)
    f4_b[0] = 0.36 * u * r * (second_b - prr_b)
    f3_b[0] = 2.0 * f3 * r * (0.9 * prd_b - g * prr_b - k * second_b)
    return g * u * prr_b + k * u * second_b + (0.1 + 0.9 * s2) * prd_b


# ------------------------------------------------------- soil half with interception and exchange
cdef inline void gr_mlp_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange, double beta,
    bint three_way, bint second_exchanges, const Mlp* net, double third,
    double* hi, double* hp, double ht, double* prr, double* second, double* direct,
    double* fluxes, Py_ssize_t fstride, Py_ssize_t frow, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of the hybrid GR structures with interception (the counterpart of ``gr_soil``).

    Network on (hp, ht, pn, en), or (hp, ht, ``third``, pn, en) with ``three_way`` (gr6: he, grc: hl), all
    at the start of the step. Exchange E4, or E5 with ``threshold_exchange``, times 1 + f_l (the last
    output). Split of R = pr + perc: :func:`corrected_split` (f3), or with ``three_way``
    :func:`corrected_three_way_split` (f3, f4) whose ``second`` share gets ``+ l`` with ``second_exchanges``
    (gr6). ``prr`` (+ l) feeds the transfer store, ``direct`` = prd + l the direct branch.

    Fluxes: pn, en, pr, perc, ps, es, lexc, prr, prd (then ``second`` with ``three_way``), and the
    corrections at rows ``frow``... (after the structure's stores' fluxes).
    """
    cdef Network e
    cdef Py_ssize_t nlevel = 3 if three_way else 2, nout = 5 if three_way else 4
    cdef double pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0, lexc = 0.0, prd = 0.0
    no_corrections(&e, nout)
    prr[0] = 0.0
    second[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        interception(prcp, pet, ci, hi, &pn, &en)
        e.x[0] = hp[0]
        e.x[1] = ht
        e.x[2] = third  # overwritten by pn with two levels
        corrected_production(net, &e, nlevel, pn, en, cp, beta, hp, &ps, &es, &pr, &perc, tape, tstride)
        lexc = gr_exchange(kexc, aexc, threshold_exchange, ht) * (1.0 + e.f[nout - 1])
        if three_way:
            corrected_three_way_split(pr + perc, e.f[2], e.f[3], prr, second, &prd)
            if second_exchanges:
                second[0] = second[0] + lexc
        else:
            corrected_split(pr + perc, e.f[2], prr, &prd)
        prr[0] = prr[0] + lexc
    else:
        no_production(tape, tstride)
    direct[0] = prd + lexc
    if fluxes != NULL:
        write_soil_fluxes(fluxes, fstride, pn, en, pr, perc, ps, es, lexc, prr[0], prd)
        if three_way:
            fluxes[9 * fstride] = second[0]
        write_corrections(fluxes + frow * fstride, fstride, &e, nout)


cdef struct GrMlpSoil:
    # the forward soil half's intermediates, recomputed from the start-of-step states and the tape
    InterceptionRecord ir
    ProductionRecord rec
    Network e
    double prcp, ci, cp, kexc, aexc, hi, hp, ht, l0, lexc, r, prr, second, prd
    bint active, threshold_exchange, three_way, second_exchanges


cdef inline void gr_mlp_soil_recompute(
    GrMlpSoil* s, double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange,
    bint three_way, bint second_exchanges, const Mlp* net, double third, double hi, double hp, double ht,
    const double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Recompute :func:`gr_mlp_soil` (same arguments, the states at the start of the step) into ``s``:
    the inflows ``s.prr``, ``s.second`` and ``s.prd + s.lexc`` feed the stores' reverse."""
    s.prcp, s.ci, s.cp, s.kexc, s.aexc, s.hi, s.hp, s.ht = prcp, ci, cp, kexc, aexc, hi, hp, ht
    s.threshold_exchange, s.three_way, s.second_exchanges = threshold_exchange, three_way, second_exchanges
    s.active = prcp >= 0.0 and pet >= 0.0
    s.lexc = 0.0
    s.prr = 0.0
    s.second = 0.0
    s.prd = 0.0
    if not s.active:
        return
    s.ir = interception_recompute(prcp, pet, ci, hi)
    s.e.x[0] = hp
    s.e.x[1] = ht
    s.e.x[2] = third
    s.rec = corrected_production_recompute(net, &s.e, 3 if three_way else 2, s.ir.pn, s.ir.en, cp, hp, tape, tstride)
    s.l0 = gr_exchange(kexc, aexc, threshold_exchange, ht)
    s.lexc = s.l0 * (1.0 + s.e.f[4 if three_way else 3])
    s.r = s.rec.pr + s.rec.perc
    if three_way:
        corrected_three_way_split(s.r, s.e.f[2], s.e.f[3], &s.prr, &s.second, &s.prd)
        if second_exchanges:
            s.second = s.second + s.lexc
    else:
        corrected_split(s.r, s.e.f[2], &s.prr, &s.prd)
    s.prr = s.prr + s.lexc


cdef inline void gr_mlp_soil_b(
    GrMlpSoil* s, const Mlp* net, const double* tape, Py_ssize_t tstride, double prr_b, double second_b,
    double direct_b, double* hi_b, double* hp_b, double* ht_b, double* third_b, double* ci_b, double* cp_b,
    double* kexc_b, double* aexc_b, double* prcp_b, double* net_b,
) noexcept nogil:
    """Reverse of :func:`gr_mlp_soil` from its recomputation ``s`` and the adjoints of its three outputs.

    ``hi_b``, ``hp_b`` hold the adjoints of the end-of-step levels on entry and of the start-of-step ones
    on exit; ``ht_b`` and ``third_b`` (with ``three_way``; may be NULL otherwise), the start levels', and
    every parameter adjoint (``aexc_b`` with E5 only), ``prcp_b`` (may be NULL) and ``net_b`` accumulate.
    """
    cdef Py_ssize_t nlevel = 3 if s.three_way else 2, nout = 5 if s.three_way else 4
    cdef double lexc_b, r_b, pn_b = 0.0, en_b = 0.0
    if not s.active:
        return
    lexc_b = direct_b
    lexc_b += prr_b + second_b if s.second_exchanges else prr_b
    if s.three_way:
        r_b = corrected_three_way_split_b(s.r, s.e.f[2], s.e.f[3], prr_b, second_b, direct_b, &s.e.f_b[2],
                                          &s.e.f_b[3])
    else:
        r_b = corrected_split_b(s.r, s.e.f[2], prr_b, direct_b, &s.e.f_b[2])
    s.e.f_b[nout - 1] = lexc_b * s.l0
    gr_exchange_b(s.kexc, s.aexc, s.threshold_exchange, s.ht, lexc_b * (1.0 + s.e.f[nout - 1]), kexc_b, aexc_b,
                  ht_b)
    corrected_production_b(net, &s.e, &s.rec, nlevel, s.ir.pn, s.ir.en, s.cp, s.hp, tape, tstride, r_b, hp_b, &pn_b,
                           &en_b, cp_b, net_b)
    ht_b[0] += s.e.x_b[1]
    if s.three_way:
        third_b[0] += s.e.x_b[2]
    interception_b(&s.ir, s.prcp, s.ci, s.hi, pn_b, en_b, hi_b, ci_b, prcp_b)


# ---------------------------------------------------------- soil half without interception store
cdef inline void no_store_mlp_soil(
    double prcp, double pet, double c, double beta, bint split, const Mlp* net, double* h, double ht,
    double* prr, double* prd, double* fluxes, Py_ssize_t fstride, Py_ssize_t frow, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of grd_mlp and loieau_mlp: the rain first evaporated (no store), the network on (h, ht, pn,
    en) at the start of the step, the production store (capacity ``c`` on level ``h``) with gains 1 + f1,
    1 + f2, then prr = R (grd) or, with ``split``, :func:`corrected_split` (f3) into ``prr`` and ``prd``
    (loieau). No exchange.

    Fluxes: ei, pn, en, pr, perc, ps, es, prr (then prd with ``split``), and the corrections at rows
    ``frow``...
    """
    cdef Network e
    cdef Py_ssize_t nout = 3 if split else 2
    cdef double ei = 0.0, pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0
    no_corrections(&e, nout)
    prr[0] = 0.0
    prd[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        no_store(prcp, pet, &ei, &pn, &en)
        e.x[0] = h[0]
        e.x[1] = ht
        corrected_production(net, &e, 2, pn, en, c, beta, h, &ps, &es, &pr, &perc, tape, tstride)
        if split:
            corrected_split(pr + perc, e.f[2], prr, prd)
        else:
            prr[0] = pr + perc
    else:
        no_production(tape, tstride)
    if fluxes != NULL:
        write_no_store_fluxes(fluxes, fstride, ei, pn, en, pr, perc, ps, es, prr[0])
        if split:
            fluxes[8 * fstride] = prd[0]
        write_corrections(fluxes + frow * fstride, fstride, &e, nout)


cdef struct NoStoreMlpSoil:
    ProductionRecord rec
    Network e
    double prcp, pet, c, h, ei, pn, en, r, prr, prd
    bint active, split


cdef inline void no_store_mlp_soil_recompute(NoStoreMlpSoil* s, double prcp, double pet, double c, bint split,
                                             const Mlp* net, double h, double ht, const double* tape,
                                             Py_ssize_t tstride) noexcept nogil:
    """Recompute :func:`no_store_mlp_soil` from the start-of-step levels into ``s`` (inflows ``s.prr``,
    ``s.prd``)."""
    s.prcp, s.pet, s.c, s.h, s.split = prcp, pet, c, h, split
    s.active = prcp >= 0.0 and pet >= 0.0
    s.prr = 0.0
    s.prd = 0.0
    if not s.active:
        return
    no_store(prcp, pet, &s.ei, &s.pn, &s.en)
    s.e.x[0] = h
    s.e.x[1] = ht
    s.rec = corrected_production_recompute(net, &s.e, 2, s.pn, s.en, c, h, tape, tstride)
    s.r = s.rec.pr + s.rec.perc
    if split:
        corrected_split(s.r, s.e.f[2], &s.prr, &s.prd)
    else:
        s.prr = s.r


cdef inline void no_store_mlp_soil_b(NoStoreMlpSoil* s, const Mlp* net, const double* tape, Py_ssize_t tstride,
                                     double prr_b, double prd_b, double* h_b, double* ht_b, double* c_b,
                                     double* prcp_b, double* net_b) noexcept nogil:
    """Reverse of :func:`no_store_mlp_soil` (conventions of :func:`gr_mlp_soil_b`; ``prd_b`` with ``split``)."""
    cdef double r_b, pn_b = 0.0, en_b = 0.0
    if not s.active:
        return
    if s.split:
        r_b = corrected_split_b(s.r, s.e.f[2], prr_b, prd_b, &s.e.f_b[2])
    else:
        r_b = prr_b
    corrected_production_b(net, &s.e, &s.rec, 2, s.pn, s.en, s.c, s.h, tape, tstride, r_b, h_b, &pn_b, &en_b, c_b,
                           net_b)
    ht_b[0] += s.e.x_b[1]
    no_store_b(s.prcp, s.pet, pn_b, en_b, prcp_b)
