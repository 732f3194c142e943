"""Interception-capacity adjustment of the GR structures (spec §3.4)."""
import weakref

import numpy as np

from ._kernels._interception import adjust_interception_capacity
from ._threads import resolve_num_threads

__all__ = ["adjust_interception"]


# adjusted ci per forcings and mesh (the result depends on nothing else, not even the thread count)
_CACHE = weakref.WeakKeyDictionary()


def adjust_interception(mesh, forcings, num_threads=1):
    """Interception capacity ``ci`` of every active cell, adjusted to the forcings.

    For each cell the capacity among 0.1, 0.2, ..., 2.9 mm is chosen for which the interception store,
    run alone from empty over the whole period, evaporates closest to the sum over days of
    ``min(daily rain, daily PET)``. Computed in single precision, like the reference, so the choice is
    the same.

    Parameters
    ----------
    mesh : Mesh
    forcings : Forcings
    num_threads : int, default=1

    Returns
    -------
    ndarray, (nrow, ncol)
        ``ci`` in mm on active cells, NaN elsewhere.
    """
    per_mesh = _CACHE.setdefault(forcings, weakref.WeakKeyDictionary())
    if mesh in per_mesh:  # calibration and cross-validation build many models on one basin
        return per_mesh[mesh].copy()
    prcp, pet = forcings.active_vectors(mesh)
    days = forcings.index.normalize()
    day_index = np.unique(days, return_inverse=True)[1].astype(np.intp)
    ci = adjust_interception_capacity(np.ascontiguousarray(prcp.T, dtype=np.float32),
                                      np.ascontiguousarray(pet.T, dtype=np.float32), day_index,
                                      int(day_index.max()) + 1, resolve_num_threads(num_threads))
    per_mesh[mesh] = mesh.to_grid(ci)
    return per_mesh[mesh].copy()
