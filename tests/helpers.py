"""Shared helpers of the test suite: hand-made D8 grids and naive reference computations.

Imported by the test modules as ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""
import os

import numpy as np
import pytest

import skhydro

SMASH_OPTIONS = {"verbose": False, "ncpu": 1}

# D8 codes 1..8 (N, NE, E, SE, S, SW, W, NW) -> (drow, dcol) of the receiver (spec §1.2)
D8 = {1: (-1, 0), 2: (-1, 1), 3: (0, 1), 4: (1, 1), 5: (1, 0), 6: (1, -1), 7: (0, -1), 8: (-1, -1)}


def receiver(flwdir, r, c):
    """(row, col) of the receiver of cell (r, c); None for no direction or flow leaving the grid."""
    code = int(flwdir[r, c])
    if code <= 0:
        return None
    dr, dc = D8[code]
    rr, cc = r + dr, c + dc
    if 0 <= rr < flwdir.shape[0] and 0 <= cc < flwdir.shape[1]:
        return rr, cc
    return None


def upstream_neighbours(flwdir, r, c):
    """Cells draining into (r, c), in the reference's scan order (the donor's code 1..8)."""
    out = []
    for code in range(1, 9):
        dr, dc = D8[code]
        rr, cc = r - dr, c - dc  # the neighbour that drains into (r, c) with this code
        if 0 <= rr < flwdir.shape[0] and 0 <= cc < flwdir.shape[1] and flwdir[rr, cc] == code:
            out.append((rr, cc))
    return out


def naive_accumulation(flwdir):
    """Number of cells draining through each cell (itself included), by walking down from every cell."""
    acc = np.zeros(flwdir.shape, dtype=np.int64)
    for r in range(flwdir.shape[0]):
        for c in range(flwdir.shape[1]):
            cell, seen = (r, c), 0
            while cell is not None:
                acc[cell] += 1
                cell = receiver(flwdir, *cell)
                seen += 1
                assert seen <= flwdir.size, "the grid is cyclic"
    return acc


def naive_partition(flwdir):
    """1 + length of the longest upstream chain ending at each cell (sources are 1)."""
    part = np.zeros(flwdir.shape, dtype=np.int64)

    def visit(r, c):
        if part[r, c] == 0:
            ups = upstream_neighbours(flwdir, r, c)
            part[r, c] = 1 + max((visit(*u) for u in ups), default=0)
        return part[r, c]

    for r in range(flwdir.shape[0]):
        for c in range(flwdir.shape[1]):
            visit(r, c)
    return part


def random_tree_flwdir(nrow, ncol, outlet, rng, outlet_code=0):
    """D8 codes of a random tree in which every cell drains to ``outlet`` (acyclic by construction).

    Each cell drains to a random neighbour strictly closer (Chebyshev distance) to the outlet; the outlet
    gets ``outlet_code`` (0: no direction, or a code pointing off the grid).
    """
    rows, cols = np.indices((nrow, ncol))
    orow, ocol = outlet
    dist = np.maximum(abs(rows - orow), abs(cols - ocol))
    score = np.full((8, nrow, ncol), -np.inf)
    for k, (code, (dr, dc)) in enumerate(D8.items()):
        rr, cc = rows + dr, cols + dc
        inside = (rr >= 0) & (rr < nrow) & (cc >= 0) & (cc < ncol)
        closer = np.zeros_like(inside)
        closer[inside] = dist[rr[inside], cc[inside]] == dist[inside] - 1
        score[k][closer] = rng.random(closer.sum())
    codes = (np.argmax(score, axis=0) + 1).astype(np.int32)
    codes[orow, ocol] = outlet_code
    return codes


def random_dem_flwdir(nrow, ncol, rng, p_nodir=0.05):
    """Acyclic D8 codes of a random terrain (steepest descent); pits and border cells may have no direction
    or drain off the grid, so the grid holds several basins."""
    dem = rng.random((nrow + 2, ncol + 2))
    dem[0, :] = dem[-1, :] = dem[:, 0] = dem[:, -1] = -1.0  # a moat: border cells may drain off the grid
    codes = np.zeros((nrow, ncol), dtype=np.int32)
    for r in range(nrow):
        for c in range(ncol):
            z = dem[r + 1, c + 1]
            best, best_drop = 0, 0.0
            for code, (dr, dc) in D8.items():
                drop = (z - dem[r + 1 + dr, c + 1 + dc]) / np.hypot(dr, dc)
                if drop > best_drop:
                    best, best_drop = code, drop
            codes[r, c] = best
    codes[rng.random((nrow, ncol)) < p_nodir] = 0
    return codes


def random_forcing(ntime, shape, rng, p_rain=0.3, p_missing=0.0):
    """Hourly-like rain (mostly zero, occasionally heavy) and a diurnal PET, mm per step."""
    prcp = np.where(rng.random((ntime,) + shape) < p_rain, rng.gamma(0.7, 4.0, (ntime,) + shape), 0.0)
    hours = np.arange(1, ntime + 1) % 24
    pet = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)[:, None, None] * 0.3 * rng.random((1,) + shape)
    pet = np.broadcast_to(pet, prcp.shape).copy()
    if p_missing:
        prcp[rng.random(prcp.shape) < p_missing] = -99.0
    return prcp, pet


def nse(sim, ref):
    """Nash-Sutcliffe efficiency of ``sim`` against ``ref``."""
    sim, ref = np.asarray(sim, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return 1.0 - np.sum((sim - ref) ** 2) / np.sum((ref - ref.mean()) ** 2)


def smash_dataset_dir():
    """Directory of the datasets bundled with hydro-smash (``.../smash/factory/dataset``)."""
    smash = pytest.importorskip("smash")
    return os.path.join(os.path.dirname(smash.__file__), "factory", "dataset")


def smash_forward(model, parameters=None, states=None, prcp=None, pet=None):
    """Forward-run a *copy* of a smash model with some parameter / initial-state maps or forcings replaced.

    ``parameters``/``states``: ``{name: (nrow, ncol) map}``; ``prcp``/``pet``: ``(nrow, ncol, ntime)``.
    The cached model is left untouched.
    """
    model = model.copy()
    for name, value in (parameters or {}).items():
        model.set_rr_parameters(name, np.asarray(value, dtype=np.float32))
    for name, value in (states or {}).items():
        model.set_rr_initial_states(name, np.asarray(value, dtype=np.float32))
    if prcp is not None:
        model.atmos_data.prcp = np.asarray(prcp, dtype=np.float32)
    if pet is not None:
        model.atmos_data.pet = np.asarray(pet, dtype=np.float32)
    model.forward_run(common_options=SMASH_OPTIONS)
    return model


def smash_forcings(model):
    """skhydro Forcings holding a smash model's atmospheric data.

    smash marks missing values by any negative number (its -99 times the conversion factor, e.g. -9.9 for
    the France precipitation in 0.1 mm); skhydro accepts only NaN or -99, so negatives become NaN.
    """
    arrays = []
    for arr in (model.atmos_data.prcp, model.atmos_data.pet):
        arr = np.moveaxis(np.array(arr, dtype=np.float64), -1, 0)
        arr[arr < 0] = np.nan
        arrays.append(arr)
    return skhydro.Forcings(*arrays, dt=int(model.setup.dt), start=str(model.setup.start_time))


def one_cell_forcings(rng, n, missing=0.0):
    """Hourly-like rain and PET series for one cell; ``missing`` share of steps at -99."""
    prcp = np.where(rng.random(n) < 0.35, rng.exponential(4.0, n), 0.0)
    pet = rng.uniform(0.0, 0.5, n) * (rng.random(n) < 0.8)
    if missing:
        prcp[rng.random(n) < missing] = -99.0
        pet[rng.random(n) < missing / 2] = -99.0
    return prcp, pet
