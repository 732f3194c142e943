# Flux-correction network of the hybrid structures (../shared/spec/forward.md §6.4), forward and reverse,
# evaluated once per cell and time step inside the kernels.
#
# A multilayer perceptron of dense layers: a chosen activation on the hidden layers, tanh on the output
# (corrections in ]-1, 1[). Its parameters are one flat vector, layer after layer: the weight matrix
# (n_out, n_in) in row-major order, then the bias (n_out,).
#
# The reverse twin recomputes the layers from the inputs (the tape keeps nothing of the network) and
# accumulates the parameters' adjoint into the caller's buffer: the driver gives each fixed block of
# cells its own buffer, so the sums never race and do not depend on the number of threads.
from libc.math cimport exp
from skhydro._kernels._common cimport dmax

cdef enum:
    MLP_MAX_LAYERS = 4      # dense layers, output included
    MLP_MAX_UNITS = 512     # units of all layers together (hidden and output)
    ACT_LEAKY_RELU = 0
    ACT_RELU = 1
    ACT_SILU = 2
    ACT_TANH = 3
    ACT_SIGMOID = 4


cdef struct Mlp:
    const double* params     # NULL: no network
    int nlayer
    int sizes[MLP_MAX_LAYERS + 1]
    int activation
    Py_ssize_t unit_off[MLP_MAX_LAYERS + 1]     # where each layer's units start in the stacked z, a
    Py_ssize_t weight_off[MLP_MAX_LAYERS + 1]   # where each layer's weights start in params


cdef inline void mlp_setup(Mlp* net, const double* params, sizes, int activation):
    """Fill ``net`` for checked layer ``sizes`` [n_in, hidden..., n_out], the offsets included (computed
    once here rather than at every evaluation)."""
    cdef Py_ssize_t layer
    net.params = params
    net.nlayer = len(sizes) - 1
    net.activation = activation
    for layer in range(len(sizes)):
        net.sizes[layer] = sizes[layer]
    net.unit_off[0] = 0
    net.weight_off[0] = 0
    for layer in range(net.nlayer):
        net.unit_off[layer + 1] = net.unit_off[layer] + net.sizes[layer + 1]
        net.weight_off[layer + 1] = net.weight_off[layer] + net.sizes[layer + 1] * (net.sizes[layer] + 1)


cdef inline double sigmoid(double z) noexcept nogil:
    return 1.0 / (1.0 + exp(-z))


cdef inline double fast_tanh(double z) noexcept nogil:
    """tanh from one exp (several times cheaper than libm's tanh): exact at 0, absolute error ~1e-16."""
    cdef double e
    if z > 20.0:
        return 1.0
    if z < -20.0:
        return -1.0
    e = exp(2.0 * z)
    return (e - 1.0) / (e + 1.0)


cdef inline void activate_layer(int act, const double* z, double* a, Py_ssize_t n) noexcept nogil:
    """Hidden activation of ``n`` units; max() instead of branches (the signs are unpredictable)."""
    cdef Py_ssize_t i
    if act == ACT_LEAKY_RELU:
        for i in range(n):
            a[i] = dmax(z[i], 0.01 * z[i])
    elif act == ACT_RELU:
        for i in range(n):
            a[i] = dmax(z[i], 0.0)
    elif act == ACT_SILU:
        for i in range(n):
            a[i] = z[i] * sigmoid(z[i])
    elif act == ACT_TANH:
        for i in range(n):
            a[i] = fast_tanh(z[i])
    else:
        for i in range(n):
            a[i] = sigmoid(z[i])


cdef inline double activate_grad(int act, double z, double a) noexcept nogil:
    """Derivative of the activation at ``z`` (``a`` is its value there)."""
    cdef double s
    if act == ACT_LEAKY_RELU:  # arithmetic, not branches: the signs are unpredictable
        return 0.01 + 0.99 * <double>(z > 0.0)
    if act == ACT_RELU:
        return <double>(z > 0.0)
    if act == ACT_SILU:
        s = sigmoid(z)
        return s * (1.0 + z * (1.0 - s))
    if act == ACT_TANH:
        return 1.0 - a * a
    return a * (1.0 - a)


cdef inline void mlp_forward(const Mlp* net, const double* x, double* z, double* a) noexcept nogil:
    """Evaluate the network on ``x``: ``z`` and ``a`` (MLP_MAX_UNITS each) receive every layer's
    pre-activations and activations, stacked layer after layer; the outputs are the last layer's
    activations, ``a + (units - n_out)``."""
    cdef const double* w = net.params
    cdef const double* b
    cdef const double* inp = x
    cdef Py_ssize_t layer, i, j, nin, nout, off = 0
    cdef double acc
    for layer in range(net.nlayer):
        nin = net.sizes[layer]
        nout = net.sizes[layer + 1]
        b = w + nout * nin
        for i in range(nout):
            acc = b[i]
            for j in range(nin):
                acc = acc + w[i * nin + j] * inp[j]
            z[off + i] = acc
        if layer == net.nlayer - 1:
            for i in range(nout):
                a[off + i] = fast_tanh(z[off + i])
        else:
            activate_layer(net.activation, z + off, a + off, nout)
        inp = a + off
        w = b + nout
        off += nout


cdef inline Py_ssize_t mlp_output_offset(const Mlp* net) noexcept nogil:
    return net.unit_off[net.nlayer - 1]


cdef inline void mlp_backward(const Mlp* net, const double* x, const double* z, const double* a,
                              const double* out_b, double* x_b, double* params_b) noexcept nogil:
    """Reverse of :func:`mlp_forward` from its recorded ``z`` and ``a``: ``out_b`` is the adjoint of the
    outputs; the parameters' adjoint is accumulated into ``params_b`` and the inputs' written to ``x_b``."""
    cdef double d[MLP_MAX_UNITS]
    cdef const Py_ssize_t* off = net.unit_off
    cdef const Py_ssize_t* woff = net.weight_off
    cdef Py_ssize_t layer, i, j, nin, nout, L = net.nlayer
    cdef const double* w
    cdef const double* inp
    cdef double* wb
    cdef double di, acc
    for i in range(net.sizes[L]):  # tanh output
        d[off[L - 1] + i] = out_b[i] * (1.0 - a[off[L - 1] + i] * a[off[L - 1] + i])
    for layer in range(L - 1, -1, -1):
        nin = net.sizes[layer]
        nout = net.sizes[layer + 1]
        inp = x if layer == 0 else a + off[layer - 1]
        w = net.params + woff[layer]
        wb = params_b + woff[layer]
        for i in range(nout):
            di = d[off[layer] + i]
            wb[nout * nin + i] += di
            for j in range(nin):
                wb[i * nin + j] += di * inp[j]
        for j in range(nin):
            acc = 0.0
            for i in range(nout):
                acc = acc + w[i * nin + j] * d[off[layer] + i]
            if layer > 0:
                d[off[layer - 1] + j] = acc * activate_grad(net.activation, z[off[layer - 1] + j],
                                                            a[off[layer - 1] + j])
            else:
                x_b[j] = acc
