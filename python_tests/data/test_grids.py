import pytest
import torch
from hypothesis import given, settings, strategies as st

import math

from specbias_ext.data.grids import CoordinateGrid, PlaneSlice, grid_coords, grid_size, plane_coords


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 500), lo=st.floats(-5, 5), width=st.floats(0.1, 10))
def test_1d_grid_follows_the_convention(n, lo, width):
    hi = lo + width
    c = grid_coords((n,), (lo, hi), dtype=torch.float64)
    assert c.shape == (n, 1)
    expected = torch.tensor([lo + (hi - lo) * k / n for k in range(n)], dtype=torch.float64)
    torch.testing.assert_close(c[:, 0], expected)
    assert c[-1, 0] < hi


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 40), w=st.integers(2, 40))
def test_2d_grid_is_row_major(h, w):
    c = grid_coords((h, w), (-1.0, 1.0), dtype=torch.float64)
    assert c.shape == (h * w, 2)
    for r, col in [(0, 0), (h - 1, 0), (0, w - 1), (h - 1, w - 1), (h // 2, w // 3)]:
        p = c[r * w + col]
        assert p[0].item() == pytest.approx(-1 + 2 * r / h)
        assert p[1].item() == pytest.approx(-1 + 2 * col / w)


def test_int_shape_dtype_and_size():
    assert grid_coords(8).shape == (8, 1)
    assert grid_coords((4, 5)).dtype == torch.float32
    assert grid_size((4, 5)) == 20


@pytest.mark.parametrize("shape", [(1,), (0,), (5, 1), (2, 3, 4, 5), (), "ab", (2.5,)])
def test_bad_shapes_are_errors(shape):
    with pytest.raises(ValueError, match="shape"):
        grid_coords(shape)


@pytest.mark.parametrize("rng", [(1.0, 1.0), (2.0, 1.0), (0.0, float("nan")), (0.0,)])
def test_bad_ranges_are_errors(rng):
    with pytest.raises(ValueError, match="coord_range"):
        grid_coords((4,), rng)


def test_integer_dtype_is_an_error():
    with pytest.raises(ValueError, match="dtype"):
        grid_coords((4,), dtype=torch.int64)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(2, 9), h=st.integers(2, 9), w=st.integers(2, 9))
def test_3d_grid_is_row_major(d, h, w):
    c = grid_coords((d, h, w), (-2.0, 2.0), dtype=torch.float64)
    assert c.shape == (d * h * w, 3)
    k = 0
    for i in range(d):
        for j in range(h):
            for l in range(w):
                assert c[k].tolist() == [-2 + 4 * i / d, -2 + 4 * j / h, -2 + 4 * l / w]
                k += 1


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(2, 30), min_size=1, max_size=3), data=st.data())
def test_point_ranges_match_the_whole_grid_bitwise(shape, data):
    n = math.prod(shape)
    start = data.draw(st.integers(0, n))
    stop = data.draw(st.integers(start, n))
    whole = grid_coords(shape, (-1.0, 3.0), dtype=torch.float32)
    part = grid_coords(shape, (-1.0, 3.0), dtype=torch.float32, start=start, stop=stop)
    assert torch.equal(part, whole[start:stop])


def test_plane_through_a_3d_grid_is_its_cross_section():
    shape, lo, hi = (6, 7, 5), -1.0, 1.0
    grid = grid_coords(shape, (lo, hi), dtype=torch.float64).reshape(*shape, 3)
    for k in range(shape[0]):
        origin = [lo + (hi - lo) * k / shape[0], lo, lo]
        plane = plane_coords(origin, [0, hi - lo, 0], [0, 0, hi - lo], (7, 5),
                             dtype=torch.float64)
        assert torch.equal(plane, grid[k].reshape(-1, 3))


def test_oblique_plane_points_and_tiles():
    o, u, v = [0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 0.0, 0.5], [0.0, -2.0, 1.0, 0.0]
    h, w = 4, 6
    c = plane_coords(o, u, v, (h, w), dtype=torch.float64)
    assert c.shape == (h * w, 4)
    for r in range(h):
        for col in range(w):
            want = [o[d] + u[d] * r / h + v[d] * col / w for d in range(4)]
            torch.testing.assert_close(c[r * w + col], torch.tensor(want, dtype=torch.float64))
    assert torch.equal(plane_coords(o, u, v, (h, w), start=5, stop=17),
                       plane_coords(o, u, v, (h, w))[5:17])
    sl = PlaneSlice(o, u, v, (h, w))
    assert sl.dim == 4 and sl.num_points == 24 and torch.equal(sl.coords(), c.float())


@pytest.mark.parametrize("args,match", [
    (([0, 0], [1, 0], [2, 0]), "u, v: expected two non-parallel"),
    (([0, 0], [0, 0], [0, 1]), "u, v: expected two non-parallel"),
    (([0, 0, 0], [1, 0], [0, 1]), "u: expected 3 components"),
    (([0, 0], [1, 0], [0, float("nan")]), "v: expected finite"),
    (([[0, 0]], [1, 0], [0, 1]), "origin: expected a 1D vector"),
])
def test_bad_planes_are_errors(args, match):
    with pytest.raises(ValueError, match=match):
        plane_coords(*args, (4, 4))


def test_bad_plane_shape_and_ranges():
    with pytest.raises(ValueError, match="shape: expected a 2D"):
        plane_coords([0, 0, 0], [1, 0, 0], [0, 1, 0], (4, 4, 4))
    with pytest.raises(ValueError, match="start, stop"):
        grid_coords((4, 4), start=3, stop=17)
    with pytest.raises(ValueError, match="start"):
        grid_coords((4, 4), start=1.5)


@pytest.mark.parametrize("shape", [(2**31, 2**31, 2), (2, 3, 4, 5), (4, 2.0, 3), (True, 3)])
def test_bad_3d_shapes_name_the_argument(shape):
    with pytest.raises(ValueError, match="shape"):
        grid_coords(shape)
    with pytest.raises(ValueError, match="shape"):
        CoordinateGrid(shape)
