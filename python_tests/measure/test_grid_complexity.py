"""The grid path of the sampled local complexity (measure.grid_complexity): on grids whose hull
vertices are grid points it gives the counts of the hull method (equal in float64, within the
neurons on their boundary in float32) for random networks of every kind, raw / PE / RFF and
module encodings, 1D-3D grids, per-axis steps, the centre, ranges of points and small chunks;
it is taken exactly when the grid gives the hull, and otherwise the hull method runs."""
import dataclasses

import pytest
import torch
from hypothesis import given, settings, strategies as st

from complexity_cases import check_counts_near
from specbias_ext import measure, reference
from specbias_ext.data.grids import CoordinateGrid, PlaneSlice
from specbias_ext.measure import grid_complexity as grid_lc
from specbias_ext.measure.grid_complexity import GridAxes, hull_steps
from specbias_ext.ops.hull import hull_directions, hull_vertices
from specbias_ext.testing import make_form, random_network
from specbias_ext.testing.strategies import network_kinds

pytestmark = pytest.mark.usefixtures("one_thread")


@st.composite
def grid_cases(draw):
    dims = draw(st.integers(1, 3))
    base = draw(st.integers(3, {1: 40, 2: 12, 3: 5}[dims]))
    return dict(dims=dims, base=base, factors=[draw(st.sampled_from([1, 2])) for _ in range(dims)],
                multiple=draw(st.integers(1, 2)), kind=draw(network_kinds()),
                encoding=draw(st.sampled_from(["raw", "pe", "rff"])),
                coord_range=draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-0.3, 2.2)])),
                dtype=draw(st.sampled_from([torch.float32, torch.float64])),
                include_centre=draw(st.booleans()), seed=draw(st.integers(0, 2**20)))


def setup(case):
    """(grid, radius, form, net): radius = multiple steps of the coarsest axis, a whole number
    of steps on every axis (the axes have base * factor points)."""
    dtype, dims = case["dtype"], case["dims"]
    shape = [case["base"] * f for f in case["factors"]]
    grid = CoordinateGrid(shape, case["coord_range"])
    lo, hi = case["coord_range"]
    radius = case["multiple"] * (hi - lo) / case["base"]
    form = make_form(case["encoding"], dims, dtype, case["seed"])
    net = random_network(form[0].shape[0], **case["kind"], dtype=dtype, seed=case["seed"])
    # Steep first layer: boundaries cross the grid, so counts are not all zero.
    net = dataclasses.replace(net, weights=(net.weights[0] * 6,) + tuple(net.weights[1:]))
    return grid, radius, form, net


@settings(max_examples=40, deadline=None)
@given(grid_cases())
def test_grid_path_equals_hull_method(case):
    grid, radius, form, net = setup(case)
    dtype, centre = case["dtype"], case["include_centre"]
    coords = grid.coords(dtype=dtype)
    axes = GridAxes.of_coords(coords, grid.shape)
    assert hull_steps(axes, radius) == [case["multiple"] * f for f in case["factors"]]
    got = measure.local_complexity(coords, form, net, radius, include_centre=centre,
                                   grid_shape=grid.shape)
    assert got.settings() == measure.local_complexity(coords[:0], form, net, radius,
                                                      include_centre=centre).settings()
    directions = hull_directions(case["dims"], dtype=dtype)
    if dtype == torch.float64:
        expect = reference.local_complexity(coords, *form, directions, radius, centre, net)
        assert torch.equal(got.counts, expect)
    corners = hull_vertices(coords, directions, radius, centre)
    check_counts_near(got.counts, corners, form, net, dtype)


@settings(max_examples=15, deadline=None)
@given(grid_cases(), st.data())
def test_ranges_and_chunks_equal_the_whole_grid(case, data):
    """A range of points (the analysis' tiles) and a grid cut into small chunks give the rows of
    the whole grid, the points next to the range's ends included."""
    grid, radius, form, net = setup(case)
    dtype = case["dtype"]
    whole = measure.local_complexity_of_grid(grid, form, net, radius, dtype=dtype,
                                             include_centre=case["include_centre"]).counts
    n = grid.num_points
    start = data.draw(st.integers(0, n))
    stop = data.draw(st.integers(start, n))
    part = measure.local_complexity_of_grid(grid, form, net, radius, start=start, stop=stop,
                                            dtype=dtype, include_centre=case["include_centre"])
    assert torch.equal(part.counts, whole[start:stop])
    axes = GridAxes.of_grid(grid, dtype)
    steps = hull_steps(axes, radius)
    saved = grid_lc.CHUNK_POINTS
    try:
        grid_lc.CHUNK_POINTS = data.draw(st.integers(1, 50))
        chunked = grid_lc.grid_local_complexity(axes, steps, radius, form, net,
                                                include_centre=case["include_centre"])
    finally:
        grid_lc.CHUNK_POINTS = saved
    assert torch.equal(chunked, whole)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_module_encoding_on_a_grid(dtype):
    """Any encoding module: the grid's points are encoded by it, as the hull's vertices are."""
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(2, 9), torch.nn.Tanh()).to(dtype)
    net = random_network(9, [40, 33], dtype=dtype, seed=4)
    net = dataclasses.replace(net, weights=(net.weights[0] * 8,) + tuple(net.weights[1:]))
    grid = CoordinateGrid((24, 24), (-1.0, 1.0))
    coords = grid.coords(dtype=dtype)
    got = measure.local_complexity(coords, encoder, net, grid.step, grid_shape=grid.shape)
    hull = measure.local_complexity(coords, encoder, net, grid.step)
    assert got.total.sum() > 0
    # float32: only neurons on their boundary at some vertex may count differently.
    differ = (got.counts != hull.counts).any(1).float().mean()
    assert differ == 0 if dtype == torch.float64 else differ < 0.01


def test_grids_that_do_not_give_the_hull():
    grid = CoordinateGrid((16, 16), (0.0, 1.0))
    axes = GridAxes.of_grid(grid, torch.float32)
    step = grid.step
    assert hull_steps(axes, step) == [1, 1]
    assert hull_steps(axes, 3 * step) == [3, 3]
    assert hull_steps(axes, 1.5 * step) is None          # not a whole number of steps
    assert hull_steps(axes, step, num_directions=1) is None   # random directions
    assert hull_steps(axes, 16 * step) is None           # no point that many steps away
    assert hull_steps(axes, 1e308) is None               # radius / step overflows to inf
    assert hull_steps(axes, 0.0) is None
    assert hull_steps(GridAxes.of_grid(CoordinateGrid((16, 8)), torch.float32), step) is None
    uneven = grid.coords()
    uneven[uneven[:, 0] == uneven[5, 0], 0] += 1e-4     # one row moved: an uneven axis
    assert hull_steps(GridAxes.of_coords(uneven, grid.shape), step) is None
    sheared = grid.coords()
    sheared[:, 1] += 0.01 * sheared[:, 0]                # not a product of two axes
    assert GridAxes.of_coords(sheared, grid.shape) is None
    assert GridAxes.of_coords(grid.coords(), (16, 8, 2)) is None
    plane = PlaneSlice((0.0, 0.0, 0.5), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (8, 8))
    assert GridAxes.of_grid(plane) is None


def test_fallback_gives_the_hull_method():
    """Where the grid does not give the hull (random directions, a radius between steps, a
    plane slice) the counts are the hull method's."""
    form = make_form("pe", 2, torch.float64)
    net = random_network(form[0].shape[0], [30, 20], seed=1)
    grid = CoordinateGrid((12, 12), (-1.0, 1.0))
    coords = grid.coords(dtype=torch.float64)
    for kw in (dict(radius=1.5 * grid.step), dict(radius=grid.step, num_directions=1)):
        got = measure.local_complexity(coords, form, net, grid_shape=grid.shape, **kw)
        assert torch.equal(got.counts, measure.local_complexity(coords, form, net, **kw).counts)
    net3 = random_network(make_form("pe", 3)[0].shape[0], [30], seed=2)
    plane = PlaneSlice((0.0, 0.0, 0.5), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (8, 8))
    got = measure.local_complexity_of_grid(plane, make_form("pe", 3), net3, 0.125,
                                           dtype=torch.float64, start=3, stop=40)
    expect = measure.local_complexity(plane.coords(3, 40, dtype=torch.float64),
                                      make_form("pe", 3), net3, 0.125)
    assert torch.equal(got.counts, expect.counts)


def test_grid_shape_errors():
    coords = CoordinateGrid((4, 4)).coords()
    net = random_network(2, [5], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"grid_shape: expected one size per coordinate \(2\) "
                                         r"with product the number of points \(16\)"):
        measure.local_complexity(coords, None, net, 0.25, grid_shape=(4, 5))
    with pytest.raises(ValueError, match="grid_shape: expected one size per coordinate"):
        measure.local_complexity(coords, None, net, 0.25, grid_shape=(16,))
