"""The computational grid: D8 flow directions, active cells, routing order and gauges."""
import numpy as np
import pandas as pd

from ._gauges import place_gauges
from ._network import accumulate, clean_flow_directions, receivers, upstream_csr, upstream_mask

# metres per degree of latitude, as the reference computes it (spec §1.1)
_METRES_PER_DEGREE = 6371228.0 * (2.0 * np.pi / 360.0)


def _cell_sizes(shape, dx, dy, transform, crs):
    """dx, dy maps in metres from scalars, maps, or a transform (geographic CRS scaled by latitude)."""
    if dx is None:
        if transform is None:
            raise ValueError("give the cell size dx (metres) or an affine transform")
        xres, yres = abs(transform.a), abs(transform.e)
        if crs is not None and getattr(crs, "is_geographic", False):
            lat = transform.f - (np.arange(shape[0]) + 0.5) * yres
            dxm = xres * np.cos(np.deg2rad(lat))[:, None] * _METRES_PER_DEGREE * np.ones(shape)
            return dxm, np.full(shape, yres * _METRES_PER_DEGREE)
        dx, dy = xres, yres if dy is None else dy
    dy = dx if dy is None else dy
    out = []
    for name, v in (("dx", dx), ("dy", dy)):
        v = np.asarray(v, dtype=np.float64)
        if v.ndim == 0:
            v = np.full(shape, float(v))
        if v.shape != shape:
            raise ValueError(f"{name} must be a scalar or a {shape} map, got shape {v.shape}")
        if not (np.isfinite(v).all() and (v > 0).all()):
            raise ValueError(f"{name} must be finite and positive (metres)")
        out.append(v)
    return out


class Mesh:
    """A gridded river basin: D8 flow directions, active cells, routing order and gauges.

    Build it with :meth:`from_flow_directions` or :meth:`from_geotiff`.

    Attributes
    ----------
    shape : tuple of int
        ``(nrow, ncol)``; row 0 is the northern row.
    flwdir : ndarray of int32, (nrow, ncol)
        D8 codes 1..8 (N, NE, E, SE, S, SW, W, NW), 0 for no direction.
    dx, dy : ndarray, (nrow, ncol)
        Cell sizes in metres.
    transform : affine.Affine or None
        Georeferencing of the grid (upper-left corner origin).
    crs : rasterio.crs.CRS or None
    active : ndarray of bool, (nrow, ncol)
        Cells that are simulated.
    flwacc : ndarray, (nrow, ncol)
        Drained area of each cell including itself, m² (computed on the whole grid).
    flow_accumulation_cells : ndarray of int, (nrow, ncol)
        Number of cells draining through each cell, itself included.
    partition : ndarray of int, (nrow, ncol)
        Flow partition: 1 + the number of cells on the longest upstream chain (sources are 1).
    cell_rows, cell_cols : ndarray of int, (n_active,)
        Active cells in routing order: by increasing partition (upstream to downstream), then
        column-major. Simulation vectors (``n_active``) use this order.
    level_ptr : ndarray of int32, (n_levels + 1,)
        ``cell_rows[level_ptr[i]:level_ptr[i+1]]`` are the cells of dependency level ``i``; cells of a
        level do not depend on each other and can be routed in parallel.
    gauges : pandas.DataFrame
        One row per gauge (index: code) with ``row``, ``col``, ``area`` (observed, km²) and
        ``area_dln`` (delineated, km²).

    Examples
    --------
    >>> import numpy as np
    >>> import skhydro
    >>> flwdir = np.array([[3, 3, 5], [3, 3, 5], [3, 3, 5]])  # east, then south along the last column
    >>> mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "out", "row": 2, "col": 2}])
    >>> mesh.n_active, int(mesh.flow_accumulation_cells[2, 2])
    (9, 9)
    """

    def __init__(self, flwdir, dx=None, dy=None, *, gauges=None, active_cells=None, transform=None, crs=None,
                 area_tolerance=0.5):
        codes = clean_flow_directions(flwdir)
        self.shape = codes.shape
        self.flwdir = codes
        self.transform = transform
        self.crs = crs
        self.dx, self.dy = _cell_sizes(self.shape, dx, dy, transform, crs)
        nrow, ncol = self.shape
        recv = receivers(codes)
        # drained area and drained cell count in one pass
        weights = np.stack([(self.dx * self.dy).ravel(), np.ones(recv.size)], axis=1)
        acc, flwpar, complete = accumulate(recv, weights)
        flwacc, cells_acc = acc[:, 0], acc[:, 1]
        self.flwacc = flwacc.reshape(self.shape)
        self.flow_accumulation_cells = np.rint(cells_acc).astype(np.int64).reshape(self.shape)
        self.partition = flwpar.reshape(self.shape)

        placed = place_gauges(gauges, self.shape, transform, flwacc, complete, area_tolerance)
        gauge_flat = np.array([g["row"] * ncol + g["col"] for g in placed], dtype=np.int64)

        if active_cells is None:
            if placed:
                active = np.zeros(recv.size, dtype=bool)
                for g, k in zip(placed, gauge_flat):
                    try:
                        active |= upstream_mask(recv, k)
                    except ValueError:
                        raise ValueError(f"gauge {g['code']!r} at (row, col) = ({g['row']}, {g['col']}) lies on "
                                         "cyclic flow directions") from None
            else:
                active = codes.ravel() > 0
        else:
            active = np.asarray(active_cells)
            if active.shape != self.shape:
                raise ValueError(f"active_cells must have the grid shape {self.shape}, got {active.shape}")
            active = active.astype(bool).ravel()
        if not active.any():
            raise ValueError("the mesh has no active cell")

        on_cycle = active & ~complete
        if on_cycle.any():
            r, c = np.divmod(np.flatnonzero(on_cycle)[:5], ncol)
            raise ValueError("cyclic flow directions: active cells drain in a loop, e.g. (row, col) "
                             f"{list(zip(r.tolist(), c.tolist()))}; fix the flow directions or leave these "
                             "cells out of active_cells")
        for g, k in zip(placed, gauge_flat):
            if not active[k]:
                raise ValueError(f"gauge {g['code']!r} at (row, col) = ({g['row']}, {g['col']}) is not an "
                                 "active cell")
        if placed:
            # with gauges, every active cell must drain to a gauge through active cells
            rcv = recv[active]
            leaves = (rcv < 0) | ~active[np.maximum(rcv, 0)]
            outlets = np.flatnonzero(active)[leaves]
            stray = np.setdiff1d(outlets, gauge_flat)
            if stray.size:
                r, c = np.divmod(stray[:5], ncol)
                raise ValueError("flow leaves the active domain (off the grid, into an inactive cell or at a "
                                 f"cell without direction) from cells that are not gauges: (row, col) "
                                 f"{list(zip(r.tolist(), c.tolist()))}")

        self.active = active.reshape(self.shape)
        # routing order: by partition, then column-major (the reference's storage order) inside one
        flat = np.flatnonzero(active)
        r, c = np.divmod(flat, ncol)
        order = np.lexsort((r, c, flwpar[flat]))
        flat = flat[order]
        self._flat = flat
        self.cell_rows, self.cell_cols = np.divmod(flat, ncol)
        part = flwpar[flat]
        starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
        self.level_ptr = np.r_[starts, flat.size].astype(np.int32)
        self._first_level_is_source = bool(part[0] == 1)
        self.up_ptr, self.up_idx = upstream_csr(recv, codes.ravel(), flat)
        pos = np.full(recv.size, -1, dtype=np.int64)
        pos[flat] = np.arange(flat.size)
        self.gauge_index = pos[gauge_flat].astype(np.int32)
        self.gauges = pd.DataFrame(
            {k: [g[k] for g in placed] for k in ("row", "col", "area", "area_dln")},
            index=pd.Index([g["code"] for g in placed], name="code"),
        ).astype({"row": np.int64, "col": np.int64, "area": float, "area_dln": float})

    # construction ---------------------------------------------------------------------------------
    @classmethod
    def from_flow_directions(cls, flwdir, dx=None, dy=None, gauges=None, active_cells=None, *, transform=None,
                             crs=None, area_tolerance=0.5):
        """Build a mesh from a D8 flow-direction array.

        Parameters
        ----------
        flwdir : array-like, (nrow, ncol)
            D8 codes 1..8 (N, NE, E, SE, S, SW, W, NW); values <= 0 or NaN mean no direction.
        dx, dy : float or array-like (nrow, ncol), optional
            Cell sizes in metres (``dy`` defaults to ``dx``). Taken from ``transform`` when omitted.
        gauges : list of dict or DataFrame, optional
            Each gauge has a ``code`` and either ``row``/``col`` or ``x``/``y``/``area`` (drained area in
            km², snapped to the best-matching of the 3x3 nearby cells; needs ``transform``).
        active_cells : array-like of bool, optional
            Cells to simulate. Defaults to the union of the gauges' upstream areas, or to every cell with a
            direction when there is no gauge.
        transform : affine.Affine, optional
            Georeferencing (north up).
        crs : rasterio.crs.CRS, optional
            Coordinate reference system; with a geographic CRS cell sizes are converted to metres.
        area_tolerance : float or None, default=0.5
            Largest relative error accepted between a gauge's observed and delineated drained area.

        Returns
        -------
        Mesh
        """
        return cls(flwdir, dx, dy, gauges=gauges, active_cells=active_cells, transform=transform, crs=crs,
                   area_tolerance=area_tolerance)

    @classmethod
    def from_geotiff(cls, path, gauges=None, active_cells=None, *, area_tolerance=0.5, crop=True):
        """Read D8 flow directions from a GeoTIFF (rasterio) and build a mesh.

        With gauges and ``crop=True`` the grid is cut to the bounding box of their upstream areas, as the
        reference mesh generator does.

        Parameters
        ----------
        path : str or path-like
            Raster of D8 codes 1..8; its nodata value means no direction.
        gauges : list of dict or DataFrame, optional
            As in :meth:`from_flow_directions`; (x, y) are in the raster's CRS, areas in km².
        active_cells : array-like of bool, optional
            On the full raster; with cropping the grid is cut to their bounding box.
        area_tolerance : float or None, default=0.5
        crop : bool, default=True

        Returns
        -------
        Mesh
        """
        import rasterio

        with rasterio.open(path) as src:
            data = src.read(1, masked=True)
            transform, crs = src.transform, src.crs
        flwdir = np.where(np.ma.getmaskarray(data), 0, np.ma.getdata(data))
        full = cls(flwdir, gauges=gauges, active_cells=active_cells, transform=transform, crs=crs,
                   area_tolerance=area_tolerance)
        if not (crop and len(full.gauges)):
            return full
        rows, cols = np.nonzero(full.active)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        window = (slice(r0, r1), slice(c0, c1))
        sub_gauges = [dict(code=code, row=int(g.row - r0), col=int(g.col - c0), area=g.area)
                      for code, g in full.gauges.iterrows()]
        # keep the active cells (the user's ones, or the gauges' upstream areas, which lie inside the window)
        return cls(flwdir[window], full.dx[window], full.dy[window], gauges=sub_gauges,
                   active_cells=full.active[window], transform=transform @ transform.translation(c0, r0), crs=crs)

    # vectors <-> grids ------------------------------------------------------------------------------
    @property
    def n_active(self):
        """Number of active cells."""
        return int(self._flat.size)

    @property
    def n_levels(self):
        """Number of dependency levels of the routing."""
        return int(self.level_ptr.size - 1)

    @property
    def gauge_codes(self):
        """Gauge codes, in mesh order."""
        return list(self.gauges.index)

    def to_vector(self, grid):
        """Take the active cells of ``(..., nrow, ncol)`` arrays, in routing order: ``(..., n_active)``."""
        grid = np.asarray(grid)
        if grid.shape[-2:] != self.shape:
            raise ValueError(f"expected arrays ending with the grid shape {self.shape}, got {grid.shape}")
        return grid.reshape(grid.shape[:-2] + (-1,))[..., self._flat]

    def to_grid(self, vector, fill=np.nan):
        """Scatter ``(..., n_active)`` vectors back onto ``(..., nrow, ncol)`` grids, ``fill`` elsewhere."""
        vector = np.asarray(vector)
        out = np.full(vector.shape[:-1] + (self.shape[0] * self.shape[1],), fill,
                      dtype=np.result_type(vector.dtype, np.asarray(fill).dtype))
        out[..., self._flat] = vector
        return out.reshape(vector.shape[:-1] + self.shape)

    def __repr__(self):
        return (f"Mesh(shape={self.shape}, n_active={self.n_active}, n_levels={self.n_levels}, "
                f"gauges={self.gauge_codes})")
