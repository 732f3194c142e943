# Building blocks of the GR structures, forward and reverse (../shared/spec/forward.md §6.1): the
# interception store I, the production store P and the transfer store T5, on normalised levels. Each
# structure's point function (_gr4.pxd, _grc.pxd, _grd.pxd) chains them with its exchange and split.
from libc.math cimport cbrt, exp, log, sqrt, tanh
from skhydro._kernels._common cimport dmin, dmax, inv_fourth_root


cdef inline double inv_cube_root(double x) noexcept nogil:
    return 1.0 / cbrt(x)


cdef inline double pow5(double x) noexcept nogil:
    cdef double x2 = x * x
    return x2 * x2 * x


# -------------------------------------------------------------------------------- interception store
cdef inline void interception(double prcp, double pet, double ci, double* hi, double* pn, double* en) noexcept nogil:
    """Interception store of capacity ``ci`` on level ``hi`` (updated): net rain ``pn`` and net PET ``en``."""
    cdef double ei = dmin(pet, prcp + hi[0] * ci)
    pn[0] = dmax(0.0, prcp - ci * (1.0 - hi[0]) - ei)
    en[0] = pet - ei
    hi[0] = hi[0] + (prcp - ei - pn[0]) / ci


cdef struct InterceptionRecord:
    double ei, pn, en
    bint ei_is_pet, pn_open


cdef inline InterceptionRecord interception_recompute(double prcp, double pet, double ci, double hi) noexcept nogil:
    cdef InterceptionRecord r
    cdef double y = prcp + hi * ci, x
    r.ei_is_pet = pet < y  # dmin(pet, y) takes pet when pet < y
    r.ei = pet if r.ei_is_pet else y
    x = prcp - ci * (1.0 - hi) - r.ei
    r.pn_open = not (0.0 > x)
    r.pn = x if r.pn_open else 0.0
    r.en = pet - r.ei
    return r


cdef inline void interception_b(InterceptionRecord* r, double prcp, double ci, double hi, double pn_b, double en_b,
                                double* hi_b, double* ci_b, double* prcp_b) noexcept nogil:
    """Reverse of :func:`interception` from the start level ``hi``; ``hi_b`` in: end level, out: start.
    ``prcp_b`` (may be NULL) accumulates the adjoint of the precipitation."""
    cdef double hi_new_b = hi_b[0], hi_acc = hi_new_b
    cdef double ei_b = -hi_new_b / ci - en_b
    cdef double p_b = hi_new_b / ci
    pn_b -= hi_new_b / ci
    ci_b[0] -= hi_new_b * (prcp - r.ei - r.pn) / (ci * ci)
    if r.pn_open:
        ci_b[0] -= pn_b * (1.0 - hi)
        hi_acc += pn_b * ci
        ei_b -= pn_b
        p_b += pn_b
    if not r.ei_is_pet:
        hi_acc += ei_b * ci
        ci_b[0] += ei_b * hi
        p_b += ei_b
    hi_b[0] = hi_acc
    if prcp_b != NULL:
        prcp_b[0] += p_b


cdef inline void no_store(double prcp, double pet, double* ei, double* pn, double* en) noexcept nogil:
    """grd and loieau have no interception store: the PET first evaporates the rain."""
    ei[0] = dmin(pet, prcp)
    pn[0] = dmax(0.0, prcp - ei[0])
    en[0] = pet - ei[0]


cdef inline void no_store_b(double prcp, double pet, double pn_b, double en_b, double* prcp_b) noexcept nogil:
    """Reverse of :func:`no_store`: accumulates the adjoint of the precipitation into ``prcp_b`` (if not
    NULL); pn = max(0, P - E) when the rain exceeds the PET, else en = E - P."""
    if prcp_b == NULL:
        return
    if pet < prcp:
        prcp_b[0] += pn_b
    else:
        prcp_b[0] -= en_b


# ---------------------------------------------------------------------------------- production store
cdef inline void production(double pn, double en, double c, double beta, double gs, double ge, double* h,
                            double* ps, double* es, double* pr, double* perc,
                            double* tape, Py_ssize_t tstride) noexcept nogil:
    """Production store of capacity ``c`` on level ``h`` (updated): infiltration ``ps``, evaporation ``es``,
    runoff ``pr`` and percolation ``perc`` (mm). ``tape`` (may be NULL) receives tanh(pn/c), tanh(en/c)
    and the percolation factor (1 + (h*/beta)^4)^(-1/4).

    ``gs`` and ``ge`` are the hybrid structures' correction gains 1 + f_s and 1 + f_e on the infiltration
    and the evaporation, each still capped by the water available (1.0 for the classical structures:
    multiplying by 1.0 is exact, so they are unchanged bit for bit).
    """
    cdef double hh = h[0], tp = 0.0, te = 0.0, gp, hstar, r4, ic = 1.0 / c
    ps[0] = 0.0
    es[0] = 0.0
    pr[0] = 0.0
    if pn > 0.0:  # tanh(0) = 0: most steps have no net rain
        tp = tanh(pn * ic)
        ps[0] = dmin(pn, gs * (c * (1.0 - hh * hh) * tp / (1.0 + hh * tp)))
        pr[0] = pn - ps[0]
    if en > 0.0:
        te = tanh(en * ic)
        es[0] = dmin(en, ge * (hh * c * (2.0 - hh) * te / (1.0 + (1.0 - hh) * te)))
    hstar = hh + (ps[0] - es[0]) * ic
    # percolation h* c (1 - (1 + (h*/beta)^4)^(-1/4)), written on the level it leaves
    r4 = hstar / beta
    r4 = r4 * r4
    gp = inv_fourth_root(1.0 + r4 * r4)
    h[0] = hstar * gp
    perc[0] = (hstar - h[0]) * c
    if tape != NULL:
        tape[0] = tp
        tape[tstride] = te
        tape[2 * tstride] = gp


cdef inline void no_production(double* tape, Py_ssize_t tstride) noexcept nogil:
    """The tape of a step whose production store did not run (missing forcings): tanh values 0, factor 1."""
    if tape != NULL:
        tape[0] = 0.0
        tape[tstride] = 0.0
        tape[2 * tstride] = 1.0


cdef struct ProductionRecord:
    # the forward step's intermediates, recomputed from its inputs and tape (no transcendental)
    double ps, es, pr, perc, hstar, h_new, a, b
    bint ps_is_a, es_is_b


cdef inline ProductionRecord production_recompute(double pn, double en, double c, double h,
                                                  double tp, double te, double gp, double gs,
                                                  double ge) noexcept nogil:
    cdef ProductionRecord r
    cdef double ic = 1.0 / c
    r.ps = 0.0
    r.es = 0.0
    r.pr = 0.0
    r.a = 0.0
    r.b = 0.0
    r.ps_is_a = False
    r.es_is_b = False
    if pn > 0.0:
        r.a = c * (1.0 - h * h) * tp / (1.0 + h * tp)
        r.ps_is_a = not (pn < gs * r.a)  # dmin(pn, gs a) takes pn when pn < gs a
        r.ps = gs * r.a if r.ps_is_a else pn
        r.pr = pn - r.ps
    if en > 0.0:
        r.b = h * c * (2.0 - h) * te / (1.0 + (1.0 - h) * te)
        r.es_is_b = not (en < ge * r.b)
        r.es = ge * r.b if r.es_is_b else en
    r.hstar = h + (r.ps - r.es) * ic
    r.h_new = r.hstar * gp
    r.perc = (r.hstar - r.h_new) * c
    return r


cdef inline void production_b(ProductionRecord* r, double pn, double en, double c, double h,
                              double tp, double te, double gp, double gs, double ge, double pr_b, double perc_b,
                              double* h_b, double* pn_b, double* en_b, double* c_b,
                              double* gs_b, double* ge_b) noexcept nogil:
    """Reverse of :func:`production` from its start level ``h`` and tape values.

    On entry ``h_b`` holds the adjoint of the end level, on exit that of the start level; ``pn_b``,
    ``en_b`` and ``c_b`` are accumulated, and so are the gains' ``gs_b`` and ``ge_b`` (may be NULL).
    """
    cdef double ic = 1.0 / c, hstar_b, hb, ps_b, es_b, v, tb, d
    # perc = (h* - h_new) c, h_new = h* gp(h*): d(h* gp)/dh* = gp^5
    c_b[0] += perc_b * (r.hstar - r.h_new)
    hstar_b = perc_b * c + (h_b[0] - perc_b * c) * pow5(gp)
    # h* = h + (ps - es) / c
    hb = hstar_b
    ps_b = hstar_b * ic
    es_b = -ps_b
    c_b[0] -= ps_b * (r.ps - r.es) * ic
    if en > 0.0:
        if r.es_is_b:
            if ge_b != NULL:
                ge_b[0] += es_b * r.b
            es_b = es_b * ge  # the formula's adjoint
            v = 1.0 + (1.0 - h) * te
            hb += es_b * (c * te * (2.0 - 2.0 * h) + r.b * te) / v
            tb = es_b * (h * (2.0 - h) * c - r.b * (1.0 - h)) / v
            c_b[0] += es_b * r.b * ic
            d = (1.0 - te * te) * tb * ic
            en_b[0] += d
            c_b[0] -= d * en * ic
        else:
            en_b[0] += es_b
    if pn > 0.0:
        pn_b[0] += pr_b
        ps_b -= pr_b
        if r.ps_is_a:
            if gs_b != NULL:
                gs_b[0] += ps_b * r.a
            ps_b = ps_b * gs
            v = 1.0 + h * tp
            hb += ps_b * (-2.0 * h * c * tp - r.a * tp) / v
            tb = ps_b * (c * (1.0 - h * h) - r.a * h) / v
            c_b[0] += ps_b * r.a * ic
            d = (1.0 - tp * tp) * tb * ic
            pn_b[0] += d
            c_b[0] -= d * pn * ic
        else:
            pn_b[0] += ps_b
    h_b[0] = hb


# ------------------------------------------------------------------------------------------ exchange
cdef inline double gr_exchange(double kexc, double aexc, bint threshold_exchange, double ht) noexcept nogil:
    """Groundwater exchange from the transfer level at the start of the step: E4 ``kexc ht^3.5``, or E5
    ``kexc (ht - aexc)`` with ``threshold_exchange``."""
    if threshold_exchange:
        return kexc * (ht - aexc)
    return kexc * ht * ht * ht * sqrt(ht)


cdef inline void gr_exchange_b(double kexc, double aexc, bint threshold_exchange, double ht, double l_b,
                               double* kexc_b, double* aexc_b, double* ht_b) noexcept nogil:
    """Reverse of :func:`gr_exchange`: accumulates the adjoints (``aexc_b`` only with E5)."""
    cdef double sh
    if threshold_exchange:
        kexc_b[0] += l_b * (ht - aexc)
        ht_b[0] += l_b * kexc
        aexc_b[0] -= l_b * kexc
    else:
        sh = sqrt(ht)
        kexc_b[0] += l_b * ht * ht * ht * sh
        ht_b[0] += l_b * kexc * 3.5 * ht * ht * sh


cdef inline void write_soil_fluxes(double* fluxes, Py_ssize_t fstride, double pn, double en, double pr, double perc,
                                   double ps, double es, double lexc, double prr, double prd) noexcept nogil:
    """The GR soil's fluxes in the reference's order: pn, en, pr, perc, ps, es, lexc, prr, prd."""
    fluxes[0] = pn
    fluxes[fstride] = en
    fluxes[2 * fstride] = pr
    fluxes[3 * fstride] = perc
    fluxes[4 * fstride] = ps
    fluxes[5 * fstride] = es
    fluxes[6 * fstride] = lexc
    fluxes[7 * fstride] = prr
    fluxes[8 * fstride] = prd


cdef inline void write_no_store_fluxes(double* fluxes, Py_ssize_t fstride, double ei, double pn, double en, double pr,
                                       double perc, double ps, double es, double prr) noexcept nogil:
    """The soil fluxes of the structures without interception store (grd, loieau): ei, pn, en, pr, perc,
    ps, es, prr."""
    fluxes[0] = ei
    fluxes[fstride] = pn
    fluxes[2 * fstride] = en
    fluxes[3 * fstride] = pr
    fluxes[4 * fstride] = perc
    fluxes[5 * fstride] = ps
    fluxes[6 * fstride] = es
    fluxes[7 * fstride] = prr


# ---------------------------------------------------------------------------------- GR soil half
cdef inline void gr_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange, double beta,
    double routed_share, double second_share, bint second_exchanges,
    double* hi, double* hp, double ht, double* prr, double* second, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of the GR structures with interception: interception I, production P, exchange l (E4
    ``kexc ht^3.5``, or E5 ``kexc (ht - aexc)`` with ``threshold_exchange``, from ``ht`` at the start of
    the step) and the split of R = pr + perc: ``prr = routed_share R + l`` to the transfer store,
    ``second = second_share R`` (``+ l`` with ``second_exchanges``) to a second store when
    ``second_share > 0``, and ``direct = 0.1 R + l`` to the direct branch.

    Fluxes written: pn, en, pr, perc, ps, es, lexc, prr, prd, then the second store's inflow when it exists.
    """
    cdef double pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0, lexc = 0.0, prd = 0.0
    prr[0] = 0.0
    second[0] = 0.0
    if prcp >= 0.0 and pet >= 0.0:
        interception(prcp, pet, ci, hi, &pn, &en)
        production(pn, en, cp, beta, 1.0, 1.0, hp, &ps, &es, &pr, &perc, tape, tstride)
        lexc = gr_exchange(kexc, aexc, threshold_exchange, ht)
        prr[0] = routed_share * (pr + perc) + lexc
        if second_share > 0.0:
            second[0] = second_share * (pr + perc) + lexc if second_exchanges else second_share * (pr + perc)
        prd = 0.1 * (pr + perc)
    else:
        no_production(tape, tstride)
    direct[0] = prd + lexc
    if fluxes != NULL:
        write_soil_fluxes(fluxes, fstride, pn, en, pr, perc, ps, es, lexc, prr[0], prd)
        if second_share > 0.0:
            fluxes[9 * fstride] = second[0]


# ------------------------------------------------------------------------------------ transfer store
cdef inline double transfer_store(double* h, double c, double x, bint prcp_missing, double* g) noexcept nogil:
    """Non-linear transfer store with exponent 5 (T5). Returns its outflow in mm.

    The reference writes the outflow law on levels in mm, h <- ((h c)^-4 + c^-4)^(-1/4) / c; divided
    through by c it is h <- h / (1 + h^4)^(1/4) on the normalised level, with no power of c to form.
    ``g`` receives the factor (1 + h*^4)^(-1/4) (the reverse step needs it).
    """
    cdef double hstar, y
    if prcp_missing:
        # inflow that leaves the level unchanged (reference behaviour on missing rain):
        # the level before the outflow is h / (1 - h^4)^(1/4)
        y = h[0] * h[0]
        hstar = dmax(1e-6, h[0] * inv_fourth_root(1.0 - y * y))
    else:
        hstar = dmax(1e-6, h[0] + x / c)
    y = hstar * hstar
    g[0] = inv_fourth_root(1.0 + y * y)
    h[0] = hstar * g[0]
    return (hstar - h[0]) * c


cdef inline double transfer_store_b(double h, double c, double x, bint prcp_missing, double g, double q_b,
                                    double* h_b, double* c_b) noexcept nogil:
    """Reverse of :func:`transfer_store` from the start level ``h``; returns the adjoint of the inflow ``x``.

    On entry ``h_b`` holds the adjoint of the end level, on exit that of the start level; ``c_b`` is
    accumulated. The 1e-6 floor, when it acted, passes no derivative.
    """
    cdef double y, r = 0.0, hs_raw, hs, h_new, hs_b, x_b
    if prcp_missing:
        y = h * h
        r = inv_fourth_root(1.0 - y * y)
        hs_raw = h * r
    else:
        hs_raw = h + x / c
    hs = dmax(1e-6, hs_raw)
    h_new = hs * g
    c_b[0] += q_b * (hs - h_new)
    hs_b = q_b * c + (h_b[0] - q_b * c) * pow5(g)  # d(h g(h))/dh = g^5
    if 1e-6 > hs_raw:
        hs_b = 0.0
    if prcp_missing:
        h_b[0] = hs_b * pow5(r)  # d(h (1 - h^4)^(-1/4))/dh = r^5
        return 0.0
    h_b[0] = hs_b
    x_b = hs_b / c
    c_b[0] -= x_b * x / c
    return x_b


# ------------------------------------------------------------------------- transfer store, exponent 4
cdef inline double transfer_store4(double* h, double c, double x, bint prcp_missing, double* g) noexcept nogil:
    """Transfer store with exponent 4 (T4, loieau): h <- ((h c)^-3 + c^-3)^(-1/3) / c, i.e.
    h <- h / (1 + h^3)^(1/3) on the normalised level. ``g`` receives (1 + h*^3)^(-1/3)."""
    cdef double hstar
    if prcp_missing:  # the inflow that leaves the level unchanged: h / (1 - h^3)^(1/3) before the outflow
        hstar = dmax(1e-6, h[0] * inv_cube_root(1.0 - h[0] * h[0] * h[0]))
    else:
        hstar = dmax(1e-6, h[0] + x / c)
    g[0] = inv_cube_root(1.0 + hstar * hstar * hstar)
    h[0] = hstar * g[0]
    return (hstar - h[0]) * c


cdef inline double transfer_store4_b(double h, double c, double x, bint prcp_missing, double g, double q_b,
                                     double* h_b, double* c_b) noexcept nogil:
    """Reverse of :func:`transfer_store4` (conventions of :func:`transfer_store_b`)."""
    cdef double r = 0.0, hs_raw, hs, h_new, hs_b, x_b, g4
    if prcp_missing:
        r = inv_cube_root(1.0 - h * h * h)
        hs_raw = h * r
    else:
        hs_raw = h + x / c
    hs = dmax(1e-6, hs_raw)
    h_new = hs * g
    c_b[0] += q_b * (hs - h_new)
    g4 = g * g
    g4 = g4 * g4
    hs_b = q_b * c + (h_b[0] - q_b * c) * g4  # d(h g(h))/dh = g^4
    if 1e-6 > hs_raw:
        hs_b = 0.0
    if prcp_missing:
        r = r * r
        h_b[0] = hs_b * r * r  # d(h (1 - h^3)^(-1/3))/dh = r^4
        return 0.0
    h_b[0] = hs_b
    x_b = hs_b / c
    c_b[0] -= x_b * x / c
    return x_b


# ---------------------------------------------------------------------------------- exponential store
cdef inline double exponential_store(double* he, double be, double x) noexcept nogil:
    """GR6 exponential store of scale ``be`` on level ``he`` (mm, updated) with inflow ``x``; returns its
    outflow be log(1 + exp(H/be)) with H = he + x (its asymptotes beyond |H/be| > 7)."""
    cdef double big_h = he[0] + x, a = big_h / be, qe
    if a < -7.0:
        qe = be * exp(a)
    elif a > 7.0:
        qe = big_h + be / exp(a)
    else:
        qe = be * log(exp(a) + 1.0)
    he[0] = big_h - qe
    return qe


cdef inline double exponential_store_b(double he, double be, double x, double q_b, double* he_b,
                                       double* be_b) noexcept nogil:
    """Reverse of :func:`exponential_store` from the start level ``he``; returns the adjoint of ``x``.

    On entry ``he_b`` holds the adjoint of the end level, on exit that of the start level.
    """
    cdef double big_h = he + x, a = big_h / be, ea, dq_dh, dq_dbe, qe_b
    if a < -7.0:
        ea = exp(a)
        dq_dh = ea
        dq_dbe = ea * (1.0 - a)
    elif a > 7.0:
        ea = exp(-a)
        dq_dh = 1.0 - ea
        dq_dbe = ea * (1.0 + a)
    else:
        ea = exp(a)
        dq_dh = ea / (1.0 + ea)
        dq_dbe = log(ea + 1.0) - a * dq_dh
    qe_b = q_b - he_b[0]  # he_new = H - qe
    be_b[0] += qe_b * dq_dbe
    he_b[0] = he_b[0] + qe_b * dq_dh
    return he_b[0]
