"""Mesh construction: flow accumulation, partitions, routing order, gauges, validation."""
import os

import numpy as np
import pandas as pd
import pytest
from affine import Affine

import skhydro
from helpers import (
    naive_accumulation, naive_partition, random_dem_flwdir, random_tree_flwdir, receiver, smash_dataset_dir,
    upstream_neighbours,
)

# the docstring example: east along the rows, then south along the last column
EXAMPLE = np.array([[3, 3, 5], [3, 3, 5], [3, 3, 5]])


def check_routing_order(mesh):
    """Active cells are listed upstream to downstream and the levels are independent."""
    flwdir = mesh.flwdir
    pos = {(int(r), int(c)): k for k, (r, c) in enumerate(zip(mesh.cell_rows, mesh.cell_cols))}
    assert len(pos) == mesh.n_active == int(mesh.active.sum())
    assert all(mesh.active[cell] for cell in pos)
    ptr = mesh.level_ptr
    assert ptr[0] == 0 and ptr[-1] == mesh.n_active and np.all(np.diff(ptr) > 0)
    level = np.repeat(np.arange(mesh.n_levels), np.diff(ptr))
    for (r, c), k in pos.items():
        down = receiver(flwdir, r, c)
        if down is not None and down in pos:
            assert k < pos[down], f"cell {(r, c)} comes after its receiver {down}"
        for up in upstream_neighbours(flwdir, r, c):
            if up in pos:
                # no cell's upstream neighbour is in the same or a later level
                assert level[pos[up]] < level[k], f"{up} drains into {(r, c)} but is not in an earlier level"
    # every level holds one flow partition (the reference's routing order)
    part = mesh.partition[mesh.cell_rows, mesh.cell_cols]
    for i in range(mesh.n_levels):
        assert np.unique(part[ptr[i]:ptr[i + 1]]).size == 1
    assert np.all(np.diff(part) >= 0)


def check_upstream_lists(mesh):
    """The routing's upstream lists are the active donors of each cell, in D8-code order."""
    pos = {(int(r), int(c)): k for k, (r, c) in enumerate(zip(mesh.cell_rows, mesh.cell_cols))}
    for (r, c), k in pos.items():
        expected = [pos[u] for u in upstream_neighbours(mesh.flwdir, r, c) if u in pos]
        assert list(mesh.up_idx[mesh.up_ptr[k]:mesh.up_ptr[k + 1]]) == expected


# --------------------------------------------------------------------------------------------------
# hand-made grids
# --------------------------------------------------------------------------------------------------
def test_example_grid():
    mesh = skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1000.0, gauges=[{"code": "out", "row": 2, "col": 2}])
    np.testing.assert_array_equal(mesh.flow_accumulation_cells, [[1, 2, 3], [1, 2, 6], [1, 2, 9]])
    np.testing.assert_array_equal(mesh.flwacc, mesh.flow_accumulation_cells * 1e6)
    np.testing.assert_array_equal(mesh.partition, [[1, 2, 3], [1, 2, 4], [1, 2, 5]])
    assert mesh.n_active == 9 and mesh.active.all()
    assert mesh.n_levels == 5
    np.testing.assert_array_equal(np.diff(mesh.level_ptr), [3, 3, 1, 1, 1])
    # partition first, column-major inside a partition
    assert list(zip(mesh.cell_rows.tolist(), mesh.cell_cols.tolist())) == [
        (0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
    assert mesh.gauge_codes == ["out"]
    g = mesh.gauges.loc["out"]
    assert (g.row, g.col) == (2, 2) and g.area_dln == pytest.approx(9.0) and np.isnan(g.area)
    check_routing_order(mesh)
    check_upstream_lists(mesh)


@pytest.mark.parametrize("seed", range(6))
def test_random_tree_against_naive(seed):
    rng = np.random.default_rng(seed)
    nrow, ncol = rng.integers(3, 13, size=2)
    outlet = (int(rng.integers(nrow)), int(rng.integers(ncol)))
    flwdir = random_tree_flwdir(nrow, ncol, outlet, rng)
    dx = rng.uniform(500, 1500, size=(nrow, ncol))
    dy = rng.uniform(500, 1500, size=(nrow, ncol))
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=dx, dy=dy, gauges=[{"code": "g", "row": outlet[0],
                                                                          "col": outlet[1]}])
    acc = naive_accumulation(flwdir)
    np.testing.assert_array_equal(mesh.flow_accumulation_cells, acc)
    assert acc[outlet] == nrow * ncol and mesh.active.all()
    np.testing.assert_array_equal(mesh.partition, naive_partition(flwdir))
    # drained area: sum of the cell areas of the upstream cells
    area = dx * dy
    expected = np.zeros_like(area)
    for r in range(nrow):
        for c in range(ncol):
            cell = (r, c)
            while cell is not None:
                expected[cell] += area[r, c]
                cell = receiver(flwdir, *cell)
    np.testing.assert_allclose(mesh.flwacc, expected, rtol=1e-12)
    check_routing_order(mesh)
    check_upstream_lists(mesh)


@pytest.mark.parametrize("seed", range(4))
def test_random_terrain_without_gauges(seed):
    rng = np.random.default_rng(100 + seed)
    flwdir = random_dem_flwdir(9, 11, rng)
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0)
    np.testing.assert_array_equal(mesh.active, flwdir > 0)  # no gauge: every cell with a direction
    np.testing.assert_array_equal(mesh.flow_accumulation_cells, naive_accumulation(flwdir))
    np.testing.assert_array_equal(mesh.partition, naive_partition(flwdir))
    assert len(mesh.gauges) == 0
    check_routing_order(mesh)
    check_upstream_lists(mesh)


def test_gauges_define_active_cells():
    rng = np.random.default_rng(7)
    flwdir = random_tree_flwdir(10, 8, (9, 4), rng)
    acc = naive_accumulation(flwdir)
    # an upstream gauge: its basin only
    r, c = [(r, c) for r in range(10) for c in range(8) if 5 <= acc[r, c] <= 20][0]
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "up", "row": r, "col": c}])
    assert mesh.n_active == acc[r, c]
    for rr in range(10):
        for cc in range(8):
            cell, drains = (rr, cc), False
            while cell is not None:
                drains |= cell == (r, c)
                cell = receiver(flwdir, *cell)
            assert mesh.active[rr, cc] == drains
    # nested gauges: union of the basins, gauges in the given order
    both = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "out", "row": 9, "col": 4},
                                                                      {"code": "up", "row": r, "col": c}])
    assert both.active.all() and both.gauge_codes == ["out", "up"]
    assert both.cell_rows[both.gauge_index[1]] == r and both.cell_cols[both.gauge_index[1]] == c
    check_routing_order(both)


def test_vector_grid_round_trip():
    rng = np.random.default_rng(3)
    flwdir = random_tree_flwdir(7, 9, (6, 0), rng)
    mesh0 = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "o", "row": 6, "col": 0}])
    assert mesh0.n_active == 63
    # a sub-basin, so that some cells are inactive
    acc = mesh0.flow_accumulation_cells
    r, c = np.argwhere((acc > 10) & (acc < 40))[0]
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1000.0, gauges=[{"code": "o", "row": r, "col": c}])
    active = mesh.active
    assert 0 < mesh.n_active < 63
    grid = rng.random((4, 2, 7, 9))
    vec = mesh.to_vector(grid)
    assert vec.shape == (4, 2, mesh.n_active)
    np.testing.assert_array_equal(vec[..., :], grid[..., mesh.cell_rows, mesh.cell_cols])
    back = mesh.to_grid(vec)
    assert back.shape == grid.shape
    np.testing.assert_array_equal(back[..., active], grid[..., active])
    assert np.isnan(back[..., ~active]).all()
    np.testing.assert_array_equal(mesh.to_vector(back), vec)
    filled = mesh.to_grid(vec[0, 0], fill=-99.0)
    assert (filled[~active] == -99.0).all()
    ints = mesh.to_grid(np.arange(mesh.n_active), fill=-1)
    assert ints.dtype.kind == "i" and sorted(ints[active].tolist()) == list(range(mesh.n_active))
    with pytest.raises(ValueError, match="grid shape"):
        mesh.to_vector(np.zeros((9, 7)))


def test_cycle_outside_the_active_cells_is_allowed():
    flwdir = np.array([[5, 0, 3, 5],
                       [5, 0, 1, 7],
                       [0, 0, 0, 0]])  # a 4-cell loop in the north-east corner
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, gauges=[{"code": "a", "row": 2, "col": 0}])
    np.testing.assert_array_equal(np.argwhere(mesh.active), [[0, 0], [1, 0], [2, 0]])
    active = np.zeros((3, 4), bool)
    active[:, 0] = True
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, active_cells=active)
    assert mesh.n_active == 3
    with pytest.raises(ValueError, match="cyclic"):
        skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, active_cells=flwdir > 0)


def test_cell_sizes_from_transform():
    transform = Affine(250.0, 0.0, 1000.0, 0.0, -500.0, 9000.0)
    mesh = skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform)
    assert (mesh.dx == 250.0).all() and (mesh.dy == 500.0).all()
    assert mesh.flwacc[2, 2] == pytest.approx(9 * 250.0 * 500.0)
    mesh = skhydro.Mesh.from_flow_directions(EXAMPLE, dx=10.0)
    assert (mesh.dx == 10.0).all() and (mesh.dy == 10.0).all()


# --------------------------------------------------------------------------------------------------
# gauges given by (x, y, area)
# --------------------------------------------------------------------------------------------------
def test_snapping_on_a_small_grid():
    transform = Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 3000.0)  # cell (r, c) spans x in [c, c+1) km
    # (x, y) in the centre cell; 3x3 search covers the whole grid
    exact = skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform,
                                              gauges=[{"code": "g", "x": 1500.0, "y": 1500.0, "area": 3.0}])
    g = exact.gauges.loc["g"]
    assert (g.row, g.col) == (0, 2) and g.area == 3.0 and g.area_dln == pytest.approx(3.0)
    # three cells drain 2 km²: the first in column-then-row order wins
    tie = skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform,
                                            gauges=[{"code": "g", "x": 1500.0, "y": 1500.0, "area": 2.0}])
    assert tuple(tie.gauges.loc["g", ["row", "col"]]) == (0, 1)
    np.testing.assert_array_equal(np.argwhere(tie.active), [[0, 0], [0, 1]])
    # closest area wins
    near = skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform,
                                             gauges=[{"code": "g", "x": 2999.0, "y": 1.0, "area": 8.0}])
    assert tuple(near.gauges.loc["g", ["row", "col"]]) == (2, 2)
    # a DataFrame works too
    df = pd.DataFrame({"code": ["g"], "x": [2999.0], "y": [1.0], "area": [8.0]})
    assert skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform, gauges=df).gauges.equals(near.gauges)


def write_geotiff(path, flwdir, transform, nodata=-1):
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=flwdir.shape[0], width=flwdir.shape[1], count=1,
                       dtype="int16", transform=transform, nodata=nodata, crs="EPSG:2154") as dst:
        dst.write(flwdir.astype(np.int16), 1)


GEOTIFF_GRID = np.array([[3, 3, 5, -1],
                         [3, 3, 5, -1],
                         [3, 3, 5, 6],
                         [-1, -1, 0, 7]])  # -1 = nodata; (3, 2) is the outlet of a 9+2 cell basin


def test_from_geotiff_small(tmp_path):
    path = tmp_path / "flwdir.tif"
    transform = Affine(1000.0, 0.0, 500000.0, 0.0, -1000.0, 6400000.0)
    write_geotiff(path, GEOTIFF_GRID, transform)
    full = skhydro.Mesh.from_geotiff(path)
    assert full.shape == (4, 4) and full.transform == transform and full.crs.to_epsg() == 2154
    np.testing.assert_array_equal(full.flwdir, np.where(GEOTIFF_GRID < 0, 0, GEOTIFF_GRID))
    assert (full.dx == 1000.0).all() and full.n_active == 11  # cells with a direction (no gauge)
    # a gauge by (x, y, area): the grid is cropped to its upstream area
    gauge = {"code": "g", "x": 502500.0, "y": 6396500.0, "area": 12.0}  # cell (3, 2), drains 9 + 2 + 1 cells
    mesh = skhydro.Mesh.from_geotiff(path, gauges=[gauge])
    g = mesh.gauges.loc["g"]
    assert mesh.shape == (4, 4) and (g.row, g.col) == (3, 2) and g.area_dln == pytest.approx(12.0)
    assert mesh.n_active == 12
    # same (x, y), 9 km²: the 3x3 search snaps to (2, 2) which drains exactly 9 cells
    gauge = dict(gauge, area=9.0)
    mesh = skhydro.Mesh.from_geotiff(path, gauges=[gauge])
    assert mesh.shape == (3, 3) and mesh.active.all()
    assert (mesh.transform.c, mesh.transform.f) == (500000.0, 6400000.0)
    assert tuple(mesh.gauges.loc["g", ["row", "col"]]) == (2, 2)
    np.testing.assert_array_equal(mesh.flow_accumulation_cells, [[1, 2, 3], [1, 2, 6], [1, 2, 9]])
    # an upstream gauge: the window moves, the transform follows
    up = skhydro.Mesh.from_geotiff(path, gauges=[{"code": "u", "row": 1, "col": 2}])
    assert up.shape == (2, 3) and up.n_active == 6
    assert (up.transform.c, up.transform.f) == (500000.0, 6400000.0)
    up = skhydro.Mesh.from_geotiff(path, gauges=[{"code": "u", "row": 2, "col": 1}])
    assert up.shape == (1, 2) and up.n_active == 2 and (up.transform.c, up.transform.f) == (500000.0, 6398000.0)
    uncropped = skhydro.Mesh.from_geotiff(path, gauges=[{"code": "u", "row": 2, "col": 1}], crop=False)
    assert uncropped.shape == (4, 4) and uncropped.n_active == 2


def test_from_geotiff_keeps_given_active_cells(tmp_path):
    path = tmp_path / "flwdir.tif"
    write_geotiff(path, GEOTIFF_GRID, Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 4000.0))
    active = np.zeros((4, 4), bool)
    active[1, :3] = True
    active[2, 2] = True  # row 1 then down to the gauge; (2, 0), (2, 1) left out though inside the window
    full = skhydro.Mesh.from_geotiff(path, gauges=[{"code": "g", "row": 2, "col": 2}], active_cells=active,
                                     crop=False)
    assert full.n_active == 4
    mesh = skhydro.Mesh.from_geotiff(path, gauges=[{"code": "g", "row": 2, "col": 2}], active_cells=active)
    assert mesh.shape == (2, 3)
    np.testing.assert_array_equal(mesh.active, active[1:3, :3])


@pytest.mark.smash
@pytest.mark.parametrize("dataset", ["Cance"])
def test_snapping_on_the_smash_mesh_window(dataset):
    # (Lez cannot be done on its mesh window: the raw cell of its outlet Y3204040 lies one row south of
    # the window, the reference snapped it back into it from the full raster; see the next test.)
    smash = pytest.importorskip("smash")
    _, ref = smash.factory.load_dataset(dataset)
    attrs = pd.read_csv(os.path.join(smash_dataset_dir(), dataset, "gauge_attributes.csv"))
    transform = Affine(ref["xres"], 0.0, ref["xmin"], 0.0, -ref["yres"], ref["ymax"])
    mesh = skhydro.Mesh.from_flow_directions(ref["flwdir"], gauges=attrs, transform=transform)
    np.testing.assert_array_equal(mesh.gauges[["row", "col"]].to_numpy(), ref["gauge_pos"])
    np.testing.assert_array_equal(mesh.active, ref["active_cell"] == 1)
    np.testing.assert_allclose(mesh.gauges["area_dln"].to_numpy(), ref["area_dln"] / 1e6, rtol=1e-6)
    np.testing.assert_allclose(mesh.gauges["area"].to_numpy(), attrs["area"].to_numpy())


@pytest.mark.smash
def test_snapping_off_the_window_is_an_error():
    smash = pytest.importorskip("smash")
    _, ref = smash.factory.load_dataset("Lez")
    attrs = pd.read_csv(os.path.join(smash_dataset_dir(), "Lez", "gauge_attributes.csv"))
    transform = Affine(ref["xres"], 0.0, ref["xmin"], 0.0, -ref["yres"], ref["ymax"])
    with pytest.raises(ValueError, match="Y3204040.*off the grid"):
        skhydro.Mesh.from_flow_directions(ref["flwdir"], gauges=attrs, transform=transform)


@pytest.mark.smash
@pytest.mark.parametrize("dataset", ["Cance", "Lez"])
def test_from_geotiff_reproduces_smash_mesh(dataset):
    smash = pytest.importorskip("smash")
    _, ref = smash.factory.load_dataset(dataset)
    base = smash_dataset_dir()
    attrs = pd.read_csv(os.path.join(base, dataset, "gauge_attributes.csv"), dtype={"code": str})
    gauges = attrs.to_dict("records")  # code, x, y, area (km²)
    mesh = skhydro.Mesh.from_geotiff(os.path.join(base, "France_flwdir.tif"), gauges=gauges)
    assert mesh.shape == (ref["nrow"], ref["ncol"])
    assert mesh.transform.c == pytest.approx(ref["xmin"]) and mesh.transform.f == pytest.approx(ref["ymax"])
    assert mesh.transform.a == pytest.approx(ref["xres"]) and -mesh.transform.e == pytest.approx(ref["yres"])
    assert mesh.crs is not None and mesh.crs.to_epsg() == ref["epsg"]
    np.testing.assert_array_equal(mesh.active, ref["active_cell"] == 1)
    assert mesh.n_active == ref["nac"]
    assert mesh.gauge_codes == [c.decode() if isinstance(c, bytes) else str(c) for c in ref["code"]]
    np.testing.assert_array_equal(mesh.gauges[["row", "col"]].to_numpy(), ref["gauge_pos"])
    np.testing.assert_allclose(mesh.gauges["area_dln"].to_numpy(), ref["area_dln"] / 1e6, rtol=1e-6)
    np.testing.assert_allclose(mesh.gauges["area"].to_numpy(), ref["area"] / 1e6, rtol=1e-6)
    np.testing.assert_allclose(mesh.flwacc, ref["flwacc"], rtol=1e-6)
    np.testing.assert_array_equal(mesh.partition, ref["flwpar"])
    np.testing.assert_array_equal(mesh.flwdir[mesh.active], ref["flwdir"][ref["active_cell"] == 1])
    np.testing.assert_allclose(mesh.dx, ref["dx"])
    np.testing.assert_allclose(mesh.dy, ref["dy"])


# --------------------------------------------------------------------------------------------------
# equality with the smash meshes
# --------------------------------------------------------------------------------------------------
@pytest.mark.smash
@pytest.mark.parametrize("dataset", ["Cance", "Lez"])
def test_matches_smash_mesh(reference_case, dataset):
    case = reference_case(dataset, "lr")
    m, mesh = case.model.mesh, case.mesh
    np.testing.assert_array_equal(mesh.active, np.array(m.active_cell) == 1)
    assert mesh.n_active == m.nac
    np.testing.assert_array_equal(mesh.flwacc, np.array(m.flwacc))
    np.testing.assert_array_equal(mesh.partition, np.array(m.flwpar))
    assert mesh.partition.max() == m.npar
    # the reference's routing order (cpar_to_rowcol, all cells by partition) restricted to active cells
    cpar = np.array(m.cpar_to_rowcol)
    act = np.array(m.active_cell)[cpar[:, 0], cpar[:, 1]] == 1
    np.testing.assert_array_equal(np.c_[mesh.cell_rows, mesh.cell_cols], cpar[act])
    check_routing_order(mesh)
    check_upstream_lists(mesh)


@pytest.mark.smash
def test_cance_partition_sizes(reference_case):
    mesh = reference_case("Cance", "lr").mesh
    np.testing.assert_array_equal(np.diff(mesh.level_ptr)[:6], [194, 69, 35, 19, 12, 7])  # spec §9
    assert mesh.n_levels == 31


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [9, 2.5, 10, np.inf])
def test_invalid_codes(bad):
    flwdir = EXAMPLE.astype(float)
    flwdir[0, 0] = bad
    with pytest.raises(ValueError, match="D8 codes 1..8"):
        skhydro.Mesh.from_flow_directions(flwdir, dx=1.0)


def test_no_direction_values_accepted():
    flwdir = EXAMPLE.astype(float)
    flwdir[0, 0], flwdir[1, 0], flwdir[2, 0] = np.nan, -9999.0, 0.0
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, gauges=[{"code": "o", "row": 2, "col": 2}])
    np.testing.assert_array_equal(mesh.flwdir[:, 0], 0)
    assert mesh.n_active == 6


@pytest.mark.parametrize("shape", [(9,), (1, 3, 3), (0, 3), ()])
def test_not_two_dimensional(shape):
    with pytest.raises(ValueError, match="2-D"):
        skhydro.Mesh.from_flow_directions(np.ones(shape), dx=1.0)


@pytest.mark.parametrize("flwdir", [
    np.array([[3, 7]]),                  # two cells draining into each other
    np.array([[3, 6], [1, 7]]),          # 3-cell loop (0,0) -> (0,1) -> (1,0) -> (0,0), (1,1) drains into it
    np.array([[3, 5], [1, 7]]),          # 4-cell loop
], ids=["pair", "3-loop", "4-loop"])
def test_cyclic_flow(flwdir):
    with pytest.raises(ValueError, match="cyclic"):
        skhydro.Mesh.from_flow_directions(flwdir, dx=1.0)
    with pytest.raises(ValueError, match="cyclic"):
        skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, active_cells=np.ones(flwdir.shape, bool))


def test_gauge_on_a_cycle():
    with pytest.raises(ValueError, match="cyclic"):
        skhydro.Mesh.from_flow_directions(np.array([[3, 6], [1, 7]]), dx=1.0,
                                          gauges=[{"code": "g", "row": 0, "col": 0}])


def test_flow_leaving_from_a_non_gauge_cell():
    flwdir = np.array([[3, 3, 3]])  # everything flows east, off the grid
    with pytest.raises(ValueError, match="flow leaves the active domain"):
        skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, gauges=[{"code": "g", "row": 0, "col": 1}],
                                          active_cells=np.ones((1, 3), bool))
    # flow into an inactive cell, or from a cell without direction
    with pytest.raises(ValueError, match="flow leaves the active domain"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": 2, "col": 2}],
                                          active_cells=np.array([[1, 1, 0], [1, 1, 1], [1, 1, 1]], bool))
    with pytest.raises(ValueError, match="flow leaves the active domain"):
        skhydro.Mesh.from_flow_directions(np.array([[3, 0, 5], [3, 3, 0]]), dx=1.0,
                                          gauges=[{"code": "g", "row": 1, "col": 2}],
                                          active_cells=np.ones((2, 3), bool))
    # leaving the grid at the gauge is fine
    mesh = skhydro.Mesh.from_flow_directions(flwdir, dx=1.0, gauges=[{"code": "g", "row": 0, "col": 2}],
                                             active_cells=np.ones((1, 3), bool))
    assert mesh.n_active == 3


@pytest.mark.parametrize("row, col", [(3, 0), (0, 3), (-1, 0), (0, -1)])
def test_gauge_row_col_off_grid(row, col):
    with pytest.raises(ValueError, match="off the"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": row, "col": col}])


def test_gauge_row_col_not_integer():
    with pytest.raises(ValueError, match="integer"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": 1.5, "col": 2}])


@pytest.mark.parametrize("x, y", [(-1.0, 1500.0), (3000.0, 1500.0), (1500.0, 3000.5), (1500.0, -0.1)])
def test_gauge_xy_off_grid(x, y):
    transform = Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 3000.0)
    with pytest.raises(ValueError, match="off the grid"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform,
                                          gauges=[{"code": "g", "x": x, "y": y, "area": 3.0}])


def test_gauge_area_not_matched():
    transform = Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 3000.0)
    gauge = {"code": "g", "x": 500.0, "y": 2500.0, "area": 50.0}  # nearby cells drain 1-2 km²
    with pytest.raises(ValueError, match="no cell near"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform, gauges=[gauge])
    with pytest.raises(ValueError, match="no cell near"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform, gauges=[gauge], area_tolerance=0.9)
    # without a tolerance, the best cell is taken
    mesh = skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform, gauges=[gauge], area_tolerance=None)
    assert mesh.gauges.loc["g", "area_dln"] == pytest.approx(2.0)


def test_gauge_bad_area():
    transform = Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 3000.0)
    for area in (0.0, -3.0, np.nan):
        with pytest.raises(ValueError, match="area"):
            skhydro.Mesh.from_flow_directions(EXAMPLE, transform=transform,
                                              gauges=[{"code": "g", "x": 500.0, "y": 2500.0, "area": area}])


def test_inactive_gauge():
    active = np.zeros((3, 3), bool)
    active[2] = True  # the last row drains east to (2, 2)
    mesh = skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": 2, "col": 2}],
                                             active_cells=active)
    assert mesh.n_active == 3
    with pytest.raises(ValueError, match="not an active cell"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": 2, "col": 2},
                                                                   {"code": "h", "row": 0, "col": 1}],
                                          active_cells=active)


def test_duplicate_gauge_codes():
    with pytest.raises(ValueError, match="unique"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"code": "g", "row": 2, "col": 2},
                                                                   {"code": "g", "row": 1, "col": 2}])


def test_gauge_xy_without_transform():
    with pytest.raises(ValueError, match="transform"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1000.0, gauges=[{"code": "g", "x": 1.0, "y": 1.0,
                                                                       "area": 1.0}])


def test_gauge_incomplete_record():
    with pytest.raises(ValueError, match="missing"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, transform=Affine(1, 0, 0, 0, -1, 3),
                                          gauges=[{"code": "g", "x": 1.0, "y": 1.0}])
    with pytest.raises(ValueError, match="code"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, gauges=[{"row": 1, "col": 1}])


@pytest.mark.parametrize("dx", [np.ones((3, 2)), np.ones(3), np.ones((3, 3, 1))])
def test_bad_dx_shape(dx):
    with pytest.raises(ValueError, match="dx must be a scalar or a"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=dx)
    with pytest.raises(ValueError, match="dy must be a scalar or a"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, dy=dx)


@pytest.mark.parametrize("dx", [0.0, -1000.0, np.nan, np.inf, np.array([[1.0, 1, 1], [1, 0, 1], [1, 1, 1]])])
def test_non_positive_dx(dx):
    with pytest.raises(ValueError, match="finite and positive"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=dx)


def test_missing_cell_size():
    with pytest.raises(ValueError, match="cell size"):
        skhydro.Mesh.from_flow_directions(EXAMPLE)


def test_active_cells_shape():
    with pytest.raises(ValueError, match="active_cells must have the grid shape"):
        skhydro.Mesh.from_flow_directions(EXAMPLE, dx=1.0, active_cells=np.ones((2, 3), bool))


def test_no_active_cell():
    with pytest.raises(ValueError, match="no active cell"):
        skhydro.Mesh.from_flow_directions(np.zeros((2, 2)), dx=1.0)
