# Hybrid structures (gr4_mlp, gr5_mlp, gr6_mlp, grc_mlp, grd_mlp, loieau_mlp): the classical soil with its
# internal fluxes corrected by a network, forward and reverse (../shared/spec/forward.md §6.4).
#
# After interception (grd, loieau: the rain evaporated first, no store) the network maps the levels at the
# start of the step and pn, en to corrections f in ]-1, 1[:
#
#   module      inputs                 outputs
#   gr4/gr5     hp, ht, pn, en         f1 ps, f2 es, f3 split, f4 exchange
#   gr6         hp, ht, he, pn, en     f1 ps, f2 es, f3 split, f4 three-way split, f5 exchange
#   grc         hp, ht, hl, pn, en     f1 ps, f2 es, f3 split, f4 two-store split, f5 exchange
#   grd         hp, ht, pn, en         f1 ps, f2 es
#   loieau      ha, hc, pn, en         f1 ps, f2 es, f3 split
#
#   ps = min(pn, (1 + f1) ps_GR)      es = min(en, (1 + f2) es_GR)      l = (1 + f_l) l_GR
#   gr4, gr5, loieau: prr = 0.9 (1 - f3²) R (+ l),  prd = (0.1 + 0.9 f3²) R        (R = pr + perc)
#   gr6: prr = (0.6 - 0.4 f4) 0.9 (1 - f3²) R + l,  pre = 0.4 (1 + f4) 0.9 (1 - f3²) R + l,  prd as gr4
#   grc: as gr6 with prl in place of pre and no + l on prl
#
# With f = 0 every factor is exactly 1 and the step is the classical one bit for bit. Steps with missing
# forcings take no correction. The stores halves are the classical ones (``gr4_stores``, ``gr6_stores``...);
# the fluxes are the classical structure's, then f1..fn.
from skhydro._kernels._gr4 cimport gr4_stores_b, GR4_NFLUX
from skhydro._kernels._gr6 cimport gr6_stores_b, GR6_NFLUX
from skhydro._kernels._grc cimport grc_stores_b, GRC_NFLUX, GRC_BETA
from skhydro._kernels._grd cimport GRD_NFLUX, GRD_BETA
from skhydro._kernels._loieau cimport loieau_stores_b, LOIEAU_NFLUX
from skhydro._kernels._gr_blocks cimport transfer_store_b
from skhydro._kernels._hybrid_blocks cimport (
    gr_mlp_soil, GrMlpSoil, gr_mlp_soil_recompute, gr_mlp_soil_b,
    no_store_mlp_soil, NoStoreMlpSoil, no_store_mlp_soil_recompute, no_store_mlp_soil_b,
)
from skhydro._kernels._mlp cimport Mlp

# network inputs and outputs, and the fluxes (the classical structure's, qt excluded, then the corrections)
cdef enum:
    GR4_MLP_NIN = 4
    GR4_MLP_NOUT = 4
    GR4_MLP_NFLUX = GR4_NFLUX + GR4_MLP_NOUT
    GR6_MLP_NIN = 5
    GR6_MLP_NOUT = 5
    GR6_MLP_NFLUX = GR6_NFLUX + GR6_MLP_NOUT
    GRC_MLP_NIN = 5
    GRC_MLP_NOUT = 5
    GRC_MLP_NFLUX = GRC_NFLUX + GRC_MLP_NOUT
    GRD_MLP_NIN = 4
    GRD_MLP_NOUT = 2
    GRD_MLP_NFLUX = GRD_NFLUX + GRD_MLP_NOUT
    LOIEAU_MLP_NIN = 4
    LOIEAU_MLP_NOUT = 3
    LOIEAU_MLP_NFLUX = LOIEAU_NFLUX + LOIEAU_MLP_NOUT


# --------------------------------------------------------------------------------------- gr4, gr5
cdef inline void gr4_mlp_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, bint threshold_exchange, double beta,
    const Mlp* net, double* hi, double* hp, double ht, double* prr, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of the hybrid GR4/GR5 step (the counterpart of ``gr4_soil``): ``prr`` feeds the transfer
    store, ``direct`` (prd + l) the direct branch. Fluxes as gr4's, plus f1..f4 at rows 11-14."""
    cdef double unused
    gr_mlp_soil(prcp, pet, ci, cp, kexc, aexc, threshold_exchange, beta, False, False, net, 0.0, hi, hp, ht, prr,
                &unused, direct, fluxes, fstride, GR4_NFLUX, tape, tstride)


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
    cdef GrMlpSoil s
    cdef double prr_b, direct_b
    gr_mlp_soil_recompute(&s, prcp, pet, ci, cp, kexc, aexc, threshold_exchange, False, False, net, 0.0, hi, hp, ht,
                          tape, tstride)
    prr_b = gr4_stores_b(prcp, ct, ht, s.prr, s.prd + s.lexc, tape[3 * tstride], q_b, ht_b, ct_b, &direct_b)
    gr_mlp_soil_b(&s, net, tape, tstride, prr_b, 0.0, direct_b, hi_b, hp_b, ht_b, NULL, ci_b, cp_b, kexc_b, aexc_b,
                  prcp_b, net_b)


# -------------------------------------------------------------------------------------------- gr6
cdef inline void gr6_mlp_soil(
    double prcp, double pet, double ci, double cp, double kexc, double aexc, double beta, const Mlp* net,
    double* hi, double* hp, double ht, double he, double* prr, double* pre, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of hybrid GR6 (the counterpart of ``gr6_soil``): exchange E5 on all three branches. Fluxes
    as gr6's, plus f1..f5 at rows 13-17."""
    gr_mlp_soil(prcp, pet, ci, cp, kexc, aexc, True, beta, True, True, net, he, hi, hp, ht, prr, pre, direct,
                fluxes, fstride, GR6_NFLUX, tape, tstride)


cdef inline void gr6_mlp_step_b(
    double prcp, double pet, double ci, double cp, double ct, double be, double kexc, double aexc, double beta,
    const Mlp* net, double hi, double hp, double ht, double he,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hi_b, double* hp_b, double* ht_b, double* he_b,
    double* ci_b, double* cp_b, double* ct_b, double* be_b, double* kexc_b, double* aexc_b, double* prcp_b,
    double* net_b,
) noexcept nogil:
    """Reverse of ``gr6_mlp_soil`` then ``gr6_stores`` (conventions of ``gr6_step_b``; ``net_b`` accumulates)."""
    cdef GrMlpSoil s
    cdef double prr_b, pre_b, direct_b
    gr_mlp_soil_recompute(&s, prcp, pet, ci, cp, kexc, aexc, True, True, True, net, he, hi, hp, ht, tape, tstride)
    gr6_stores_b(prcp, ct, be, ht, he, s.prr, s.second, s.prd + s.lexc, tape[3 * tstride], q_b, ht_b, he_b, ct_b,
                 be_b, &prr_b, &pre_b, &direct_b)
    gr_mlp_soil_b(&s, net, tape, tstride, prr_b, pre_b, direct_b, hi_b, hp_b, ht_b, he_b, ci_b, cp_b, kexc_b, aexc_b,
                  prcp_b, net_b)


# -------------------------------------------------------------------------------------------- grc
cdef inline void grc_mlp_soil(
    double prcp, double pet, double ci, double cp, double kexc, const Mlp* net,
    double* hi, double* hp, double ht, double hl, double* prr, double* prl, double* direct,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of hybrid GRC (the counterpart of ``grc_soil``): percolation constant 1000, exchange E4, no
    exchange on the slow store's inflow ``prl``. Fluxes as grc's, plus f1..f5 at rows 13-17."""
    gr_mlp_soil(prcp, pet, ci, cp, kexc, 0.0, False, GRC_BETA, True, False, net, hl, hi, hp, ht, prr, prl, direct,
                fluxes, fstride, GRC_NFLUX, tape, tstride)


cdef inline void grc_mlp_step_b(
    double prcp, double pet, double ci, double cp, double ct, double cl, double kexc, const Mlp* net,
    double hi, double hp, double ht, double hl,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hi_b, double* hp_b, double* ht_b, double* hl_b,
    double* ci_b, double* cp_b, double* ct_b, double* cl_b, double* kexc_b, double* prcp_b, double* net_b,
) noexcept nogil:
    """Reverse of ``grc_mlp_soil`` then ``grc_stores`` (conventions of ``grc_step_b``; ``net_b`` accumulates)."""
    cdef GrMlpSoil s
    cdef double prr_b, prl_b, direct_b
    gr_mlp_soil_recompute(&s, prcp, pet, ci, cp, kexc, 0.0, False, True, False, net, hl, hi, hp, ht, tape, tstride)
    grc_stores_b(prcp, ct, cl, ht, hl, s.prr, s.second, s.prd + s.lexc, tape[3 * tstride], tape[4 * tstride], q_b,
                 ht_b, hl_b, ct_b, cl_b, &prr_b, &prl_b, &direct_b)
    gr_mlp_soil_b(&s, net, tape, tstride, prr_b, prl_b, direct_b, hi_b, hp_b, ht_b, hl_b, ci_b, cp_b, kexc_b, NULL,
                  prcp_b, net_b)


# -------------------------------------------------------------------------------------------- grd
cdef inline void grd_mlp_soil(
    double prcp, double pet, double cp, const Mlp* net, double* hp, double ht, double* prr,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of hybrid GRD (the counterpart of ``grd_soil``): ``prr`` = R feeds the transfer store.
    Fluxes as grd's, plus f1, f2 at rows 9-10."""
    cdef double unused
    no_store_mlp_soil(prcp, pet, cp, GRD_BETA, False, net, hp, ht, prr, &unused, fluxes, fstride, GRD_NFLUX, tape,
                      tstride)


cdef inline void grd_mlp_step_b(
    double prcp, double pet, double cp, double ct, const Mlp* net, double hp, double ht,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* hp_b, double* ht_b, double* cp_b, double* ct_b, double* prcp_b, double* net_b,
) noexcept nogil:
    """Reverse of ``grd_mlp_soil`` then ``grd_stores`` (conventions of ``grd_step_b``; ``net_b`` accumulates)."""
    cdef NoStoreMlpSoil s
    cdef double prr_b
    no_store_mlp_soil_recompute(&s, prcp, pet, cp, False, net, hp, ht, tape, tstride)
    prr_b = transfer_store_b(ht, ct, s.prr, prcp < 0.0, tape[3 * tstride], q_b, ht_b, ct_b)
    no_store_mlp_soil_b(&s, net, tape, tstride, prr_b, 0.0, hp_b, ht_b, cp_b, prcp_b, net_b)


# ----------------------------------------------------------------------------------------- loieau
cdef inline void loieau_mlp_soil(
    double prcp, double pet, double ca, double beta, const Mlp* net, double* ha, double hc, double* prr, double* prd,
    double* fluxes, Py_ssize_t fstride, double* tape, Py_ssize_t tstride,
) noexcept nogil:
    """Soil half of hybrid LOIEAU (the counterpart of ``loieau_soil``): inflows ``prr`` of the transfer
    store and ``prd`` of the direct branch. Fluxes as loieau's, plus f1..f3 at rows 11-13."""
    no_store_mlp_soil(prcp, pet, ca, beta, True, net, ha, hc, prr, prd, fluxes, fstride, LOIEAU_NFLUX, tape, tstride)


cdef inline void loieau_mlp_step_b(
    double prcp, double pet, double ca, double cc, double kb, double beta, const Mlp* net, double ha, double hc,
    const double* tape, Py_ssize_t tstride, double q_b,
    double* ha_b, double* hc_b, double* ca_b, double* cc_b, double* kb_b, double* prcp_b, double* net_b,
) noexcept nogil:
    """Reverse of ``loieau_mlp_soil`` then ``loieau_stores`` (conventions of ``loieau_step_b``; ``net_b``
    accumulates)."""
    cdef NoStoreMlpSoil s
    cdef double prr_b, prd_b
    no_store_mlp_soil_recompute(&s, prcp, pet, ca, True, net, ha, hc, tape, tstride)
    prr_b = loieau_stores_b(prcp, cc, kb, hc, s.prr, s.prd, tape[3 * tstride], q_b, hc_b, cc_b, kb_b, &prd_b)
    no_store_mlp_soil_b(&s, net, tape, tstride, prr_b, prd_b, ha_b, hc_b, ca_b, prcp_b, net_b)
