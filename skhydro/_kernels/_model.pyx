"""Time loop of the whole model, forward and reverse: snow -> hydrological -> routing, step by step.

Cells are stored as a vector of the active cells sorted upstream to downstream (by flow partition), so
the hydrological operator is one contiguous, embarrassingly parallel loop and every routing level is a
contiguous slice whose cells are independent of each other.

:class:`ModelKernel` holds the static inputs of a run (forcings, parameters, network) and offers

* :meth:`ModelKernel.run`: advance over steps ``[t0, t1)`` in place (states and routing buffers);
* :meth:`ModelKernel.forward_checkpointed`: a whole run that keeps the states at the start of every
  segment of ``interval`` steps;
* :meth:`ModelKernel.reverse`: the adjoint sweep. Segments are visited last to first; each is recomputed
  from its checkpoint while recording a tape (states at the start of each step and the few
  transcendental values of the operators), then stepped backwards. Memory is
  ``n_segments + interval`` steps of cell vectors, ~ 2 sqrt(n_steps) with the default interval.
"""
cimport cython
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

import numpy as np

from skhydro._kernels._gr4 cimport gr4_soil, gr4_stores, gr4_step_b, GR4_NFLUX, GR4_NTAPE
from skhydro._kernels._hybrid cimport (
    gr4_mlp_soil, gr4_mlp_step_b, GR4_MLP_NFLUX, GR4_MLP_NIN, GR4_MLP_NOUT,
    gr6_mlp_soil, gr6_mlp_step_b, GR6_MLP_NFLUX, GR6_MLP_NIN, GR6_MLP_NOUT,
    grc_mlp_soil, grc_mlp_step_b, GRC_MLP_NFLUX, GRC_MLP_NIN, GRC_MLP_NOUT,
    grd_mlp_soil, grd_mlp_step_b, GRD_MLP_NFLUX, GRD_MLP_NIN, GRD_MLP_NOUT,
    loieau_mlp_soil, loieau_mlp_step_b, LOIEAU_MLP_NFLUX, LOIEAU_MLP_NIN, LOIEAU_MLP_NOUT,
)
from skhydro._kernels._mlp cimport (
    Mlp, mlp_setup, MLP_MAX_LAYERS, MLP_MAX_UNITS, ACT_LEAKY_RELU, ACT_RELU, ACT_SILU, ACT_TANH, ACT_SIGMOID,
)
from skhydro._kernels._grd cimport grd_soil, grd_stores, grd_step_b, GRD_NFLUX, GRD_NTAPE
from skhydro._kernels._grc cimport grc_soil, grc_stores, grc_step_b, GRC_NFLUX, GRC_NTAPE
from skhydro._kernels._gr6 cimport gr6_soil, gr6_stores, gr6_step_b, GR6_NFLUX, GR6_NTAPE
from skhydro._kernels._loieau cimport loieau_soil, loieau_stores, loieau_step_b, LOIEAU_NFLUX, LOIEAU_NTAPE
from skhydro._kernels._vic3l cimport vic3l_soil, vic3l_drain_upper, vic3l_drain_lower, vic3l_step_b, VIC3L_NFLUX, VIC3L_NTAPE
from skhydro._kernels._snow cimport ssn_step, ssn_step_b, SSN_NFLUX
from skhydro._kernels._routing cimport (
    ROUTING_ZERO, ROUTING_LAG0, ROUTING_LR, ROUTING_KW, upstream_sum, lr_decay, lr_cell, lr_cell_b, kw_cell, kw_cell_b,
)

cdef enum:
    HYDRO_GR4 = 1
    HYDRO_GR5 = 2
    HYDRO_GRD = 3
    HYDRO_GRC = 4
    HYDRO_GR6 = 5
    HYDRO_LOIEAU = 6
    HYDRO_VIC3L = 7
    HYDRO_GR4_MLP = 8
    HYDRO_GR5_MLP = 9
    HYDRO_GR6_MLP = 10
    HYDRO_GRC_MLP = 11
    HYDRO_GRD_MLP = 12
    HYDRO_LOIEAU_MLP = 13
    SNOW_ZERO = 0
    SNOW_SSN = 1

# Routing levels smaller than this are routed by one thread: waking threads costs more than they save.
cdef Py_ssize_t MIN_PARALLEL_LEVEL = 2048
# The reverse of a hybrid structure sums the network's gradient per fixed block of cells (one buffer each,
# added in block order at the end): no race, and the same sums whatever the number of threads.
cdef Py_ssize_t NET_BLOCK = 64

SNOW_CODES = {"zero": SNOW_ZERO, "ssn": SNOW_SSN}
HYDRO_CODES = {"gr4": HYDRO_GR4, "gr5": HYDRO_GR5, "grd": HYDRO_GRD, "grc": HYDRO_GRC, "gr6": HYDRO_GR6,
               "loieau": HYDRO_LOIEAU, "vic3l": HYDRO_VIC3L, "gr4_mlp": HYDRO_GR4_MLP, "gr5_mlp": HYDRO_GR5_MLP,
               "gr6_mlp": HYDRO_GR6_MLP, "grc_mlp": HYDRO_GRC_MLP, "grd_mlp": HYDRO_GRD_MLP,
               "loieau_mlp": HYDRO_LOIEAU_MLP}
# hybrid modules: (network inputs, network outputs)
HYDRO_NETWORK = {"gr4_mlp": (GR4_MLP_NIN, GR4_MLP_NOUT), "gr5_mlp": (GR4_MLP_NIN, GR4_MLP_NOUT),
                 "gr6_mlp": (GR6_MLP_NIN, GR6_MLP_NOUT), "grc_mlp": (GRC_MLP_NIN, GRC_MLP_NOUT),
                 "grd_mlp": (GRD_MLP_NIN, GRD_MLP_NOUT), "loieau_mlp": (LOIEAU_MLP_NIN, LOIEAU_MLP_NOUT)}
ACTIVATION_CODES = {"leaky_relu": ACT_LEAKY_RELU, "relu": ACT_RELU, "silu": ACT_SILU, "tanh": ACT_TANH,
                    "sigmoid": ACT_SIGMOID}
MAX_NETWORK_LAYERS = MLP_MAX_LAYERS
MAX_NETWORK_UNITS = MLP_MAX_UNITS
ROUTING_CODES = {"zero": ROUTING_ZERO, "lag0": ROUTING_LAG0, "lr": ROUTING_LR, "kw": ROUTING_KW}
SNOW_NFLUX = {"zero": 0, "ssn": SSN_NFLUX}
SNOW_NPARAM = {"zero": 0, "ssn": 1}    # kmlt
SNOW_NSTATE = {"zero": 0, "ssn": 1}    # hs
HYDRO_NFLUX = {"gr4": GR4_NFLUX, "gr5": GR4_NFLUX, "grd": GRD_NFLUX, "grc": GRC_NFLUX, "gr6": GR6_NFLUX,
               "loieau": LOIEAU_NFLUX, "vic3l": VIC3L_NFLUX, "gr4_mlp": GR4_MLP_NFLUX, "gr5_mlp": GR4_MLP_NFLUX,
               "gr6_mlp": GR6_MLP_NFLUX, "grc_mlp": GRC_MLP_NFLUX, "grd_mlp": GRD_MLP_NFLUX,
               "loieau_mlp": LOIEAU_MLP_NFLUX}
HYDRO_NTAPE = {"gr4": GR4_NTAPE, "gr5": GR4_NTAPE, "grd": GRD_NTAPE, "grc": GRC_NTAPE, "gr6": GR6_NTAPE,
               "loieau": LOIEAU_NTAPE, "vic3l": VIC3L_NTAPE, "gr4_mlp": GR4_NTAPE, "gr5_mlp": GR4_NTAPE,
               "gr6_mlp": GR6_NTAPE, "grc_mlp": GRC_NTAPE, "grd_mlp": GRD_NTAPE, "loieau_mlp": LOIEAU_NTAPE}
ROUTING_NTAPE = {"zero": 0, "lag0": 0, "lr": 0, "kw": 2}


def check_network(net_params, net_sizes, activation, io=None, owner="the network"):
    """Validate a network for the kernels: ``(params as float64 array, sizes list, activation code)``.
    ``io``: the (n_in, n_out) the module needs."""
    sizes = [int(v) for v in net_sizes]
    if len(sizes) < 2 or len(sizes) - 1 > MLP_MAX_LAYERS or min(sizes) < 1 or sum(sizes[1:]) > MLP_MAX_UNITS \
            or (io is not None and (sizes[0], sizes[len(sizes) - 1]) != tuple(io)):
        shape = "[n_in, hidden..., n_out]" if io is None else f"[{io[0]}, hidden..., {io[1]}]"
        raise ValueError(f"network layer sizes {sizes} do not fit {owner}: {shape} with at most "
                         f"{MLP_MAX_LAYERS - 1} hidden layers and {MLP_MAX_UNITS} units")
    if activation not in ACTIVATION_CODES:
        raise ValueError(f"activation must be one of {sorted(ACTIVATION_CODES)}, got {activation!r}")
    n = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(sizes) - 1))
    params = np.ascontiguousarray(net_params, dtype=np.float64)
    if params.shape != (n,):
        raise ValueError(f"the network with layer sizes {sizes} has {n} parameters, got shape {params.shape}")
    return params, sizes, ACTIVATION_CODES[activation]


cdef struct Model:
    int snow
    int hydro
    int routing
    Py_ssize_t nac
    Py_ssize_t hydro_nflux       # internal fluxes of the snow and hydrological operators (qt excluded)
    Py_ssize_t nsnow_flux        # the snow operator's share of them (written first)
    Py_ssize_t nsnow_param       # leading rows of hparams that belong to the snow operator
    Py_ssize_t nsnow_state       # leading rows of the hydrological states that belong to the snow operator
    Py_ssize_t nhs               # snow and hydrological states
    Py_ssize_t nrs               # routing states
    double dt
    double beta
    const double* hparams        # (n_snow_params + n_hydro_params, nac)
    const double* rparams        # (n_routing_params, nac)
    const double* qt_factor      # mm/dt -> m3/s
    const double* area_up        # upstream area, m2 (lr)
    const double* lr_decay       # exp(-dt / (60 llr)) (lr)
    double* scratch              # (3, nac) the stores' inflows between the two hydrological passes
    const double* dt_over_dx     # kw
    const int* up_ptr
    const int* up_idx
    const int* level_ptr
    Py_ssize_t nlevel
    Py_ssize_t first_level       # 1 when level 0 holds source cells (their discharge is their runoff)
    int num_threads
    int nchunk
    Mlp net                      # the hybrid structures' flux-correction network (net.params NULL otherwise)
    Py_ssize_t net_nparams


cdef struct Step:
    # Pointers for one step. States are updated in place; qt and q receive the step's local runoff and
    # routed discharge; qt_prev and q_prev are the previous step's (the kinematic wave needs them).
    const double* prcp
    const double* pet
    const double* snow           # NULL without a snow operator
    const double* temp
    double* hstates              # (nhs, nac)
    double* rstates              # (nrs, nac)
    double* qt
    double* q
    const double* qt_prev
    const double* q_prev
    double* fluxes               # (nflux, nac) or NULL
    double* qup_out              # (nac,) or NULL
    double* htape                # (hydro tape, nac) or NULL
    double* rtape                # (routing tape, nac) or NULL


cdef struct Adjoint:
    double* hparams_b            # (n_hydro_params, nac), accumulated
    double* rparams_b            # (n_routing_params, nac), accumulated
    double* hstates_b            # (nhs, nac): end of step on entry, start of step on exit
    double* rstates_b            # (nrs, nac)
    double* q_b                  # (nac,) work
    double* qt_b                 # (nac,) work
    double* q_next_b             # (nac,) adjoint of q, qt of this step coming from the next one
    double* qt_next_b
    double* q_prev_b             # (nac,) adjoint of q, qt of the previous step, filled by this one
    double* qt_prev_b
    double* net_b                # (n_blocks, net_nparams) the network's gradient, one row per block of cells


# ------------------------------------------------------------------------------------------ forward
cdef inline double snow_melt(Model* m, Step* s, Py_ssize_t k) noexcept nogil:
    """Rain plus the snow operator's melt for cell ``k`` (its store advances in place); the melt joins the
    rain before the missing-data test (a missing rain usually stays negative)."""
    cdef double mlt
    if m.snow != SNOW_SSN:
        return s.prcp[k]
    mlt = ssn_step(s.snow[k], s.temp[k], m.hparams[k], s.hstates + k)
    if s.fluxes != NULL:
        s.fluxes[k] = mlt
    return s.prcp[k] + mlt


cdef inline double* hflux(Model* m, Step* s, Py_ssize_t k) noexcept nogil:
    """Where the hydrological operator writes the fluxes of cell ``k`` (after the snow operator's)."""
    return s.fluxes + m.nsnow_flux * m.nac + k if s.fluxes != NULL else NULL


cdef inline double* htape(Step* s, Py_ssize_t k) noexcept nogil:
    return s.htape + k if s.htape != NULL else NULL


cdef void hybrid_soil_pass(Model* m, Step* s, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """:func:`soil_pass` of the hybrid structures. A function of its own, chosen in :func:`hydro_block`:
    reached from ``soil_pass``, even through a call, the network's code slowed the classical structures'
    loops by 10-15 % (grd, loieau)."""
    cdef Py_ssize_t k, n = m.nac
    cdef const double* p = m.hparams + m.nsnow_param * n
    cdef double* st = s.hstates + m.nsnow_state * n
    cdef double* x = m.scratch
    cdef bint gr5 = m.hydro == HYDRO_GR5_MLP
    if m.hydro == HYDRO_GR4_MLP or gr5:
        for k in range(k0, k1):
            gr4_mlp_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[3 * n + k], p[4 * n + k] if gr5 else 0.0, gr5, m.beta,
                         &m.net, st + k, st + n + k, st[2 * n + k], x + k, x + n + k, hflux(m, s, k), n,
                         htape(s, k), n)
    elif m.hydro == HYDRO_GRD_MLP:
        for k in range(k0, k1):
            grd_mlp_soil(s.qt[k], s.pet[k], p[k], &m.net, st + k, st[n + k], x + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GRC_MLP:
        for k in range(k0, k1):
            grc_mlp_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[4 * n + k], &m.net, st + k, st + n + k, st[2 * n + k],
                         st[3 * n + k], x + k, x + 2 * n + k, x + n + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GR6_MLP:
        for k in range(k0, k1):
            gr6_mlp_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[4 * n + k], p[5 * n + k], m.beta, &m.net, st + k,
                         st + n + k, st[2 * n + k], st[3 * n + k], x + k, x + 2 * n + k, x + n + k, hflux(m, s, k), n,
                         htape(s, k), n)
    elif m.hydro == HYDRO_LOIEAU_MLP:
        for k in range(k0, k1):
            loieau_mlp_soil(s.qt[k], s.pet[k], p[k], m.beta, &m.net, st + k, st[n + k], x + k, x + n + k,
                            hflux(m, s, k), n, htape(s, k), n)


cdef void soil_pass(Model* m, Step* s, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """First pass: the structure's soil half (everything before its stores) on cells [k0, k1), from the
    rain + melt in ``s.qt``; ``m.scratch`` keeps the stores' inflows for the second pass."""
    cdef Py_ssize_t k, n = m.nac
    cdef const double* p = m.hparams + m.nsnow_param * n
    cdef double* st = s.hstates + m.nsnow_state * n
    cdef double* x = m.scratch
    cdef bint gr5 = m.hydro == HYDRO_GR5
    if m.hydro == HYDRO_GR4 or gr5:
        for k in range(k0, k1):
            gr4_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[3 * n + k], p[4 * n + k] if gr5 else 0.0, gr5, m.beta,
                     st + k, st + n + k, st[2 * n + k], x + k, x + n + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GRD:
        for k in range(k0, k1):
            grd_soil(s.qt[k], s.pet[k], p[k], st + k, x + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GRC:
        for k in range(k0, k1):
            grc_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[4 * n + k], st + k, st + n + k, st[2 * n + k],
                     x + k, x + 2 * n + k, x + n + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GR6:
        for k in range(k0, k1):
            gr6_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[4 * n + k], p[5 * n + k], m.beta, st + k, st + n + k,
                     st[2 * n + k], x + k, x + 2 * n + k, x + n + k, hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_LOIEAU:
        for k in range(k0, k1):
            loieau_soil(s.qt[k], s.pet[k], p[k], m.beta, st + k, x + k, x + n + k, hflux(m, s, k), n,
                        htape(s, k), n)
    elif m.hydro == HYDRO_VIC3L:
        for k in range(k0, k1):
            vic3l_soil(s.qt[k], s.pet[k], p[k], p[n + k], p[2 * n + k], st + k, st[n + k], st[2 * n + k],
                       x + k, x + n + k, x + 2 * n + k, hflux(m, s, k), n, htape(s, k), n)


cdef void stores_pass(Model* m, Step* s, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """Second pass: the structure's stores fed from ``m.scratch`` (vic3l: drainage and baseflow);
    ``s.qt`` receives the local runoff in m3/s."""
    cdef Py_ssize_t k, n = m.nac
    cdef const double* p = m.hparams + m.nsnow_param * n
    cdef double* st = s.hstates + m.nsnow_state * n
    cdef const double* x = m.scratch
    cdef const double* c = m.qt_factor
    if m.hydro == HYDRO_GR4 or m.hydro == HYDRO_GR5 or m.hydro == HYDRO_GR4_MLP or m.hydro == HYDRO_GR5_MLP:
        for k in range(k0, k1):
            s.qt[k] = c[k] * gr4_stores(s.qt[k], p[2 * n + k], st + 2 * n + k, x[k], x[n + k],
                                        hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GRD or m.hydro == HYDRO_GRD_MLP:
        for k in range(k0, k1):
            s.qt[k] = c[k] * grd_stores(s.qt[k], p[n + k], st + n + k, x[k], hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GRC or m.hydro == HYDRO_GRC_MLP:
        for k in range(k0, k1):
            s.qt[k] = c[k] * grc_stores(s.qt[k], p[2 * n + k], p[3 * n + k], st + 2 * n + k, st + 3 * n + k, x[k],
                                        x[2 * n + k], x[n + k], hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_GR6 or m.hydro == HYDRO_GR6_MLP:
        for k in range(k0, k1):
            s.qt[k] = c[k] * gr6_stores(s.qt[k], p[2 * n + k], p[3 * n + k], st + 2 * n + k, st + 3 * n + k, x[k],
                                        x[2 * n + k], x[n + k], hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_LOIEAU or m.hydro == HYDRO_LOIEAU_MLP:
        for k in range(k0, k1):
            s.qt[k] = c[k] * loieau_stores(s.qt[k], p[n + k], p[2 * n + k], st + n + k, x[k], x[n + k],
                                           hflux(m, s, k), n, htape(s, k), n)
    elif m.hydro == HYDRO_VIC3L:  # two passes: the two drainages, each with its power, in turn
        for k in range(k0, k1):
            vic3l_drain_upper(s.qt[k], s.pet[k], p[n + k], p[2 * n + k], p[4 * n + k], p[5 * n + k], st + n + k,
                              x[k], m.scratch + n + k, htape(s, k), n)
        for k in range(k0, k1):
            s.qt[k] = c[k] * vic3l_drain_lower(s.qt[k], s.pet[k], p[2 * n + k], p[3 * n + k], p[4 * n + k],
                                               p[5 * n + k], p[6 * n + k], p[7 * n + k], p[8 * n + k],
                                               st + 2 * n + k, st + 3 * n + k, x[n + k], x[2 * n + k],
                                               hflux(m, s, k), n, htape(s, k), n)


cdef void hydro_block(Model* m, Step* s, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """Snow and hydrological operators on cells [k0, k1): ``s.qt`` receives the local runoff (m3/s).

    Two passes over the cells, soil half then stores half, each a loop specialised to the structure:
    the loop bodies are then short enough for the processor to overlap the dependency chains of several
    cells (about 1.3-1.4x faster than one pass of whole steps for gr6 and loieau)."""
    cdef Py_ssize_t k
    for k in range(k0, k1):
        s.qt[k] = snow_melt(m, s, k)
    if m.net.params != NULL:
        hybrid_soil_pass(m, s, k0, k1)
    else:
        soil_pass(m, s, k0, k1)
    stores_pass(m, s, k0, k1)
    if s.fluxes != NULL:  # qt follows the operators' own fluxes
        for k in range(k0, k1):
            s.fluxes[m.hydro_nflux * m.nac + k] = s.qt[k]


cdef inline void route_cell(Model* m, Step* s, Py_ssize_t k) noexcept nogil:
    cdef double qup = upstream_sum(s.q, m.up_idx, m.up_ptr[k], m.up_ptr[k + 1])
    cdef double* tape = NULL
    if s.qup_out != NULL:
        s.qup_out[k] = qup
    if m.routing == ROUTING_LAG0:
        s.q[k] = s.qt[k] + qup
    elif m.routing == ROUTING_LR:
        s.q[k] = lr_cell(s.qt[k], qup, s.rstates + k, m.lr_decay[k], m.dt, m.area_up[k])
    elif m.routing == ROUTING_KW:
        if s.rtape != NULL:
            tape = s.rtape + k
        s.q[k] = kw_cell(s.qt[k], s.qt_prev[k], s.q_prev[k], qup,
                         m.rparams[k], m.rparams[m.nac + k], m.dt_over_dx[k], tape, m.nac)


cdef void model_step(Model* m, Step* s) noexcept nogil:
    cdef Py_ssize_t chunk, lev, k, k0, k1, nac = m.nac, nchunk = m.nchunk
    # local operators: independent cells
    if nchunk > 1:
        for chunk in prange(nchunk, schedule="static", num_threads=m.num_threads):
            hydro_block(m, s, (chunk * nac) // nchunk, ((chunk + 1) * nac) // nchunk)
    else:
        hydro_block(m, s, 0, nac)
    # routing: levels in order, cells of one level independent
    memcpy(s.q, s.qt, nac * sizeof(double))
    if m.routing == ROUTING_ZERO:
        return
    for lev in range(m.first_level, m.nlevel):
        k0 = m.level_ptr[lev]
        k1 = m.level_ptr[lev + 1]
        if nchunk > 1 and k1 - k0 >= MIN_PARALLEL_LEVEL:
            for k in prange(k0, k1, schedule="static", num_threads=m.num_threads):
                route_cell(m, s, k)
        else:
            for k in range(k0, k1):
                route_cell(m, s, k)


# ------------------------------------------------------------------------------------------ reverse
cdef inline double rain_and_melt(Model* m, Step* s, Py_ssize_t k) noexcept nogil:
    """Cell ``k``'s rain plus the snow operator's melt, recomputed from the snow store at the step's start."""
    cdef double hs
    if m.snow != SNOW_SSN:
        return s.prcp[k]
    hs = s.hstates[k]
    return s.prcp[k] + ssn_step(s.snow[k], s.temp[k], m.hparams[k], &hs)


cdef inline void melt_b(Model* m, Step* s, Adjoint* a, Py_ssize_t k, double prcp_b) noexcept nogil:
    """Reverse of the snow operator for cell ``k``: the melt's adjoint is that of the rain it joined."""
    if m.snow == SNOW_SSN:
        ssn_step_b(s.snow[k], s.temp[k], m.hparams[k], s.hstates[k], prcp_b, a.hstates_b + k, a.hparams_b + k)


cdef inline void local_runoff_b(Model* m, Step* s, Adjoint* a, Py_ssize_t k) noexcept nogil:
    """Reverse of the snow and (classical) hydrological operators for cell ``k``; ``s.hstates`` holds the
    states at the start of the step."""
    cdef Py_ssize_t n = m.nac
    cdef const double* p = m.hparams + m.nsnow_param * n
    cdef const double* st = s.hstates + m.nsnow_state * n
    cdef double* pb = a.hparams_b + m.nsnow_param * n
    cdef double* sb = a.hstates_b + m.nsnow_state * n
    cdef double q_b = a.qt_b[k] * m.qt_factor[k]
    cdef double prcp = rain_and_melt(m, s, k), prcp_b = 0.0
    cdef double* prcp_bp = &prcp_b if m.snow == SNOW_SSN else NULL
    cdef bint gr5 = m.hydro == HYDRO_GR5
    if m.hydro == HYDRO_GR4 or gr5:
        gr4_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k] if gr5 else 0.0,
                   gr5, m.beta, st[k], st[n + k], st[2 * n + k], s.htape + k, n, q_b,
                   sb + k, sb + n + k, sb + 2 * n + k, pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k,
                   pb + 4 * n + k if gr5 else NULL, prcp_bp)
    elif m.hydro == HYDRO_GRD:
        grd_step_b(prcp, s.pet[k], p[k], p[n + k], st[k], st[n + k], s.htape + k, n, q_b,
                   sb + k, sb + n + k, pb + k, pb + n + k, prcp_bp)
    elif m.hydro == HYDRO_GRC:
        grc_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k],
                   st[k], st[n + k], st[2 * n + k], st[3 * n + k], s.htape + k, n, q_b,
                   sb + k, sb + n + k, sb + 2 * n + k, sb + 3 * n + k,
                   pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k, pb + 4 * n + k, prcp_bp)
    elif m.hydro == HYDRO_GR6:
        gr6_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k], p[5 * n + k],
                   m.beta, st[k], st[n + k], st[2 * n + k], st[3 * n + k], s.htape + k, n, q_b,
                   sb + k, sb + n + k, sb + 2 * n + k, sb + 3 * n + k,
                   pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k, pb + 4 * n + k, pb + 5 * n + k, prcp_bp)
    elif m.hydro == HYDRO_LOIEAU:
        loieau_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], m.beta, st[k], st[n + k], s.htape + k, n, q_b,
                      sb + k, sb + n + k, pb + k, pb + n + k, pb + 2 * n + k, prcp_bp)
    elif m.hydro == HYDRO_VIC3L:
        vic3l_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k], p[5 * n + k],
                     p[6 * n + k], p[7 * n + k], p[8 * n + k], st[k], st[n + k], st[2 * n + k], st[3 * n + k],
                     s.htape + k, n, q_b, sb + k, sb + n + k, sb + 2 * n + k, sb + 3 * n + k,
                     pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k, pb + 4 * n + k, pb + 5 * n + k,
                     pb + 6 * n + k, pb + 7 * n + k, pb + 8 * n + k, prcp_bp)
    melt_b(m, s, a, k, prcp_b)


cdef void hybrid_runoff_b(Model* m, Step* s, Adjoint* a, Py_ssize_t k, const double* p, const double* st,
                          double* pb, double* sb, double* net_b) noexcept nogil:
    """:func:`local_runoff_b` of the hybrid structures (``p``, ``st``, ``pb``, ``sb``: the hydrological
    operator's rows of the parameters, states and their adjoints), the network's gradient accumulated into
    ``net_b``. A function of its own: the classical structures' reverse then holds no call to the network's
    code."""
    cdef Py_ssize_t n = m.nac
    cdef double q_b = a.qt_b[k] * m.qt_factor[k]
    cdef double prcp = rain_and_melt(m, s, k), prcp_b = 0.0
    cdef double* prcp_bp = &prcp_b if m.snow == SNOW_SSN else NULL
    cdef bint gr5 = m.hydro == HYDRO_GR5_MLP
    if m.hydro == HYDRO_GR4_MLP or gr5:
        gr4_mlp_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k] if gr5 else 0.0,
                       gr5, m.beta, &m.net, st[k], st[n + k], st[2 * n + k], s.htape + k, n, q_b,
                       sb + k, sb + n + k, sb + 2 * n + k, pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k,
                       pb + 4 * n + k if gr5 else NULL, prcp_bp, net_b)
    elif m.hydro == HYDRO_GRD_MLP:
        grd_mlp_step_b(prcp, s.pet[k], p[k], p[n + k], &m.net, st[k], st[n + k], s.htape + k, n, q_b,
                       sb + k, sb + n + k, pb + k, pb + n + k, prcp_bp, net_b)
    elif m.hydro == HYDRO_GRC_MLP:
        grc_mlp_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k], &m.net,
                       st[k], st[n + k], st[2 * n + k], st[3 * n + k], s.htape + k, n, q_b,
                       sb + k, sb + n + k, sb + 2 * n + k, sb + 3 * n + k,
                       pb + k, pb + n + k, pb + 2 * n + k, pb + 3 * n + k, pb + 4 * n + k, prcp_bp, net_b)
    elif m.hydro == HYDRO_GR6_MLP:
        gr6_mlp_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], p[3 * n + k], p[4 * n + k], p[5 * n + k],
                       m.beta, &m.net, st[k], st[n + k], st[2 * n + k], st[3 * n + k], s.htape + k, n, q_b,
                       sb + k, sb + n + k, sb + 2 * n + k, sb + 3 * n + k, pb + k, pb + n + k, pb + 2 * n + k,
                       pb + 3 * n + k, pb + 4 * n + k, pb + 5 * n + k, prcp_bp, net_b)
    elif m.hydro == HYDRO_LOIEAU_MLP:
        loieau_mlp_step_b(prcp, s.pet[k], p[k], p[n + k], p[2 * n + k], m.beta, &m.net, st[k], st[n + k],
                          s.htape + k, n, q_b, sb + k, sb + n + k, pb + k, pb + n + k, pb + 2 * n + k, prcp_bp, net_b)
    melt_b(m, s, a, k, prcp_b)


cdef void hydro_block_b(Model* m, Step* s, Adjoint* a, Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(k0, k1):
        local_runoff_b(m, s, a, k)


cdef void net_block_b(Model* m, Step* s, Adjoint* a, Py_ssize_t block) noexcept nogil:
    """Reverse of the hybrid operators on one block of cells; the network's gradient goes to the block's row."""
    cdef Py_ssize_t k, n = m.nac
    cdef double* net_b = a.net_b + block * m.net_nparams
    for k in range(block * NET_BLOCK, min(n, (block + 1) * NET_BLOCK)):
        hybrid_runoff_b(m, s, a, k, m.hparams + m.nsnow_param * n, s.hstates + m.nsnow_state * n,
                        a.hparams_b + m.nsnow_param * n, a.hstates_b + m.nsnow_state * n, net_b)


cdef inline void route_cell_b(Model* m, Step* s, Adjoint* a, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j, j0 = m.up_ptr[k], j1 = m.up_ptr[k + 1]
    cdef double qup = upstream_sum(s.q, m.up_idx, j0, j1)
    cdef double qup_b = 0.0
    cdef double q_b = a.q_b[k]
    if m.routing == ROUTING_LAG0:
        a.qt_b[k] += q_b
        qup_b = q_b
    elif m.routing == ROUTING_LR:
        qup_b = lr_cell_b(qup, s.rstates[k], m.rparams[k], m.lr_decay[k], m.dt, m.area_up[k], q_b,
                          a.rstates_b + k, a.rparams_b + k, a.qt_b + k)
    elif m.routing == ROUTING_KW:
        qup_b = kw_cell_b(s.qt[k], s.qt_prev[k], s.q_prev[k], qup, s.q[k],
                          m.rparams[k], m.rparams[m.nac + k], m.dt_over_dx[k], s.rtape[k], s.rtape[m.nac + k], q_b,
                          a.qt_b + k, a.qt_prev_b + k, a.q_prev_b + k,
                          a.rparams_b + k, a.rparams_b + m.nac + k)
    for j in range(j0, j1):
        a.q_b[m.up_idx[j]] += qup_b


cdef void model_step_b(Model* m, Step* s, Adjoint* a, const double* q_gauge_b, const int* gauge_idx,
                       Py_ssize_t ng) noexcept nogil:
    """Reverse of :func:`model_step`; ``s`` points at the tape of the step (states at its start)."""
    cdef Py_ssize_t chunk, lev, k, k0, k1, g, nac = m.nac, nchunk = m.nchunk, nblock
    memcpy(a.q_b, a.q_next_b, nac * sizeof(double))
    memcpy(a.qt_b, a.qt_next_b, nac * sizeof(double))
    memset(a.q_prev_b, 0, nac * sizeof(double))
    memset(a.qt_prev_b, 0, nac * sizeof(double))
    for g in range(ng):
        a.q_b[gauge_idx[g]] += q_gauge_b[g]
    if m.routing == ROUTING_ZERO:
        k1 = nac
    else:
        # downstream levels first: a cell's adjoint is complete once its receiver has been visited
        for lev in range(m.nlevel - 1, m.first_level - 1, -1):
            k0 = m.level_ptr[lev]
            k1 = m.level_ptr[lev + 1]
            if nchunk > 1 and k1 - k0 >= MIN_PARALLEL_LEVEL:
                for k in prange(k0, k1, schedule="static", num_threads=m.num_threads):
                    route_cell_b(m, s, a, k)
            else:
                for k in range(k0, k1):
                    route_cell_b(m, s, a, k)
        k1 = m.level_ptr[m.first_level]
    for k in range(k1):  # unrouted cells: q = qt
        a.qt_b[k] += a.q_b[k]
    if m.net.params != NULL:
        nblock = (nac + NET_BLOCK - 1) // NET_BLOCK
        if nchunk > 1:
            for chunk in prange(nblock, schedule="static", num_threads=m.num_threads):
                net_block_b(m, s, a, chunk)
        else:
            for chunk in range(nblock):
                net_block_b(m, s, a, chunk)
    elif nchunk > 1:
        for chunk in prange(nchunk, schedule="static", num_threads=m.num_threads):
            hydro_block_b(m, s, a, (chunk * nac) // nchunk, ((chunk + 1) * nac) // nchunk)
    else:
        hydro_block_b(m, s, a, 0, nac)


@cython.final
cdef class ModelKernel:
    """Static inputs of a model run, packed as active-cell vectors in routing order.

    Parameters
    ----------
    snow_module, hydro, routing : str
        Module names.
    prcp, pet : (ntime, nac) forcings, mm per step (< 0: missing).
    snow, temp : (ntime, nac) snowfall (mm per step, < 0: missing) and temperature (°C, <= -99: missing)
        for a snow operator; arrays with zero rows otherwise.
    hparams, rparams : (n, nac) parameters of the snow and hydrological operators (snow first), and of the
        routing (rparams may have zero rows).
    n_hstates, n_rstates : number of snow + hydrological states and of routing states.
    qt_factor, area_up, dt_over_dx : (nac,) unit conversion, upstream area (m2) and dt / dx.
    up_ptr, up_idx : upstream neighbours in CSR form.
    level_ptr : start of each routing level in the cell vector, plus nac.
    first_level_routed : False when level 0 holds source cells (their discharge is their runoff).
    gauge_idx : cell index of each gauge.
    dt, beta : step (s) and GR percolation constant.
    num_threads : OpenMP threads.
    net_params, net_sizes, net_activation : the flux-correction network of a hybrid module: its
        parameters as one vector (per layer, the (n_out, n_in) weights row-major then the bias), the layer
        widths [n_in, hidden..., n_out] and the hidden activation (leaky_relu, relu, silu, tanh, sigmoid).
    """
    cdef Model m
    cdef int hydro_nflux
    cdef Py_ssize_t hydro_ntape, routing_ntape, ntime
    cdef const double[:, ::1] prcp, pet, snow, temp, hparams, rparams
    cdef const double[::1] qt_factor, area_up, dt_over_dx, net_params
    cdef double[::1] lr_decay
    cdef double[:, ::1] scratch
    cdef const int[::1] up_ptr, up_idx, level_ptr, gauge_idx

    def __init__(self, str snow_module, str hydro, str routing, const double[:, ::1] prcp, const double[:, ::1] pet,
                 const double[:, ::1] snow, const double[:, ::1] temp, const double[:, ::1] hparams, const double[:, ::1] rparams,
                 Py_ssize_t n_hstates, Py_ssize_t n_rstates,
                 const double[::1] qt_factor, const double[::1] area_up, const double[::1] dt_over_dx,
                 const int[::1] up_ptr, const int[::1] up_idx, const int[::1] level_ptr,
                 bint first_level_routed, const int[::1] gauge_idx, double dt, double beta,
                 int num_threads=1, net_params=None, net_sizes=None, str net_activation="leaky_relu"):
        cdef Py_ssize_t k
        # keep references: the Model struct points into these buffers
        self.prcp, self.pet, self.hparams, self.rparams = prcp, pet, hparams, rparams
        self.snow, self.temp = snow, temp
        if SNOW_CODES[snow_module] != SNOW_ZERO and (snow.shape[0] != prcp.shape[0] or temp.shape[0] != prcp.shape[0]
                                                     or snow.shape[1] != prcp.shape[1] or temp.shape[1] != prcp.shape[1]):
            raise ValueError("the snow operator needs snowfall and temperature shaped like prcp")
        if hparams.shape[0] < SNOW_NPARAM[snow_module] or n_hstates < SNOW_NSTATE[snow_module]:
            raise ValueError("parameters or states do not match the snow operator")
        self.qt_factor, self.area_up, self.dt_over_dx = qt_factor, area_up, dt_over_dx
        self.up_ptr, self.up_idx, self.level_ptr, self.gauge_idx = up_ptr, up_idx, level_ptr, gauge_idx
        self.ntime = prcp.shape[0]
        self.hydro_nflux = SNOW_NFLUX[snow_module] + HYDRO_NFLUX[hydro]
        self.hydro_ntape = HYDRO_NTAPE[hydro]
        self.routing_ntape = ROUTING_NTAPE[routing]
        m = &self.m
        m.snow = SNOW_CODES[snow_module]
        m.nsnow_flux = SNOW_NFLUX[snow_module]
        m.nsnow_param = SNOW_NPARAM[snow_module]
        m.nsnow_state = SNOW_NSTATE[snow_module]
        m.hydro = HYDRO_CODES[hydro]
        m.hydro_nflux = self.hydro_nflux
        m.routing = ROUTING_CODES[routing]
        m.nac = prcp.shape[1]
        m.nhs = n_hstates
        m.nrs = n_rstates
        m.dt = dt
        m.beta = beta
        m.hparams = &hparams[0, 0] if hparams.shape[0] > 0 and m.nac > 0 else NULL
        m.rparams = &rparams[0, 0] if rparams.shape[0] > 0 and m.nac > 0 else NULL
        m.qt_factor = &qt_factor[0] if m.nac > 0 else NULL
        m.area_up = &area_up[0] if m.nac > 0 else NULL
        self.lr_decay = np.ones(m.nac)
        if m.routing == ROUTING_LR:
            for k in range(m.nac):
                self.lr_decay[k] = lr_decay(rparams[0, k], dt)
        m.lr_decay = &self.lr_decay[0] if m.nac > 0 else NULL
        self.scratch = np.zeros((3, max(m.nac, 1)))
        m.scratch = &self.scratch[0, 0]
        m.dt_over_dx = &dt_over_dx[0] if m.nac > 0 else NULL
        m.up_ptr = &up_ptr[0]
        m.up_idx = &up_idx[0] if up_idx.shape[0] > 0 else NULL
        m.level_ptr = &level_ptr[0]
        m.nlevel = level_ptr.shape[0] - 1
        m.first_level = 0 if first_level_routed else 1
        m.num_threads = num_threads
        m.nchunk = num_threads if num_threads > 1 else 1
        self._set_network(hydro, net_params, net_sizes, net_activation)

    def _set_network(self, hydro, net_params, net_sizes, activation):
        cdef Model* m = &self.m
        m.net.params = NULL
        m.net.nlayer = 0
        m.net_nparams = 0
        if hydro not in HYDRO_NETWORK:
            if net_params is not None:
                raise ValueError(f"module {hydro!r} has no flux-correction network")
            return
        if net_params is None or net_sizes is None:
            raise ValueError(f"the hybrid module {hydro!r} needs its network's parameters and layer sizes")
        params, sizes, code = check_network(net_params, net_sizes, activation, HYDRO_NETWORK[hydro], repr(hydro))
        self.net_params = params
        mlp_setup(&m.net, &self.net_params[0], sizes, code)
        m.net_nparams = params.shape[0]

    @property
    def net_nparams(self):
        """Parameters of the flux-correction network (0 without one)."""
        return self.m.net_nparams

    @property
    def tape_rows(self):
        """Cell vectors recorded per step by the reverse sweep's recomputation."""
        return self.m.nhs + self.m.nrs + 2 + self.hydro_ntape + self.routing_ntape

    @property
    def checkpoint_rows(self):
        """Cell vectors kept per checkpoint: states and the two routing buffers."""
        return self.m.nhs + self.m.nrs + 2

    cdef _check_states(self, double[:, ::1] hstates, double[:, ::1] rstates, double[:, ::1] buffers):
        cdef Py_ssize_t nac = self.m.nac
        if hstates.shape[0] != self.m.nhs or rstates.shape[0] != self.m.nrs or buffers.shape[0] != 2:
            raise ValueError("state arrays do not match the structure")
        if hstates.shape[1] != nac or (self.m.nrs and rstates.shape[1] != nac) or buffers.shape[1] != nac:
            raise ValueError("state arrays do not match the number of active cells")

    cdef inline void _snow_forcings(self, Step* s, Py_ssize_t t) noexcept nogil:
        if self.m.snow != SNOW_ZERO:
            s.snow = &self.snow[t, 0]
            s.temp = &self.temp[t, 0]
        else:
            s.snow = NULL
            s.temp = NULL

    cdef void _advance(self, Py_ssize_t t0, Py_ssize_t t1, double* hstates, double* rstates, double* buffers,
                       double* work, double* q_gauge, double* q_cells, double* fluxes) noexcept nogil:
        """Steps [t0, t1) in place; per-step outputs (gauges, optional cells and fluxes) from row 0."""
        cdef Model* m = &self.m
        cdef Step s
        cdef Py_ssize_t nac = m.nac, ng = self.gauge_idx.shape[0], t, g
        cdef Py_ssize_t nflux_all = (self.hydro_nflux + 2) * nac
        s.hstates = hstates
        s.rstates = rstates
        s.qt = work
        s.q = work + nac
        s.qt_prev = buffers
        s.q_prev = buffers + nac
        s.fluxes = NULL
        s.qup_out = NULL
        s.htape = NULL
        s.rtape = NULL
        for t in range(t0, t1):
            s.prcp = &self.prcp[t, 0]
            s.pet = &self.pet[t, 0]
            self._snow_forcings(&s, t)
            if fluxes != NULL:
                s.fluxes = fluxes + (t - t0) * nflux_all
                s.qup_out = s.fluxes + (self.hydro_nflux + 1) * nac
            model_step(m, &s)
            for g in range(ng):
                q_gauge[(t - t0) * ng + g] = s.q[self.gauge_idx[g]]
            if q_cells != NULL:
                memcpy(q_cells + (t - t0) * nac, s.q, nac * sizeof(double))
            memcpy(buffers, s.qt, nac * sizeof(double))
            memcpy(buffers + nac, s.q, nac * sizeof(double))

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run(self, Py_ssize_t t0, Py_ssize_t t1, double[:, ::1] hstates, double[:, ::1] rstates,
            double[:, ::1] buffers, double[:, ::1] q_gauge, double[:, ::1] q_cells, double[:, :, ::1] fluxes):
        """Advance over steps ``[t0, t1)``, updating states and buffers in place.

        buffers : (2, nac) local runoff and routed discharge of the last completed step.
        q_gauge : (t1 - t0, ng) output, routed discharge at the gauges.
        q_cells : (t1 - t0, nac) output or an array with zero rows.
        fluxes : (t1 - t0, nflux, nac) output or an array with zero rows.
        """
        cdef Py_ssize_t nac = self.m.nac, ng = self.gauge_idx.shape[0]
        if nac == 0 or t1 <= t0:
            return
        self._check_states(hstates, rstates, buffers)
        if not 0 <= t0 <= t1 <= self.ntime:
            raise ValueError("steps out of range")
        if q_gauge.shape[0] < t1 - t0 or q_gauge.shape[1] != ng:
            raise ValueError("q_gauge has the wrong shape")
        if q_cells.shape[0] > 0 and (q_cells.shape[0] < t1 - t0 or q_cells.shape[1] != nac):
            raise ValueError("q_cells has the wrong shape")
        if fluxes.shape[0] > 0 and (fluxes.shape[0] < t1 - t0 or fluxes.shape[1] != self.hydro_nflux + 2
                                    or fluxes.shape[2] != nac):
            raise ValueError("fluxes has the wrong shape")
        work = np.empty((2, nac))
        cdef double[:, ::1] work_v = work
        cdef double* qg = &q_gauge[0, 0] if ng > 0 else NULL
        cdef double* qc = &q_cells[0, 0] if q_cells.shape[0] > 0 else NULL
        cdef double* fl = &fluxes[0, 0, 0] if fluxes.shape[0] > 0 else NULL
        cdef double* hs = &hstates[0, 0] if self.m.nhs > 0 else NULL
        cdef double* rs = &rstates[0, 0] if self.m.nrs > 0 else NULL
        with nogil:
            self._advance(t0, t1, hs, rs, &buffers[0, 0], &work_v[0, 0], qg, qc, fl)

    cdef void _record_segment(self, Py_ssize_t t0, Py_ssize_t t1, double* hstates, double* rstates,
                              const double* buffers_at_t0, double[:, :, ::1] tape) noexcept nogil:
        """Run steps [t0, t1) from the given states (advanced in place), recording each step on the tape.

        Tape rows of one step: hydrological and routing states at its start, qt, q, then the operators'
        own records.
        """
        cdef Model* m = &self.m
        cdef Step s
        cdef Py_ssize_t nac = m.nac, nhs = m.nhs, nrs = m.nrs, t, j
        cdef Py_ssize_t r_qt = nhs + nrs, r_q = r_qt + 1, r_h = r_q + 1, r_r = r_h + self.hydro_ntape
        s.hstates = hstates
        s.rstates = rstates
        s.fluxes = NULL
        s.qup_out = NULL
        for t in range(t0, t1):
            j = t - t0
            if nhs > 0:
                memcpy(&tape[j, 0, 0], hstates, nhs * nac * sizeof(double))
            if nrs > 0:
                memcpy(&tape[j, nhs, 0], rstates, nrs * nac * sizeof(double))
            s.prcp = &self.prcp[t, 0]
            s.pet = &self.pet[t, 0]
            self._snow_forcings(&s, t)
            s.qt = &tape[j, r_qt, 0]
            s.q = &tape[j, r_q, 0]
            s.htape = &tape[j, r_h, 0] if self.hydro_ntape > 0 else NULL
            s.rtape = &tape[j, r_r, 0] if self.routing_ntape > 0 else NULL
            if j == 0:
                s.qt_prev = buffers_at_t0
                s.q_prev = buffers_at_t0 + nac
            else:
                s.qt_prev = &tape[j - 1, r_qt, 0]
                s.q_prev = &tape[j - 1, r_q, 0]
            model_step(m, &s)

    def _check_checkpointing(self, Py_ssize_t interval, double[:, :, ::1] checkpoints, double[:, :, ::1] tape):
        cdef Py_ssize_t nseg
        if interval < 1:
            raise ValueError("checkpoint interval must be >= 1")
        nseg = (self.ntime + interval - 1) // interval
        if checkpoints.shape[0] != nseg or checkpoints.shape[1] != self.checkpoint_rows \
                or checkpoints.shape[2] != self.m.nac:
            raise ValueError("checkpoints array has the wrong shape")
        if tape.shape[0] < min(interval, self.ntime) or tape.shape[1] != self.tape_rows or tape.shape[2] != self.m.nac:
            raise ValueError("tape array has the wrong shape")
        return nseg

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def forward_checkpointed(self, double[:, ::1] hstates, double[:, ::1] rstates, double[:, ::1] buffers,
                             Py_ssize_t interval, double[:, :, ::1] checkpoints, double[:, :, ::1] tape,
                             double[:, ::1] q_gauge):
        """Whole run from the given states (advanced in place to the final ones), keeping checkpoints.

        checkpoints : (n_segments, checkpoint_rows, nac) output, n_segments = ceil(ntime / interval):
            states and buffers at the start of every segment.
        tape : (interval, tape_rows, nac) output: the last segment, recorded for :meth:`reverse`.
        q_gauge : (ntime, ng) output.
        """
        cdef Model* m = &self.m
        cdef Py_ssize_t nac = m.nac, nhs = m.nhs, nrs = m.nrs, ng = self.gauge_idx.shape[0]
        cdef Py_ssize_t nt = self.ntime, i, t0, t1, t, g, nseg
        cdef Py_ssize_t r_q = nhs + nrs + 1
        if nac == 0 or nt == 0:
            return
        self._check_states(hstates, rstates, buffers)
        nseg = self._check_checkpointing(interval, checkpoints, tape)
        if q_gauge.shape[0] != nt or q_gauge.shape[1] != ng:
            raise ValueError("q_gauge has the wrong shape")
        work = np.empty((2, nac))
        cdef double[:, ::1] work_v = work
        cdef double* qg = &q_gauge[0, 0] if ng > 0 else NULL
        cdef double* hs = &hstates[0, 0] if nhs > 0 else NULL
        cdef double* rs = &rstates[0, 0] if nrs > 0 else NULL
        with nogil:
            for i in range(nseg):
                t0 = i * interval
                t1 = min(nt, t0 + interval)
                if nhs > 0:
                    memcpy(&checkpoints[i, 0, 0], hs, nhs * nac * sizeof(double))
                if nrs > 0:
                    memcpy(&checkpoints[i, nhs, 0], rs, nrs * nac * sizeof(double))
                memcpy(&checkpoints[i, nhs + nrs, 0], &buffers[0, 0], 2 * nac * sizeof(double))
                if i < nseg - 1:
                    self._advance(t0, t1, hs, rs, &buffers[0, 0], &work_v[0, 0],
                                  qg + t0 * ng if qg != NULL else NULL, NULL, NULL)
                else:
                    self._record_segment(t0, t1, hs, rs, &checkpoints[i, nhs + nrs, 0], tape)
                    for t in range(t0, t1):
                        for g in range(ng):
                            q_gauge[t, g] = tape[t - t0, r_q, self.gauge_idx[g]]
                    memcpy(&buffers[0, 0], &tape[t1 - 1 - t0, r_q - 1, 0], 2 * nac * sizeof(double))

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def reverse(self, Py_ssize_t interval, double[:, :, ::1] checkpoints, double[:, :, ::1] tape,
                bint last_recorded, const double[:, ::1] q_gauge_b,
                double[:, ::1] hparams_b, double[:, ::1] rparams_b, double[:, ::1] hstates_b,
                double[:, ::1] rstates_b, net_params_b=None):
        """Adjoint sweep after :meth:`forward_checkpointed`.

        q_gauge_b : (ntime, ng) adjoint of the gauge discharge (dJ/dQ).
        hparams_b, rparams_b : (n, nac) parameter adjoints, accumulated.
        hstates_b, rstates_b : (n, nac) on entry the adjoint of the final states (zeros for a cost on
            discharge only), on exit that of the initial states.
        last_recorded : the tape already holds the last segment (as ``forward_checkpointed`` leaves it).
        net_params_b : (net_nparams,) the network parameters' adjoint, accumulated (hybrid modules).
        """
        cdef Model* m = &self.m
        cdef Step s
        cdef Adjoint a
        cdef Py_ssize_t nac = m.nac, nhs = m.nhs, nrs = m.nrs, ng = self.gauge_idx.shape[0]
        cdef Py_ssize_t nt = self.ntime, i, j, t0, t1, t, nseg
        cdef Py_ssize_t r_qt = nhs + nrs, r_q = r_qt + 1, r_h = r_q + 1, r_r = r_h + self.hydro_ntape
        cdef double* swap
        cdef const double* qgb
        if nac == 0 or nt == 0:
            return
        nseg = self._check_checkpointing(interval, checkpoints, tape)
        if q_gauge_b.shape[0] != nt or q_gauge_b.shape[1] != ng:
            raise ValueError("q_gauge_b has the wrong shape")
        if hparams_b.shape[0] != self.hparams.shape[0] or rparams_b.shape[0] != self.rparams.shape[0] \
                or hstates_b.shape[0] != nhs or rstates_b.shape[0] != nrs:
            raise ValueError("adjoint arrays do not match the structure")
        if hparams_b.shape[1] != nac or hstates_b.shape[1] != nac or (rparams_b.shape[0] > 0 and rparams_b.shape[1] != nac) \
                or (nrs > 0 and rstates_b.shape[1] != nac):
            raise ValueError("adjoint arrays do not match the number of active cells")
        if m.net_nparams > 0 and (net_params_b is None or net_params_b.shape != (m.net_nparams,)):
            raise ValueError(f"net_params_b must be an array of shape ({m.net_nparams},)")
        net_acc = np.zeros(((nac + NET_BLOCK - 1) // NET_BLOCK, max(m.net_nparams, 1)))
        cdef double[:, ::1] net_acc_v = net_acc
        a.net_b = &net_acc_v[0, 0]
        work = np.zeros((6, nac))
        states = np.empty((max(nhs + nrs, 1), nac))
        cdef double[:, ::1] w = work
        cdef double[:, ::1] st = states
        a.hparams_b = &hparams_b[0, 0]
        a.rparams_b = &rparams_b[0, 0] if rparams_b.shape[0] > 0 else NULL
        a.hstates_b = &hstates_b[0, 0] if nhs > 0 else NULL
        a.rstates_b = &rstates_b[0, 0] if nrs > 0 else NULL
        a.q_b = &w[0, 0]
        a.qt_b = &w[1, 0]
        a.q_next_b = &w[2, 0]
        a.qt_next_b = &w[3, 0]
        a.q_prev_b = &w[4, 0]
        a.qt_prev_b = &w[5, 0]
        s.fluxes = NULL
        s.qup_out = NULL
        with nogil:
            for i in range(nseg - 1, -1, -1):
                t0 = i * interval
                t1 = min(nt, t0 + interval)
                if i < nseg - 1 or not last_recorded:
                    memcpy(&st[0, 0], &checkpoints[i, 0, 0], (nhs + nrs) * nac * sizeof(double))
                    self._record_segment(t0, t1, &st[0, 0] if nhs > 0 else NULL, &st[nhs, 0] if nrs > 0 else NULL,
                                         &checkpoints[i, nhs + nrs, 0], tape)
                for t in range(t1 - 1, t0 - 1, -1):
                    j = t - t0
                    s.prcp = &self.prcp[t, 0]
                    s.pet = &self.pet[t, 0]
                    self._snow_forcings(&s, t)
                    s.hstates = &tape[j, 0, 0] if nhs > 0 else NULL
                    s.rstates = &tape[j, nhs, 0] if nrs > 0 else NULL
                    s.qt = &tape[j, r_qt, 0]
                    s.q = &tape[j, r_q, 0]
                    s.htape = &tape[j, r_h, 0] if self.hydro_ntape > 0 else NULL
                    s.rtape = &tape[j, r_r, 0] if self.routing_ntape > 0 else NULL
                    if j == 0:
                        s.qt_prev = &checkpoints[i, nhs + nrs, 0]
                        s.q_prev = &checkpoints[i, nhs + nrs + 1, 0]
                    else:
                        s.qt_prev = &tape[j - 1, r_qt, 0]
                        s.q_prev = &tape[j - 1, r_q, 0]
                    qgb = &q_gauge_b[t, 0] if ng > 0 else NULL
                    model_step_b(m, &s, &a, qgb, &self.gauge_idx[0] if ng > 0 else NULL, ng)
                    swap = a.q_next_b
                    a.q_next_b = a.q_prev_b
                    a.q_prev_b = swap
                    swap = a.qt_next_b
                    a.qt_next_b = a.qt_prev_b
                    a.qt_prev_b = swap
        if m.net_nparams > 0:
            for i in range(net_acc.shape[0]):  # block order: the same sums whatever the threads
                net_params_b += net_acc[i]
