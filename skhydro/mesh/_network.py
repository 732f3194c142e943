"""D8 flow network: receivers, accumulation, flow partitions, upstream traversal (vectorised NumPy).

Encoding (../shared/spec/forward.md §1.2): a cell's code 1..8 names the neighbour it drains to,
N, NE, E, SE, S, SW, W, NW; codes <= 0 (or NaN / nodata) mean "no direction".
"""
import numpy as np

# (drow, dcol) of the receiver for codes 1..8 (index 0 unused)
D8_OFFSETS = np.array([(0, 0), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)])


def clean_flow_directions(flwdir):
    """Return the D8 codes as int32 with every "no direction" value set to 0; reject anything else."""
    arr = np.asarray(flwdir)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"flow directions must be a non-empty 2-D array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"flow directions must be numeric D8 codes, got dtype {arr.dtype}")
    values = arr.astype(np.float64)
    nodir = np.isnan(values) | (values <= 0)  # NaN, -inf, 0, negative nodata; +inf is invalid
    valid = nodir | np.isin(values, np.arange(1, 9))
    if not valid.all():
        bad = np.unique(values[~valid])[:5]
        raise ValueError(
            "flow directions must be D8 codes 1..8 (N, NE, E, SE, S, SW, W, NW) or <= 0 for no direction; "
            f"found {bad.tolist()}")
    return np.where(nodir, 0, values).astype(np.int32)


def receivers(codes):
    """Flat index of each cell's receiver; -1 for no direction, -2 when the flow leaves the grid."""
    nrow, ncol = codes.shape
    rows, cols = np.indices(codes.shape)
    off = D8_OFFSETS[codes]
    r, c = rows + off[..., 0], cols + off[..., 1]
    inside = (r >= 0) & (r < nrow) & (c >= 0) & (c < ncol)
    recv = np.where(inside, r * ncol + c, -2)
    recv[codes == 0] = -1
    return recv.ravel()


def accumulate(recv, weights):
    """Flow accumulation and flow partitions by Kahn's algorithm (spec §1.4).

    Two cells draining into each other form a sink: the walk stops there, as in the reference.
    ``weights`` is one value per cell, ``(n,)``, or several, ``(n, k)`` (e.g. cell area and 1 to count
    cells), accumulated in the same pass. Returns ``(acc, flwpar, complete)``: the accumulated weights
    including the cell's own, 1 + length of the longest upstream chain, and whether the cell received
    all its inflows (False exactly on flow cycles).
    """
    n = recv.size
    has_recv = recv >= 0
    nidp = np.bincount(recv[has_recv], minlength=n)
    follow = has_recv.copy()
    src = np.flatnonzero(has_recv)
    follow[src[recv[recv[src]] == src]] = False  # 2-cell sinks
    flwacc = np.array(weights, dtype=np.float64).reshape(n, -1)
    flwpar = np.ones(n, dtype=np.int64)
    indeg = nidp.copy()
    complete = np.zeros(n, dtype=bool)
    frontier = np.flatnonzero(nidp == 0)
    while frontier.size:
        complete[frontier] = True
        a = frontier[follow[frontier]]
        b = recv[a]
        np.add.at(flwacc, b, flwacc[a])
        np.maximum.at(flwpar, b, flwpar[a] + 1)
        np.subtract.at(indeg, b, 1)
        b = np.unique(b)
        frontier = b[indeg[b] == 0]
    return (flwacc[:, 0] if np.ndim(weights) == 1 else flwacc), flwpar, complete


def upstream_csr(recv, codes_flat, cells):
    """Upstream neighbours of ``cells`` (flat indices), each list ordered by D8 code 1..8 like the reference.

    Returns ``(ptr, idx)`` where ``idx[ptr[i]:ptr[i+1]]`` are positions *in ``cells``* of the upstream
    neighbours of ``cells[i]``; neighbours not in ``cells`` are left out.
    """
    n = recv.size
    pos = np.full(n, -1, dtype=np.int64)
    pos[cells] = np.arange(cells.size)
    donors = cells[(recv[cells] >= 0)]
    donors = donors[pos[recv[donors]] >= 0]
    target = pos[recv[donors]]
    order = np.lexsort((codes_flat[donors], target))
    donors, target = donors[order], target[order]
    ptr = np.zeros(cells.size + 1, dtype=np.int64)
    np.add.at(ptr, target + 1, 1)
    return np.cumsum(ptr).astype(np.int32), pos[donors].astype(np.int32)


def upstream_mask(recv, outlet):
    """Boolean flat mask of the cells draining to ``outlet`` (itself included).

    Raises ValueError when the traversal meets a cell twice, i.e. the outlet lies on a flow cycle.
    """
    n = recv.size
    has = np.flatnonzero(recv >= 0)
    order = has[np.argsort(recv[has], kind="stable")]
    ptr = np.searchsorted(recv[order], np.arange(n + 1))
    mask = np.zeros(n, dtype=bool)
    frontier = np.array([outlet])
    mask[outlet] = True
    while frontier.size:
        counts = ptr[frontier + 1] - ptr[frontier]
        if counts.sum() == 0:
            break
        starts = np.repeat(ptr[frontier] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        children = order[starts + np.arange(counts.sum())]
        if mask[children].any():
            raise ValueError("cyclic flow directions: the upstream traversal returns to a visited cell")
        mask[children] = True
        frontier = children
    return mask
