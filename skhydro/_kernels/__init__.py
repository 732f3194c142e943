"""Private Cython kernels.

Each operator has its own module (``_gr4``, ``_routing``) holding the per-cell point functions and their
reverse-mode twins (``*_b``), declared ``inline`` in the matching ``.pxd`` so the time-loop driver
``_model`` inlines them, and thin ``def`` shims that let the tests call them directly. Nothing here validates input: the public wrappers in
:mod:`skhydro.simulation` do.
"""
