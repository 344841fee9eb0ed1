"""The coordinate convention of the project: regular 1D, 2D and 3D grids on a half-open range,
and planar 2D slices through a coordinate space of any dimension.

Axis of size S over ``[lo, hi)``: the point of index n is ``lo + (hi - lo) * n / S`` for
n = 0..S-1 (so ``hi`` is never reached). A grid of shape ``(S_0, ..., S_{D-1})`` (D = 1, 2 or 3)
lists its points in row-major order (the last axis fastest); column d of the coordinates is the
axis-d coordinate. So a 2D shape ``(H, W)`` has the row coordinate in column 0 and the column
coordinate in column 1. The paper's raw encodings ([0,1), [-1,1), [-2,2), [-3,3)) are a grid
range plus RawEncoding.

A plane slice with origin ``o`` and direction vectors ``u``, ``v`` (each of the space's dimension
D) sampled as ``H x W`` has the point ``o + u * r / H + v * c / W`` at row r, column c, in
row-major order: the half-open parallelogram spanned by u and v from o. With ``u`` and ``v``
along two grid axes (length ``hi - lo``) and ``o`` on the grid, its points are exactly (bit for
bit, in float64) the points of that grid's 2D cross-section.

``grid_coords`` and ``plane_coords`` take an optional ``[start, stop)`` range of point indices,
so a grid too large for memory can be walked in tiles with the same coordinates, bit for bit,
as the whole grid would have.
"""
from __future__ import annotations

import math
import operator
from typing import Sequence, Union

import torch

Tensor = torch.Tensor
Shape = Union[int, Sequence[int]]


MAX_DIMS = 3
MAX_POINTS = 2 ** 62  # int64 point indices with room for index arithmetic


def normalize_shape(shape: Shape, name: str = "shape", min_size: int = 2) -> tuple[int, ...]:
    """Validate a 1D, 2D or 3D grid shape (every size an int >= ``min_size``, the number of
    points below 2**62) and return it as a tuple of ints."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes)):
        raise ValueError(f"{name}: expected an int or a tuple of 1 to 3 ints, got {shape!r}")
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{name}: expected an int or a tuple of 1 to 3 ints, got {shape!r}") from None
    if not 1 <= len(dims) <= MAX_DIMS:
        raise ValueError(f"{name}: expected a 1D (N,), 2D (H, W) or 3D (D, H, W) grid shape, "
                         f"got {dims!r}")
    out = []
    for d in dims:
        try:
            if isinstance(d, bool):
                raise TypeError
            d = operator.index(d)
        except TypeError:
            raise ValueError(f"{name}: grid sizes must be ints, got {dims!r}") from None
        if d < min_size:
            raise ValueError(f"{name}: every grid size must be >= {min_size}, got {dims!r}")
        out.append(d)
    if math.prod(out) >= MAX_POINTS:
        raise ValueError(f"{name}: {dims!r} has {math.prod(out)} points, more than an int64 "
                         f"index allows (2**62)")
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


def _check_dtype(dtype) -> None:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype: expected a floating dtype, got {dtype!r}")


def point_range(total: int, start, stop) -> tuple[int, int]:
    """Validate a ``[start, stop)`` range of point indices of a grid of ``total`` points
    (None: the whole grid) and return it as ints."""
    start = 0 if start is None else start
    stop = total if stop is None else stop
    for name, v in (("start", start), ("stop", stop)):
        if isinstance(v, bool) or not isinstance(v, int):
            try:
                operator.index(v)
            except TypeError:
                raise ValueError(f"{name}: expected an int point index, got {v!r}") from None
    start, stop = operator.index(start), operator.index(stop)
    if not 0 <= start <= stop <= total:
        raise ValueError(f"start, stop: expected 0 <= start <= stop <= {total} (the number of "
                         f"grid points), got ({start}, {stop})")
    return start, stop


def grid_indices(shape: Shape, start=None, stop=None, device="cpu") -> Tensor:
    """``int64 [stop - start, D]``: the per-axis indices of points start..stop-1 (row-major)."""
    dims = normalize_shape(shape)
    start, stop = point_range(math.prod(dims), start, stop)
    flat = torch.arange(start, stop, dtype=torch.int64, device=device)
    cols = []
    for d in reversed(dims):
        cols.append(flat % d)
        flat = flat // d
    return torch.stack(cols[::-1], dim=1)


def grid_coords(shape: Shape, coord_range=(0.0, 1.0), dtype=torch.float32,
                device="cpu", start=None, stop=None) -> Tensor:
    """Coordinates ``[prod(shape), len(shape)]`` of a 1D, 2D or 3D grid (module docstring).

    With ``start``/``stop``, only the points start..stop-1 of the row-major order, identical to
    the same rows of the whole grid.
    """
    dims = normalize_shape(shape)
    lo, hi = check_range(coord_range)
    _check_dtype(dtype)
    idx = grid_indices(dims, start, stop, device).to(torch.float64)
    sizes = torch.tensor(dims, dtype=torch.float64, device=device)
    return (lo + (hi - lo) * idx / sizes).to(dtype).contiguous()


def _vector(v, name: str) -> Tensor:
    try:
        t = torch.as_tensor(v, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name}: expected a vector of floats, got {v!r}") from None
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name}: expected a 1D vector of coordinates, got shape {list(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: expected finite values, got {t.tolist()}")
    return t


def check_plane(origin, u, v) -> tuple[Tensor, Tensor, Tensor]:
    """Validate a plane (origin, u, v): float64 vectors of one dimension, u and v not parallel."""
    o, a, b = _vector(origin, "origin"), _vector(u, "u"), _vector(v, "v")
    for name, t in (("u", a), ("v", b)):
        if t.numel() != o.numel():
            raise ValueError(f"{name}: expected {o.numel()} components (the dimension of origin), "
                             f"got {t.numel()}")
    cross = (a.dot(a) * b.dot(b) - a.dot(b) ** 2).item()
    if not cross > 1e-24 * (a.dot(a) * b.dot(b)).item() or a.dot(a).item() == 0:
        raise ValueError("u, v: expected two non-parallel, non-zero direction vectors")
    return o, a, b


def plane_coords(origin, u, v, shape: Sequence[int], dtype=torch.float32, device="cpu",
                 start=None, stop=None) -> Tensor:
    """Coordinates ``[H * W, D]`` of the plane slice ``o + u * r / H + v * c / W`` (r < H, c < W,
    row-major; module docstring), or only its points start..stop-1."""
    dims = normalize_shape(shape)
    if len(dims) != 2:
        raise ValueError(f"shape: expected a 2D (H, W) slice shape, got {dims!r}")
    o, a, b = check_plane(origin, u, v)
    _check_dtype(dtype)
    idx = grid_indices(dims, start, stop, device).to(torch.float64)
    o, a, b = (t.to(device) for t in (o, a, b))
    pts = o + (a * idx[:, :1]) / dims[0] + (b * idx[:, 1:]) / dims[1]
    return pts.to(dtype).contiguous()


def grid_size(shape: Shape) -> int:
    """Number of points of a grid shape."""
    return math.prod(normalize_shape(shape))


class CoordinateGrid:
    """A regular grid ``shape`` on ``[lo, hi)`` per axis, as a source of coordinate tiles."""

    def __init__(self, shape: Shape, coord_range=(0.0, 1.0)):
        self.shape = normalize_shape(shape)
        self.coord_range = check_range(coord_range)

    @property
    def num_points(self) -> int:
        return math.prod(self.shape)

    @property
    def dim(self) -> int:
        return len(self.shape)

    def coords(self, start=None, stop=None, dtype=torch.float32, device="cpu") -> Tensor:
        return grid_coords(self.shape, self.coord_range, dtype, device, start, stop)

    @property
    def step(self) -> float:
        """The grid step: the distance between neighbours, ``(hi - lo) / S`` along an axis of S
        points; the smallest over the axes when they differ."""
        lo, hi = self.coord_range
        return (hi - lo) / max(self.shape)

    def describe(self) -> dict:
        return {"kind": "grid", "shape": list(self.shape), "coord_range": list(self.coord_range)}


class PlaneSlice:
    """An ``H x W`` plane slice ``o + u * r / H + v * c / W`` through a D-dimensional space."""

    def __init__(self, origin, u, v, shape: Sequence[int]):
        self.origin, self.u, self.v = check_plane(origin, u, v)
        self.shape = normalize_shape(shape)
        if len(self.shape) != 2:
            raise ValueError(f"shape: expected a 2D (H, W) slice shape, got {self.shape!r}")

    @property
    def num_points(self) -> int:
        return math.prod(self.shape)

    @property
    def dim(self) -> int:
        return int(self.origin.numel())

    def coords(self, start=None, stop=None, dtype=torch.float32, device="cpu") -> Tensor:
        return plane_coords(self.origin, self.u, self.v, self.shape, dtype, device, start, stop)

    @property
    def step(self) -> float:
        """The grid step: the distance between neighbours, ``||u|| / H`` down the rows and
        ``||v|| / W`` along them; the smaller of the two."""
        return min(float(self.u.norm()) / self.shape[0], float(self.v.norm()) / self.shape[1])

    def describe(self) -> dict:
        return {"kind": "plane", "shape": list(self.shape), "origin": self.origin.tolist(),
                "u": self.u.tolist(), "v": self.v.tolist()}
