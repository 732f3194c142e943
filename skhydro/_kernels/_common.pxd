# Small numeric helpers shared by the kernels.
from libc.math cimport sqrt

cdef inline double dmin(double a, double b) noexcept nogil:
    return a if a < b else b

cdef inline double dmax(double a, double b) noexcept nogil:
    return a if a > b else b

cdef inline double inv_fourth_root(double x) noexcept nogil:
    # x^(-1/4) with two square roots: several times cheaper than pow and as exact.
    return 1.0 / sqrt(sqrt(x))
