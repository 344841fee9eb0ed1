import pytest
import torch
from hypothesis import given, settings, strategies as st

from specbias_ext.grids import grid_coords, grid_size


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


@pytest.mark.parametrize("shape", [(1,), (0,), (5, 1), (2, 3, 4), (), "ab", (2.5,)])
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
