"""Physical descriptors of the grid (slope, soils, land cover, ...) that regionalisation maps to parameters.

Descriptors are ``(nrow, ncol)`` maps on the mesh grid. Their transformation (``../shared/spec/inverse.md``
§3.1 and ``forward.md`` §2.7) uses statistics over every cell of the grid that holds a valid value, not
only the active cells: ``standardize`` (the default) ``(d - mean) / std`` with the population std,
``normalize`` ``(d - min) / (max - min)``, ``keep`` the raw values.
"""
import os

import numpy as np

__all__ = ["Descriptors", "DESCRIPTOR_TRANSFORMS"]

DESCRIPTOR_TRANSFORMS = ("standardize", "normalize", "keep")

_MISSING = -99.0


class Descriptors:
    """Named descriptor maps and their transformation.

    Parameters
    ----------
    maps : dict
        ``{name: (nrow, ncol) array}``. NaN or -99 mark cells without a value (allowed outside the active
        cells only).
    transform : {"standardize", "normalize", "keep"}, default="standardize"
        Transformation applied by :meth:`matrix`.

    Attributes
    ----------
    names : tuple of str
        Descriptor names, in the column order of :meth:`matrix`.
    shape : tuple
        Grid shape ``(nrow, ncol)``.
    statistics : dict
        ``{name: dict(min, max, mean, std)}`` over the valid cells of the grid.

    Raises
    ------
    ValueError
        No descriptor, maps of different or non-2-D shapes, a map without any valid value, infinite values,
        or (unless ``transform="keep"``) a spatially uniform map.

    Examples
    --------
    >>> import numpy as np
    >>> d = Descriptors({"slope": np.array([[1.0, 3.0], [5.0, np.nan]])}, transform="normalize")
    >>> d.statistics["slope"]["max"]
    5.0
    >>> d.transformed("slope")
    array([[0. , 0.5],
           [1. , nan]])
    """

    def __init__(self, maps, transform="standardize"):
        if not isinstance(transform, str) or transform not in DESCRIPTOR_TRANSFORMS:
            raise ValueError(f"descriptor transform must be one of {list(DESCRIPTOR_TRANSFORMS)}, got {transform!r}")
        if isinstance(maps, Descriptors):
            maps = maps.raw
        if not isinstance(maps, dict) or not maps:
            raise ValueError("descriptors must be a non-empty dict {name: (nrow, ncol) map}")
        self.transform = transform
        self.raw, self.statistics = {}, {}
        shape = None
        for name, values in maps.items():
            arr = np.array(values, dtype=np.float64)
            if arr.ndim != 2:
                raise ValueError(f"descriptor {name!r} must be a (nrow, ncol) map, got shape {arr.shape}")
            if shape is not None and arr.shape != shape:
                raise ValueError(f"descriptor {name!r} has shape {arr.shape}, the others {shape}")
            shape = arr.shape
            if np.isinf(arr).any():
                raise ValueError(f"descriptor {name!r} contains infinite values")
            arr[arr == _MISSING] = np.nan
            valid = arr[np.isfinite(arr)]
            if valid.size == 0:
                raise ValueError(f"descriptor {name!r} has no valid value")
            stats = dict(min=float(valid.min()), max=float(valid.max()), mean=float(valid.mean()),
                         std=float(valid.std()))
            if transform != "keep" and stats["max"] == stats["min"]:
                raise ValueError(f"descriptor {name!r} is spatially uniform ({stats['min']:g}): it cannot be "
                                 f"{transform}d; leave it out or use transform='keep'")
            arr.flags.writeable = False
            self.raw[str(name)] = arr
            self.statistics[str(name)] = stats
        self.names = tuple(self.raw)
        self.shape = shape

    @classmethod
    def from_geotiff(cls, paths, mesh=None, transform="standardize"):
        """Read descriptors from GeoTIFF files with rasterio.

        Parameters
        ----------
        paths : dict or list of str, or str
            ``{name: path}``, a list of paths (named after the file stems) or a directory whose ``.tif``
            / ``.tiff`` files are read.
        mesh : Mesh, optional
            When given, each raster is read in the mesh window (rasters on the mesh grid must then match
            its shape).
        transform : str, default="standardize"

        Returns
        -------
        Descriptors
        """
        import rasterio

        if isinstance(paths, (str, os.PathLike)) and os.path.isdir(paths):
            paths = sorted(os.path.join(paths, f) for f in os.listdir(paths) if f.lower().endswith((".tif", ".tiff")))
            if not paths:
                raise ValueError("no .tif file in the descriptor directory")
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not isinstance(paths, dict):
            paths = {os.path.splitext(os.path.basename(p))[0]: p for p in paths}
        maps = {}
        for name, path in paths.items():
            with rasterio.open(path) as src:
                arr = src.read(1).astype(np.float64)
                if src.nodata is not None:
                    arr[arr == src.nodata] = np.nan
            if mesh is not None and arr.shape != mesh.shape:
                raise ValueError(f"descriptor {name!r} ({path}) has shape {arr.shape}, the mesh {mesh.shape}")
            maps[name] = arr
        return cls(maps, transform=transform)

    def transformed(self, name):
        """The transformed map of one descriptor (NaN where it has no value)."""
        arr, s = self.raw[name], self.statistics[name]
        if self.transform == "standardize":
            return (arr - s["mean"]) / s["std"]
        if self.transform == "normalize":
            return (arr - s["min"]) / (s["max"] - s["min"])
        return arr.copy()

    def matrix(self, mesh, names=None):
        """Transformed descriptors of the active cells, ``(n_active, n_descriptors)``, in the mesh's cell
        order (the order of the kernels' vectors).

        Parameters
        ----------
        mesh : Mesh
        names : sequence of str, optional
            Descriptors to use, in column order; default all.

        Raises
        ------
        ValueError
            Shape mismatch with the mesh, an unknown name, or a descriptor without a value on an active
            cell.
        """
        if tuple(self.shape) != tuple(mesh.shape):
            raise ValueError(f"descriptors are on a {self.shape} grid but the mesh is {mesh.shape}")
        names = self.names if names is None else tuple(names)
        unknown = [n for n in names if n not in self.raw]
        if unknown:
            raise ValueError(f"unknown descriptors {unknown}; available: {list(self.names)}")
        columns = []
        for n in names:
            v = mesh.to_vector(self.transformed(n))
            if not np.isfinite(v).all():
                raise ValueError(f"descriptor {n!r} has no value on {int((~np.isfinite(v)).sum())} active cell(s)")
            columns.append(v)
        return np.column_stack(columns)

    def __repr__(self):
        return f"Descriptors(names={list(self.names)}, shape={self.shape}, transform={self.transform!r})"
