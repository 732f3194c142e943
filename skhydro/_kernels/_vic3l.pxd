# VIC3L hydrological operator (three-layer VIC/ARNO): point function for one cell and one time step, and
# its reverse twin.
#
# Equations: ../shared/spec/forward.md §6.0 and §6.6: a canopy store of fixed capacity 1 mm, ARNO
# evaporation from the upper layer, VIC infiltration into the upper and middle layers, Brooks-Corey
# drainage upper -> middle -> bottom, and an ARNO baseflow from the bottom layer that also runs on steps
# with missing forcings. States are normalised levels (hcl, husl, hmsl, hbsl); fluxes are depths in mm
# per time step.
#
# Both twins go through ``vic3l_intermediates``: the forward step computes the six powers of a step and
# records them on the tape, the reverse step replays the same arithmetic from the start states with the
# powers read back, so the two follow the same branches by construction.
from libc.math cimport exp, log
from skhydro._kernels._common cimport dmin, dmax

# Internal fluxes written when ``fluxes`` is not NULL, in the reference's order: pn, en, qr, qb (qt is
# added by the driver). Tape: hcl^(2/3), (1 - husl)^(1/(1+b)), (1 - W/C)^(1/(1+b)), z^(b+1) (infiltration),
# and the two drainage laws h^pbc; the reverse step takes the logarithms it needs for the exponent
# derivatives.
cdef enum:
    VIC3L_NFLUX = 4
    VIC3L_NTAPE = 6

# which bound a drainage took: its law ks h^pbc, the water in the layer, or the room in the one below
cdef enum:
    DRAIN_LAW = 0
    DRAIN_EMPTY = 1
    DRAIN_FULL = 2


cdef inline double clip_level(double h) noexcept nogil:
    """The clip of the canopy, upper and middle levels after an update."""
    return dmin(dmax(h, 1e-6), 0.999999)


cdef inline bint level_open(double h) noexcept nogil:
    """Whether :func:`clip_level` passes ``h`` through (and so its derivative)."""
    return h > 1e-6 and h < 0.999999


cdef inline double taped_pow(double x, double p, double* slot, bint replay) noexcept nogil:
    """x^p (x >= 0), computed into ``slot`` on the forward step, read back from it on the replay. Formed as
    exp(p log x): shorter latency than ``pow``, within a few ulps for the exponents of vic3l."""
    if not replay:
        slot[0] = exp(p * log(x))
    return slot[0]


cdef struct Vic3lRecord:
    # the intermediates of one forward step (named as in the spec; h1..h3, m2..m4, hb1 are the levels
    # of the upper, middle and bottom layers after each update)
    bint valid
    # 1. canopy
    double g, ec, pn, en, hcl_raw, hcl_new
    bint ec_is_pet, pn_open
    # 2. upper-layer evaporation
    double su, rb, s, f, es, h1
    bint es_is_law
    # 3. infiltration
    double c, w, m, u, sw, z, zb, inf, room_u, iu, room_m, im, h2_raw, h2, m2_raw, m2, qr
    bint inf_is_pn, iu_is_room, im_is_room
    # 4. drainage
    double pu, d1, h3, m3, pm, d2, m4, hb1
    int case1, case2
    # 5. baseflow
    double y, qb, hb2
    bint qb_is_cap


cdef inline double drainage(double hu, double hl, double cu, double cl, double ks, double pw,
                            int* which) noexcept nogil:
    """Drainage (mm) from a layer (level ``hu``, capacity ``cu``) to the one below (``hl``, ``cl``):
    ks max(1e-6, hu^pbc) bounded by the water above and the room below; ``pw`` is hu^pbc."""
    cdef double d = ks * dmax(1e-6, pw), cap = hu * cu, room = (1.0 - hl) * cl
    which[0] = DRAIN_LAW
    if not (d < cap):
        d = cap
        which[0] = DRAIN_EMPTY
    if not (d < room):
        d = room
        which[0] = DRAIN_FULL
    return d


cdef inline void drainage_b(double d_b, double hu, double hl, double cu, double cl, double ks, double pbc,
                            double pw, int which, double* hu_b, double* hl_b, double* cu_b, double* cl_b,
                            double* ks_b, double* pbc_b) noexcept nogil:
    """Reverse of :func:`drainage`: accumulates the adjoints of its inputs from that of ``d``."""
    cdef double pw_b
    if which == DRAIN_LAW:
        ks_b[0] += d_b * dmax(1e-6, pw)
        if not (1e-6 > pw):  # the 1e-6 floor passes no derivative
            pw_b = d_b * ks
            hu_b[0] += pw_b * pbc * pw / hu
            pbc_b[0] += pw_b * pw * log(hu)
    elif which == DRAIN_EMPTY:
        hu_b[0] += d_b * cu
        cu_b[0] += d_b * hu
    else:
        hl_b[0] -= d_b * cl
        cl_b[0] += d_b * (1.0 - hl)


cdef inline void vic3l_surface(
    Vic3lRecord* rec, double prcp, double pet, double b, double cusl, double hcl, double husl,
    double hmsl, double hbsl, double* tv, bint replay,
) noexcept nogil:
    """Steps 1-2 of :func:`vic3l_intermediates` (canopy, upper-layer evaporation) into ``rec``; the
    powers go to ``tv[0..1]`` (or, with ``replay``, come from it).

    Powers whose factor is zero on a step are not formed (their slots are left untouched): hcl^(2/3)
    when pet = 0, the evaporation ratio when en = 0, and the infiltration when pn = 0 (where the VIC
    formula is 0 in exact arithmetic: C - W - C (1 - W/C) = 0, see spec §10.3 for the reference's float32
    residue).
    """
    cdef Vic3lRecord* r = rec
    cdef double ea, x, es_law, e1 = 1.0 / (1.0 + b)
    # reciprocals of the capacities: multiplications on the levels' dependency chain, not divisions
    cdef double icusl = 1.0 / cusl
    r.valid = prcp >= 0.0 and pet >= 0.0
    r.pn = 0.0
    r.en = 0.0
    r.qr = 0.0
    r.hcl_new = hcl
    r.h3 = husl
    r.m4 = hmsl
    r.hb1 = hbsl
    if r.valid:
        # 1. canopy, capacity 1 mm: ec = min(E hcl^(2/3), P + hcl)
        r.g = 0.0
        if pet > 0.0:
            r.g = taped_pow(hcl, 2.0 / 3.0, &tv[0], replay)
        ea = pet * r.g
        r.ec_is_pet = ea < prcp + hcl
        r.ec = ea if r.ec_is_pet else prcp + hcl
        x = prcp - (1.0 - hcl) - r.ec
        r.pn_open = not (0.0 > x)
        r.pn = x if r.pn_open else 0.0
        r.en = pet - r.ec
        r.hcl_raw = hcl + prcp - r.ec - r.pn
        r.hcl_new = clip_level(r.hcl_raw)

        # 2. ARNO evaporation from the upper layer. r = 1 - i0/M = (1 - husl)^(1/(1+b)) and
        # r^b = (1 - husl)/r, so one power serves both. r = 0 (i0 >= M, husl = 1) gives es = en.
        r.es = 0.0
        r.es_is_law = True
        if r.en > 0.0:
            r.su = taped_pow(1.0 - husl, e1, &tv[1], replay)
            if r.su > 0.0:
                r.rb = (1.0 - husl) / r.su
                r.s = 1.0 + b * r.su * (1.0 / (b + 1.0) + r.su * (1.0 / (b + 2.0) + r.su * (
                    1.0 / (b + 3.0) + r.su * (1.0 / (b + 4.0) + r.su / (b + 5.0)))))
                r.f = 1.0 - r.rb + r.rb * (1.0 - r.su) * r.s
                es_law = r.en * r.f
            else:
                es_law = r.en
            r.es_is_law = es_law < husl * cusl
            r.es = es_law if r.es_is_law else husl * cusl
        r.h1 = husl - r.es * icusl  # not clipped here: the infiltration's clip follows

cdef inline void vic3l_infiltration(
    Vic3lRecord* rec, double b, double cusl, double cmsl, double hmsl, double* tv, bint replay,
) noexcept nogil:
    """Step 3 of :func:`vic3l_intermediates` (infiltration) after :func:`vic3l_surface`; the powers go to
    ``tv[2..3]`` (or, with ``replay``, come from it)."""
    cdef Vic3lRecord* r = rec
    cdef double x, ic, e1 = 1.0 / (1.0 + b), icusl = 1.0 / cusl, icmsl = 1.0 / cmsl
    if r.valid:
        # 3. VIC infiltration into the upper and middle layers (C, W, M of the spec). With
        # sw = 1 - i0/M = (1 - W/C)^(1/(1+b)), 1 - (i0 + pn)/M = sw - pn/M = z (i0 + pn > M iff z < 0).
        r.iu = 0.0
        r.im = 0.0
        if r.pn > 0.0:
            r.c = cusl + cmsl
            r.w = r.h1 * cusl + hmsl * cmsl
            r.m = (1.0 + b) * r.c
            ic = 1.0 / r.c
            r.u = 1.0 - r.w * ic
            r.sw = taped_pow(r.u, e1, &tv[2], replay)
            r.z = r.sw - r.pn * (e1 * ic)  # pn / M
            if r.z > 0.0:
                r.zb = taped_pow(r.z, 1.0 + b, &tv[3], replay)
                x = r.c - r.w - r.c * r.zb
            else:
                x = r.c - r.w
            r.inf_is_pn = r.pn < x
            r.inf = r.pn if r.inf_is_pn else x
            r.room_u = (1.0 - r.h1) * cusl
            r.iu_is_room = r.room_u < r.inf
            r.iu = r.room_u if r.iu_is_room else r.inf
            r.room_m = (1.0 - hmsl) * cmsl
            r.im_is_room = r.room_m < r.inf - r.iu
            r.im = r.room_m if r.im_is_room else r.inf - r.iu
        r.h2_raw = r.h1 + r.iu * icusl
        r.m2_raw = hmsl + r.im * icmsl
        r.h2 = clip_level(r.h2_raw)
        r.m2 = clip_level(r.m2_raw)
        r.qr = r.pn - r.iu - r.im


cdef inline void vic3l_upper_drainage(
    Vic3lRecord* rec, double cusl, double cmsl, double ks, double pbc, double* tv, bint replay,
) noexcept nogil:
    """Step 4a of :func:`vic3l_intermediates`: drainage from the upper to the middle layer, from the levels
    ``rec`` holds after the infiltration; the power goes to ``tv[4]`` (or, with ``replay``, comes from it)."""
    cdef Vic3lRecord* r = rec
    if r.valid:
        r.pu = taped_pow(r.h2, pbc, &tv[4], replay)
        r.d1 = drainage(r.h2, r.m2, cusl, cmsl, ks, r.pu, &r.case1)
        r.h3 = r.h2 - r.d1 / cusl
        r.m3 = r.m2 + r.d1 / cmsl


cdef inline void vic3l_lower(
    Vic3lRecord* rec, double cmsl, double cbsl, double ks, double pbc, double ds, double dsm,
    double ws, double hbsl, double* tv, bint replay,
) noexcept nogil:
    """Steps 4b-5 of :func:`vic3l_intermediates` (drainage from the middle to the bottom layer, baseflow)
    after :func:`vic3l_upper_drainage`; the power goes to ``tv[5]`` (or, with ``replay``, comes from it)."""
    cdef Vic3lRecord* r = rec
    cdef double k, qb_law, icmsl = 1.0 / cmsl, icbsl = 1.0 / cbsl, iws = 1.0 / ws
    if r.valid:
        r.pm = taped_pow(r.m3, pbc, &tv[5], replay)
        r.d2 = drainage(r.m3, hbsl, cmsl, cbsl, ks, r.pm, &r.case2)
        r.m4 = r.m3 - r.d2 * icmsl
        r.hb1 = hbsl + r.d2 * icbsl

    # 5. ARNO baseflow, on every step, with ds and dsm swapped as in the reference (spec §6.6 quirk). Its
    # quadratic coefficient ds (1 - dsm/ws) is negative whenever dsm > ws (the defaults): qb then bends
    # down above ws, but stays >= 0 for hbsl <= 1 since ((hbsl - ws)/(1 - ws))^2 <= hbsl there.
    k = ds * dsm * iws
    qb_law = k * r.hb1
    r.y = 0.0
    if r.hb1 > ws:
        r.y = (r.hb1 - ws) / (1.0 - ws)
        qb_law = qb_law + ds * (1.0 - dsm * iws) * r.y * r.y
    r.qb_is_cap = r.hb1 * cbsl < qb_law
    r.qb = r.hb1 * cbsl if r.qb_is_cap else qb_law
    r.hb2 = r.hb1 - r.qb * icbsl


cdef inline Vic3lRecord vic3l_intermediates(
    double prcp, double pet, double b, double cusl, double cmsl, double cbsl, double ks, double pbc,
    double ds, double dsm, double ws, double hcl, double husl, double hmsl, double hbsl,
    double* tv, bint replay,
) noexcept nogil:
    """One step from the start states. The powers go to ``tv[0..5]`` (or, with ``replay``, come from it)."""
    cdef Vic3lRecord r
    vic3l_surface(&r, prcp, pet, b, cusl, hcl, husl, hmsl, hbsl, tv, replay)
    vic3l_infiltration(&r, b, cusl, cmsl, hmsl, tv, replay)
    vic3l_upper_drainage(&r, cusl, cmsl, ks, pbc, tv, replay)
    vic3l_lower(&r, cmsl, cbsl, ks, pbc, ds, dsm, ws, hbsl, tv, replay)
    return r


cdef inline double vic3l_step(
    double prcp, double pet,
    double b, double cusl, double cmsl, double cbsl, double ks, double pbc, double ds, double dsm, double ws,
    double* hcl, double* husl, double* hmsl, double* hbsl,
    double* fluxes, Py_ssize_t fstride,
    double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Advance one cell by one step; update the states in place and return the local runoff qr + qb (mm).

    ``fluxes`` (VIC3L_NFLUX values) and ``tape`` (VIC3L_NTAPE values for :func:`vic3l_step_b`) may be NULL.
    """
    cdef double tv[VIC3L_NTAPE]
    cdef Py_ssize_t k
    cdef Vic3lRecord r
    for k in range(VIC3L_NTAPE):
        tv[k] = 0.0
    r = vic3l_intermediates(prcp, pet, b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws,
                            hcl[0], husl[0], hmsl[0], hbsl[0], tv, False)
    hcl[0] = r.hcl_new
    husl[0] = r.h3
    hmsl[0] = r.m4
    hbsl[0] = r.hb2
    if tape != NULL:
        for k in range(VIC3L_NTAPE):
            tape[k * tstride] = tv[k]
    if fluxes != NULL:
        fluxes[0] = r.pn
        fluxes[fstride] = r.en
        fluxes[2 * fstride] = r.qr
        fluxes[3 * fstride] = r.qb
    return r.qr + r.qb


cdef inline void vic3l_soil(
    double prcp, double pet, double b, double cusl, double cmsl, double* hcl, double husl, double hmsl,
    double* h2, double* m2, double* qr, double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Steps 1-3 of :func:`vic3l_step` for the driver's first pass: the canopy advances in place; the
    upper and middle levels after the infiltration and the surface runoff go to ``h2``, ``m2`` and ``qr``
    (:func:`vic3l_drain` finishes the step)."""
    cdef double tv[VIC3L_NTAPE]
    cdef Vic3lRecord r
    cdef Py_ssize_t k
    for k in range(4):
        tv[k] = 0.0
    vic3l_surface(&r, prcp, pet, b, cusl, hcl[0], husl, hmsl, 0.0, tv, False)
    vic3l_infiltration(&r, b, cusl, cmsl, hmsl, tv, False)
    hcl[0] = r.hcl_new
    h2[0] = r.h2 if r.valid else husl
    m2[0] = r.m2 if r.valid else hmsl
    qr[0] = r.qr
    if tape != NULL:
        for k in range(4):
            tape[k * tstride] = tv[k]
    if fluxes != NULL:
        fluxes[0] = r.pn
        fluxes[fstride] = r.en
        fluxes[2 * fstride] = r.qr


cdef inline void vic3l_drain_upper(
    double prcp, double pet, double cusl, double cmsl, double ks, double pbc, double* husl, double h2,
    double* m2_m3, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Step 4a of :func:`vic3l_step` for the driver's second pass, from the levels :func:`vic3l_soil` left:
    the upper layer drains into the middle one (its final level goes to ``husl``, the middle level to
    ``m2_m3``)."""
    cdef double tv[VIC3L_NTAPE]
    cdef Vic3lRecord r
    r.valid = prcp >= 0.0 and pet >= 0.0
    if not r.valid:
        return
    r.h2 = h2
    r.m2 = m2_m3[0]
    vic3l_upper_drainage(&r, cusl, cmsl, ks, pbc, tv, False)
    husl[0] = r.h3
    m2_m3[0] = r.m3
    if tape != NULL:
        tape[4 * tstride] = tv[4]


cdef inline double vic3l_drain_lower(
    double prcp, double pet, double cmsl, double cbsl, double ks, double pbc, double ds, double dsm, double ws,
    double* hmsl, double* hbsl, double m3, double qr, double* fluxes, Py_ssize_t fstride, double* tape,
    Py_ssize_t tstride,
) noexcept nogil:
    """Steps 4b-5 of :func:`vic3l_step` for the driver's third pass, from the middle level ``m3`` that
    :func:`vic3l_drain_upper` left; returns the runoff qr + qb (mm)."""
    cdef double tv[VIC3L_NTAPE]
    cdef Vic3lRecord r
    r.valid = prcp >= 0.0 and pet >= 0.0
    r.m3 = m3
    r.m4 = hmsl[0]
    r.hb1 = hbsl[0]
    tv[5] = 0.0
    vic3l_lower(&r, cmsl, cbsl, ks, pbc, ds, dsm, ws, hbsl[0], tv, False)
    hmsl[0] = r.m4
    hbsl[0] = r.hb2
    if tape != NULL:
        tape[5 * tstride] = tv[5]
    if fluxes != NULL:
        fluxes[3 * fstride] = r.qb
    return qr + r.qb


cdef inline void vic3l_step_b(
    double prcp, double pet,
    double b, double cusl, double cmsl, double cbsl, double ks, double pbc, double ds, double dsm, double ws,
    double hcl, double husl, double hmsl, double hbsl,
    const double* tape, Py_ssize_t tstride,
    double q_b,
    double* hcl_b, double* husl_b, double* hmsl_b, double* hbsl_b,
    double* b_b, double* cusl_b, double* cmsl_b, double* cbsl_b, double* ks_b, double* pbc_b,
    double* ds_b, double* dsm_b, double* ws_b, double* prcp_b,
) noexcept nogil:
    """Reverse of :func:`vic3l_step`.

    ``hcl, husl, hmsl, hbsl`` are the states at the start of the step and ``tape`` what the forward step
    recorded. ``q_b`` is the adjoint of the returned runoff. On entry the state adjoints hold those of the
    end-of-step states; on exit, those of the start-of-step states. Parameter adjoints are accumulated, and
    so is dJ/dprcp into ``prcp_b`` unless it is NULL (pet is not differentiated). Every min/max/clip
    follows the branch the forward step took; a clipped value passes no derivative.
    """
    cdef double tv[VIC3L_NTAPE]
    cdef Py_ssize_t k
    cdef Vic3lRecord r
    cdef double kq = ds * dsm / ws, e1 = 1.0 / (1.0 + b)
    cdef double qb_b = q_b, hb1_b, kq_b, y_b, d_b, m3_b, h2_b, m2_b, hb0_b
    cdef double pn_b, iu_b, im_b, h1_b = 0.0, hm_b = 0.0, inf_b, c_b, w_b, zb_b, z_b, sw_b, u_b, m_b
    cdef double hu_b, es_b, en_b = 0.0, f_b, rb_b, r_b, s_b, lr, ec_b, hc_b = 0.0, p_b = 0.0
    for k in range(VIC3L_NTAPE):
        tv[k] = tape[k * tstride]
    r = vic3l_intermediates(prcp, pet, b, cusl, cmsl, cbsl, ks, pbc, ds, dsm, ws,
                            hcl, husl, hmsl, hbsl, tv, True)

    # ---- 5. baseflow: hbsl_end = hb1 - qb/cbsl, qb = min(hb1 cbsl, k hb1 + ds (1 - dsm/ws) y^2)
    hb1_b = hbsl_b[0]
    qb_b -= hbsl_b[0] / cbsl
    cbsl_b[0] += hbsl_b[0] * r.qb / (cbsl * cbsl)
    if r.qb_is_cap:
        hb1_b += qb_b * cbsl
        cbsl_b[0] += qb_b * r.hb1
    else:
        hb1_b += qb_b * kq
        kq_b = qb_b * r.hb1
        ds_b[0] += kq_b * dsm / ws
        dsm_b[0] += kq_b * ds / ws
        ws_b[0] -= kq_b * kq / ws
        if r.hb1 > ws:
            ds_b[0] += qb_b * (1.0 - dsm / ws) * r.y * r.y
            dsm_b[0] -= qb_b * ds / ws * r.y * r.y
            ws_b[0] += qb_b * kq / ws * r.y * r.y
            y_b = 2.0 * qb_b * ds * (1.0 - dsm / ws) * r.y
            # y = (hb1 - ws)/(1 - ws): dy/dws = (y - 1)/(1 - ws)
            hb1_b += y_b / (1.0 - ws)
            ws_b[0] += y_b * (r.y - 1.0) / (1.0 - ws)
    if not r.valid:
        hbsl_b[0] = hb1_b
        return

    # ---- 4. drainage middle -> bottom: m4 = m3 - d2/cmsl, hb1 = hbsl + d2/cbsl
    m3_b = hmsl_b[0]
    hb0_b = hb1_b
    d_b = hb1_b / cbsl - hmsl_b[0] / cmsl
    cbsl_b[0] -= hb1_b * r.d2 / (cbsl * cbsl)
    cmsl_b[0] += hmsl_b[0] * r.d2 / (cmsl * cmsl)
    drainage_b(d_b, r.m3, hbsl, cmsl, cbsl, ks, pbc, r.pm, r.case2, &m3_b, &hb0_b, cmsl_b, cbsl_b, ks_b, pbc_b)
    # upper -> middle: h3 = h2 - d1/cusl, m3 = m2 + d1/cmsl
    h2_b = husl_b[0]
    m2_b = m3_b
    d_b = m3_b / cmsl - husl_b[0] / cusl
    cmsl_b[0] -= m3_b * r.d1 / (cmsl * cmsl)
    cusl_b[0] += husl_b[0] * r.d1 / (cusl * cusl)
    drainage_b(d_b, r.h2, r.m2, cusl, cmsl, ks, pbc, r.pu, r.case1, &h2_b, &m2_b, cusl_b, cmsl_b, ks_b, pbc_b)

    # ---- 3. infiltration: qr = pn - iu - im, h2 = clip(h1 + iu/cusl), m2 = clip(hmsl + im/cmsl)
    pn_b = q_b
    iu_b = -q_b
    im_b = -q_b
    if level_open(r.m2_raw):
        hm_b = m2_b
        im_b += m2_b / cmsl
        cmsl_b[0] -= m2_b * r.im / (cmsl * cmsl)
    if level_open(r.h2_raw):
        h1_b = h2_b
        iu_b += h2_b / cusl
        cusl_b[0] -= h2_b * r.iu / (cusl * cusl)
    if r.pn > 0.0:
        inf_b = 0.0
        if r.im_is_room:
            hm_b -= im_b * cmsl
            cmsl_b[0] += im_b * (1.0 - hmsl)
        else:
            inf_b += im_b
            iu_b -= im_b
        if r.iu_is_room:
            h1_b -= iu_b * cusl
            cusl_b[0] += iu_b * (1.0 - r.h1)
        else:
            inf_b += iu_b
        if r.inf_is_pn:
            pn_b += inf_b
        else:
            # inf = C - W [- C z^(b+1)], z = sw - pn/M, M = (1 + b) C, sw = u^(1/(1+b)), u = 1 - W/C
            c_b = inf_b
            w_b = -inf_b
            if r.z > 0.0:
                c_b -= inf_b * r.zb
                zb_b = -inf_b * r.c
                z_b = zb_b * (1.0 + b) * r.zb / r.z
                b_b[0] += zb_b * r.zb * log(r.z)
                sw_b = z_b
                pn_b -= z_b / r.m
                m_b = z_b * r.pn / (r.m * r.m)
                b_b[0] += m_b * r.c
                c_b += m_b * (1.0 + b)
                # dsw/du = sw/((1+b) u), dsw/db = -sw ln(u)/(1+b)^2 = -sw ln(sw)/(1+b)
                u_b = sw_b * r.sw * e1 / r.u
                b_b[0] -= sw_b * r.sw * log(r.sw) * e1
                w_b -= u_b / r.c
                c_b += u_b * r.w / (r.c * r.c)
            h1_b += w_b * cusl
            cusl_b[0] += w_b * r.h1
            hm_b += w_b * cmsl
            cmsl_b[0] += w_b * hmsl
            cusl_b[0] += c_b
            cmsl_b[0] += c_b
    hmsl_b[0] = hm_b

    # ---- 2. upper-layer evaporation: h1 = husl - es/cusl, es = min(en f(r, b), husl cusl)
    hu_b = h1_b
    es_b = -h1_b / cusl
    cusl_b[0] += h1_b * r.es / (cusl * cusl)
    if r.en > 0.0:
        if not r.es_is_law:
            hu_b += es_b * cusl
            cusl_b[0] += es_b * husl
        elif r.su > 0.0:
            en_b += es_b * r.f
            f_b = es_b * r.en
            # f = 1 - rb + rb (1 - r) S, rb = r^b, S = 1 + b sum_k r^k/(b+k), r = (1 - husl)^(1/(1+b))
            rb_b = f_b * ((1.0 - r.su) * r.s - 1.0)
            s_b = f_b * r.rb * (1.0 - r.su)
            r_b = -f_b * r.rb * r.s
            r_b += s_b * b * (1.0 / (b + 1.0) + r.su * (2.0 / (b + 2.0) + r.su * (
                3.0 / (b + 3.0) + r.su * (4.0 / (b + 4.0) + r.su * 5.0 / (b + 5.0)))))
            b_b[0] += s_b * r.su * (1.0 / ((b + 1.0) * (b + 1.0)) + r.su * (2.0 / ((b + 2.0) * (b + 2.0)) + r.su * (
                3.0 / ((b + 3.0) * (b + 3.0)) + r.su * (4.0 / ((b + 4.0) * (b + 4.0))
                                                        + r.su * 5.0 / ((b + 5.0) * (b + 5.0))))))
            lr = log(r.su)
            r_b += rb_b * b * r.rb / r.su
            b_b[0] += rb_b * r.rb * lr
            hu_b -= r_b * r.su * e1 / (1.0 - husl)
            b_b[0] -= r_b * r.su * lr * e1
        else:
            en_b += es_b

    # ---- 1. canopy: en = pet - ec, hcl_new = clip(hcl + P - ec - pn), pn = max(0, P - (1 - hcl) - ec)
    ec_b = -en_b
    if level_open(r.hcl_raw):
        hc_b = hcl_b[0]
        p_b += hcl_b[0]
        ec_b -= hcl_b[0]
        pn_b -= hcl_b[0]
    if r.pn_open:
        p_b += pn_b
        hc_b += pn_b
        ec_b -= pn_b
    if r.ec_is_pet:
        if pet > 0.0:
            hc_b += ec_b * pet * (2.0 / 3.0) * r.g / hcl
    else:
        p_b += ec_b
        hc_b += ec_b
    hcl_b[0] = hc_b
    husl_b[0] = hu_b
    hbsl_b[0] = hb0_b
    if prcp_b != NULL:
        prcp_b[0] += p_b
