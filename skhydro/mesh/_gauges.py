"""Gauge placement: by (row, col), or by (x, y, drained area) snapped like the reference delineation.

Snapping (../shared/spec/forward.md §1.6): among the 3x3 cells around the raw cell holding (x, y),
visited column offset first then row offset, keep the first cell with the strictly smallest relative
error between the observed drained area and the cell's delineated area.
"""
import numbers

import numpy as np


def _gauge_records(gauges):
    """Normalise a list of dicts or a DataFrame of gauges into a list of dicts."""
    if gauges is None:
        return []
    if hasattr(gauges, "to_dict") and hasattr(gauges, "columns"):
        gauges = gauges.to_dict("records")
    records = []
    for g in gauges:
        if not isinstance(g, dict) or "code" not in g:
            raise ValueError(f"each gauge must be a dict with a 'code' and either 'row'/'col' or "
                             f"'x'/'y'/'area' (km²), got {g!r}")
        records.append(dict(g))
    codes = [str(g["code"]) for g in records]
    if len(set(codes)) != len(codes):
        raise ValueError(f"gauge codes must be unique, got {codes}")
    return records


def _as_int(value, what, code):
    if isinstance(value, numbers.Integral) or (isinstance(value, float) and float(value).is_integer()):
        return int(value)
    raise ValueError(f"gauge {code!r}: {what} must be an integer cell index, got {value!r}")


def place_gauges(gauges, shape, transform, flwacc, complete, area_tolerance):
    """Resolve gauge positions on a grid.

    Parameters
    ----------
    gauges : list of dict or DataFrame
        Each with ``code`` and either ``row``, ``col`` or ``x``, ``y``, ``area`` (km²).
    shape : (nrow, ncol)
    transform : affine.Affine or None
        Needed for (x, y) gauges (north-up rasters only).
    flwacc : (nrow * ncol,) drained area of each cell, m².
    complete : (nrow * ncol,) bool, False on flow cycles (such cells are never chosen).
    area_tolerance : float or None
        Largest accepted relative area error for snapped gauges.

    Returns
    -------
    list of dict with code, row, col, area (km², NaN when not given) and area_dln (km²).
    """
    nrow, ncol = shape
    out = []
    for g in _gauge_records(gauges):
        code = str(g["code"])
        if "row" in g or "col" in g:
            row, col = _as_int(g.get("row"), "row", code), _as_int(g.get("col"), "col", code)
            if not (0 <= row < nrow and 0 <= col < ncol):
                raise ValueError(f"gauge {code!r} at (row, col) = ({row}, {col}) is off the "
                                 f"{nrow} x {ncol} grid")
            area = float(g["area"]) if g.get("area") is not None else np.nan
            out.append(dict(code=code, row=row, col=col, area=area, area_dln=flwacc[row * ncol + col] / 1e6))
            continue
        missing = [k for k in ("x", "y", "area") if g.get(k) is None]
        if missing:
            raise ValueError(f"gauge {code!r} needs 'row' and 'col', or 'x', 'y' and 'area'; missing {missing}")
        if transform is None:
            raise ValueError(f"gauge {code!r} is given by (x, y): the mesh needs a transform")
        if transform.b != 0 or transform.d != 0 or transform.e >= 0:
            raise ValueError("gauges by (x, y) need a north-up transform without rotation")
        x, y, area_km2 = float(g["x"]), float(g["y"]), float(g["area"])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError(f"gauge {code!r}: x and y must be finite, got ({x}, {y})")
        if not (np.isfinite(area_km2) and area_km2 > 0):
            raise ValueError(f"gauge {code!r}: drained area must be positive (km²), got {area_km2}")
        xres, yres = transform.a, -transform.e
        fr, fc = (transform.f - y) / yres, (x - transform.c) / xres
        if not (0 <= fr < nrow and 0 <= fc < ncol):
            raise ValueError(f"gauge {code!r} at (x, y) = ({x}, {y}) is off the grid")
        row0, col0 = int(fr), int(fc)
        area = area_km2 * 1e6
        best, best_score = None, np.inf
        for dc in (-1, 0, 1):
            for dr in (-1, 0, 1):
                r, c = row0 + dr, col0 + dc
                if not (0 <= r < nrow and 0 <= c < ncol) or not complete[r * ncol + c]:
                    continue
                score = abs(area - flwacc[r * ncol + c]) / area
                if score < best_score:
                    best, best_score = (r, c), score
        if best is None or (area_tolerance is not None and best_score > area_tolerance):
            within = "" if area_tolerance is None else f" within {area_tolerance:.0%}"
            raise ValueError(
                f"gauge {code!r}: no cell near (x, y) = ({x}, {y}) drains an area{within} of "
                f"{area_km2} km² (best relative error {best_score:.3g})")
        r, c = best
        out.append(dict(code=code, row=r, col=c, area=area_km2, area_dln=flwacc[r * ncol + c] / 1e6))
    return out
