# GR4 and GR5 hydrological operators: point function for one cell and one time step, and its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.0-6.2 (interception I, production P, exchange E4 (gr4) or E5 (gr5),
# transfer T5). GR5 differs from GR4 only by its exchange, kexc (ht - aexc) instead of kexc ht^3.5.
# States are normalised levels (hi, hp, ht); fluxes are depths in mm per time step.
#
# The reverse twin ``gr4_step_b`` gets the states at the start of the step and the few transcendental
# values the forward step recorded on its tape (two tanh, two fourth-root factors); everything else is
# recomputed, so the tape holds 4 numbers per cell and step.
from libc.math cimport tanh, sqrt
from skhydro._kernels._common cimport dmin, dmax, inv_fourth_root

# Internal fluxes written when ``fluxes`` is not NULL (stride ``fstride`` between names).
# Order follows the reference: pn, en, pr, perc, ps, es, lexc, prr, prd, qr, qd (qt is added by the driver).
cdef enum:
    GR4_NFLUX = 11
    GR4_NTAPE = 4      # tanh(pn/cp), tanh(en/cp), percolation and transfer fourth-root factors


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
    """
    cdef double ei = 0.0, pn = 0.0, en = 0.0, ps = 0.0, es = 0.0, pr = 0.0, perc = 0.0
    cdef double lexc = 0.0, prr = 0.0, prd = 0.0, qr, qd
    cdef double h, tp = 0.0, te = 0.0, gp = 1.0, gt, hstar, r4, icp
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
        gp = inv_fourth_root(1.0 + r4 * r4)
        h = hstar * gp
        perc = (hstar - h) * cp
        hp[0] = h
        # groundwater exchange from the transfer level at the start of the step
        h = ht[0]
        if threshold_exchange:
            lexc = kexc * (h - aexc)
        else:
            lexc = kexc * h * h * h * sqrt(h)
        prr = 0.9 * (pr + perc) + lexc
        prd = 0.1 * (pr + perc)
    qr = transfer_store(ht, ct, prr, prcp < 0.0, &gt)
    qd = dmax(0.0, prd + lexc)
    if tape != NULL:
        tape[0] = tp
        tape[tstride] = te
        tape[2 * tstride] = gp
        tape[3 * tstride] = gt
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


cdef inline double pow5(double x) noexcept nogil:
    cdef double x2 = x * x
    return x2 * x2 * x


cdef inline void gr4_step_b(
    double prcp, double pet,
    double ci, double cp, double ct, double kexc, double aexc, bint threshold_exchange, double beta,
    double hi, double hp, double ht,
    const double* tape, Py_ssize_t tstride,
    double q_b,
    double* hi_b, double* hp_b, double* ht_b,
    double* ci_b, double* cp_b, double* ct_b, double* kexc_b, double* aexc_b,
) noexcept nogil:
    """Reverse of :func:`gr4_step`.

    ``hi, hp, ht`` are the states at the start of the step and ``tape`` what the forward step recorded.
    ``q_b`` is the adjoint of the returned runoff. On entry ``hi_b, hp_b, ht_b`` hold the adjoints of the
    end-of-step states; on exit, those of the start-of-step states. Parameter adjoints are accumulated.
    Every min/max follows the branch the forward step took. ``aexc_b`` is only written with
    ``threshold_exchange`` (it may be NULL otherwise).
    """
    cdef double tp = tape[0], te = tape[tstride], gp = tape[2 * tstride], gt = tape[3 * tstride]
    cdef bint active = prcp >= 0.0 and pet >= 0.0
    cdef bint ei_is_pet = False, pn_open = False, ps_is_a = False, es_is_b = False
    cdef double ei = 0.0, pn = 0.0, en = 0.0, a = 0.0, b = 0.0, ps = 0.0, es = 0.0, pr = 0.0
    cdef double hstar = 0.0, hp_new = 0.0, perc = 0.0, sh = 0.0, lexc = 0.0, prr = 0.0, prd = 0.0
    cdef double icp = 1.0 / cp, x, y, r = 0.0, hs_raw, hs, ht_new
    cdef double hi_new_b = hi_b[0], hp_new_b = hp_b[0], ht_new_b = ht_b[0]
    cdef double hs_b, ht_acc, prr_b = 0.0, prd_b, lexc_b, pr_b, perc_b, hstar_b, hpn_b
    cdef double h_b, ps_b, es_b, pn_b, en_b, ei_b, hi_acc, tb, v, d

    # ---- recompute the cheap intermediates of the forward step
    if active:
        y = prcp + hi * ci
        ei_is_pet = pet < y
        ei = pet if ei_is_pet else y
        x = prcp - ci * (1.0 - hi) - ei
        pn_open = not (0.0 > x)
        pn = x if pn_open else 0.0
        en = pet - ei
        if pn > 0.0:
            a = cp * (1.0 - hp * hp) * tp / (1.0 + hp * tp)
            ps_is_a = not (pn < a)
            ps = a if ps_is_a else pn
            pr = pn - ps
        if en > 0.0:
            b = hp * cp * (2.0 - hp) * te / (1.0 + (1.0 - hp) * te)
            es_is_b = not (en < b)
            es = b if es_is_b else en
        hstar = hp + (ps - es) * icp
        hp_new = hstar * gp
        perc = (hstar - hp_new) * cp
        if threshold_exchange:
            lexc = kexc * (ht - aexc)
        else:
            sh = sqrt(ht)
            lexc = kexc * ht * ht * ht * sh
        prr = 0.9 * (pr + perc) + lexc
        prd = 0.1 * (pr + perc)
    if prcp < 0.0:
        y = ht * ht
        r = inv_fourth_root(1.0 - y * y)
        hs_raw = ht * r
    else:
        hs_raw = ht + prr / ct
    hs = dmax(1e-6, hs_raw)
    ht_new = hs * gt

    # ---- reverse: qd = max(0, prd + lexc), qr = (hs - ht_new) ct, ht_new = hs g(hs)
    prd_b = q_b if not (0.0 > prd + lexc) else 0.0
    lexc_b = prd_b
    ct_b[0] += q_b * (hs - ht_new)
    hs_b = q_b * ct + (ht_new_b - q_b * ct) * pow5(gt)   # d(h g(h))/dh = g^5
    if 1e-6 > hs_raw:
        hs_b = 0.0
    if prcp < 0.0:
        ht_acc = hs_b * pow5(r)                          # d(h (1-h^4)^(-1/4))/dh = r^5
    else:
        ht_acc = hs_b
        prr_b = hs_b / ct
        ct_b[0] -= prr_b * prr / ct
    if not active:
        ht_b[0] = ht_acc
        return
    # exchange and the 90/10 split
    lexc_b += prr_b
    pr_b = 0.9 * prr_b + 0.1 * prd_b
    perc_b = pr_b
    if threshold_exchange:
        kexc_b[0] += lexc_b * (ht - aexc)
        ht_acc += lexc_b * kexc
        aexc_b[0] -= lexc_b * kexc
    else:
        kexc_b[0] += lexc_b * ht * ht * ht * sh
        ht_acc += lexc_b * kexc * 3.5 * ht * ht * sh
    ht_b[0] = ht_acc
    # percolation: perc = (hstar - hp_new) cp, hp_new = hstar gp
    cp_b[0] += perc_b * (hstar - hp_new)
    hpn_b = hp_new_b - perc_b * cp
    hstar_b = perc_b * cp + hpn_b * pow5(gp)
    # hstar = hp + (ps - es) / cp
    h_b = hstar_b
    ps_b = hstar_b * icp
    es_b = -ps_b
    cp_b[0] -= ps_b * (ps - es) * icp
    pn_b = 0.0
    en_b = 0.0
    if en > 0.0:
        if es_is_b:
            v = 1.0 + (1.0 - hp) * te
            h_b += es_b * (cp * te * (2.0 - 2.0 * hp) + b * te) / v
            tb = es_b * (hp * (2.0 - hp) * cp - b * (1.0 - hp)) / v
            cp_b[0] += es_b * b * icp
            d = (1.0 - te * te) * tb * icp
            en_b += d
            cp_b[0] -= d * en * icp
        else:
            en_b += es_b
    if pn > 0.0:
        pn_b += pr_b
        ps_b -= pr_b
        if ps_is_a:
            v = 1.0 + hp * tp
            h_b += ps_b * (-2.0 * hp * cp * tp - a * tp) / v
            tb = ps_b * (cp * (1.0 - hp * hp) - a * hp) / v
            cp_b[0] += ps_b * a * icp
            d = (1.0 - tp * tp) * tb * icp
            pn_b += d
            cp_b[0] -= d * pn * icp
        else:
            pn_b += ps_b
    hp_b[0] = h_b
    # interception: hi_new = hi + (prcp - ei - pn) / ci, en = pet - ei
    hi_acc = hi_new_b
    ei_b = -hi_new_b / ci - en_b
    pn_b -= hi_new_b / ci
    ci_b[0] -= hi_new_b * (prcp - ei - pn) / (ci * ci)
    if pn_open:
        ci_b[0] -= pn_b * (1.0 - hi)
        hi_acc += pn_b * ci
        ei_b -= pn_b
    if not ei_is_pet:
        hi_acc += ei_b * ci
        ci_b[0] += ei_b * hi
    hi_b[0] = hi_acc
