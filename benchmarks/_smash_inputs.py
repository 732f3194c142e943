"""Feed skhydro the exact inputs of a hydro-smash model (shared by the benchmark scripts)."""
import numpy as np

import skhydro


def skhydro_inputs(model):
    """Mesh, forcings and parameter maps equivalent to a built ``smash.Model``."""
    m = model.mesh
    if m.ng:
        gauges = [dict(code=str(c), row=int(r), col=int(k)) for c, (r, k) in zip(m.code, m.gauge_pos)]
        mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                                 gauges=gauges)
    else:  # bounding-box mesh (France): the reference's active cells, sinks already left out
        mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                                 active_cells=np.array(m.active_cell) == 1)
    fields = []
    for arr in (model.atmos_data.prcp, model.atmos_data.pet):
        a = np.moveaxis(np.array(arr, dtype=np.float64), -1, 0)
        a[a < 0] = np.nan  # every negative value is missing for the reference
        fields.append(a)
    forcings = skhydro.Forcings(*fields, dt=int(model.setup.dt), start=str(model.setup.start_time))
    params = {}
    for k in model.rr_parameters.keys:
        v = np.array(model.get_rr_parameters(k), dtype=np.float64)
        v[~mesh.active] = 1.0  # inactive cells hold fill values there; never read by our kernels
        params[k] = v
    return mesh, forcings, params
