"""The coordinate convention of the project: regular 1D and 2D grids on a half-open range.

1D shape ``(N,)``: ``c_n = lo + (hi - lo) * n / N`` for n = 0..N-1 (so ``hi`` is never reached).
2D shape ``(H, W)``: points in row-major order; column 0 is the row coordinate
``lo + (hi - lo) * r / H`` and column 1 the column coordinate ``lo + (hi - lo) * c / W``.
The paper's raw encodings ([0,1), [-1,1), [-2,2), [-3,3)) are a grid range plus RawEncoding.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence, Union

import torch

Tensor = torch.Tensor
Shape = Union[int, Sequence[int]]


def normalize_shape(shape: Shape, name: str = "shape") -> tuple[int, ...]:
    """Validate a 1D or 2D grid shape (every size >= 2) and return it as a tuple of ints."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{name}: expected an int or a tuple of 1 or 2 ints, got {shape!r}") from None
    if len(dims) not in (1, 2):
        raise ValueError(f"{name}: expected a 1D (N,) or 2D (H, W) grid shape, got {dims!r}")
    out = []
    for d in dims:
        try:
            if isinstance(d, bool):
                raise TypeError
            d = operator.index(d)
        except TypeError:
            raise ValueError(f"{name}: grid sizes must be ints, got {dims!r}") from None
        if d < 2:
            raise ValueError(f"{name}: every grid size must be >= 2, got {dims!r}")
        out.append(d)
    return tuple(out)


def check_range(coord_range: Sequence[float], name: str = "coord_range") -> tuple[float, float]:
    """Validate ``(lo, hi)`` with finite lo < hi."""
    try:
        lo, hi = (float(v) for v in coord_range)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected (lo, hi), got {coord_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ValueError(f"{name}: expected finite lo < hi, got ({lo}, {hi})")
    return lo, hi


def axis_coords(size: int, coord_range=(0.0, 1.0), dtype=torch.float64, device="cpu") -> Tensor:
    """The 1D axis ``lo + (hi - lo) * n / size``, n = 0..size-1, computed in float64 then cast."""
    lo, hi = check_range(coord_range)
    n = torch.arange(size, dtype=torch.float64, device=device)
    return (lo + (hi - lo) * n / size).to(dtype)


def grid_coords(shape: Shape, coord_range=(0.0, 1.0), dtype=torch.float32,
                device="cpu") -> Tensor:
    """Coordinates ``[prod(shape), len(shape)]`` of a 1D or 2D grid (see the module docstring)."""
    dims = normalize_shape(shape)
    check_range(coord_range)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype: expected a floating dtype, got {dtype!r}")
    axes = [axis_coords(d, coord_range, torch.float64, device) for d in dims]
    if len(dims) == 1:
        coords = axes[0].unsqueeze(1)
    else:
        rows, cols = torch.meshgrid(axes[0], axes[1], indexing="ij")
        coords = torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1)
    return coords.to(dtype).contiguous()


def grid_size(shape: Shape) -> int:
    """Number of points of a grid shape."""
    return math.prod(normalize_shape(shape))
