# Snow operators, forward and reverse (../shared/spec/forward.md §5). The melt is added to the
# precipitation the hydrological operator receives, before its missing-data test.
from skhydro._kernels._common cimport dmin, dmax

# Fluxes: mlt. Nothing is taped: the reverse recomputes the melt from the start-of-step level.
cdef enum:
    SSN_NFLUX = 1


cdef inline double ssn_step(double snow, double temp, double kmlt, double* hs) noexcept nogil:
    """Degree-day snow store ``hs`` (mm, updated): the snowfall accumulates, then up to kmlt·T melts.
    Returns the melt (mm). A missing snowfall (< 0) or temperature (<= -99) leaves the store alone."""
    cdef double mlt
    if snow < 0.0 or temp <= -99.0:
        return 0.0
    hs[0] = hs[0] + snow
    mlt = dmin(dmax(0.0, kmlt * temp), hs[0])
    hs[0] = hs[0] - mlt
    return mlt


cdef inline void ssn_step_b(double snow, double temp, double kmlt, double hs, double mlt_b,
                            double* hs_b, double* kmlt_b) noexcept nogil:
    """Reverse of :func:`ssn_step` from the start level ``hs``: on entry ``hs_b`` holds the adjoint of the
    end level, on exit that of the start level; ``kmlt_b`` is accumulated."""
    cdef double stock, potential, a, m_b
    cdef bint potential_taken
    if snow < 0.0 or temp <= -99.0:
        return
    stock = hs + snow
    potential = kmlt * temp
    m_b = mlt_b - hs_b[0]  # hs_end = stock - mlt
    # mlt = min(a, stock) with a = max(0, kmlt T): follow the branches the forward took
    potential_taken = not (0.0 > potential)
    a = potential if potential_taken else 0.0
    if a < stock:
        if potential_taken:
            kmlt_b[0] += m_b * temp
    else:  # the whole stock melts
        hs_b[0] = hs_b[0] + m_b
