"""Sampled local complexity on a grid, from the patterns of the grid.

With the coordinate axes as hull directions and a radius of a whole number of steps ``m_d``
along every axis, the hull vertices of a grid point ``c +- r e_d`` are grid points themselves
(to the rounding of the coordinates). So instead of one forward per vertex (``2D`` per point),
every grid point goes through the network once, plus a border of ``m_d`` points beyond each
edge for the points near it, and ``ops.complexity.grid_complexity`` combines the rows: the
counts are those of the hull method with the vertices taken from the grid.

``GridAxes`` describes such a grid by its per-axis coordinates; ``hull_steps`` decides whether a
radius is a whole number of steps (the vertices within ``VERTEX_ULPS`` units in the last place of
``c +- r e_d``); ``grid_local_complexity`` counts a range of the grid's points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ..data.grids import CoordinateGrid, axis_coords
from ..nets.encoding_forms import encoding_form, is_affine_sine, precise
from ..nets.network import ReluNetwork
from ..ops import activation_patterns
from ..ops.complexity import grid_complexity

Tensor = torch.Tensor

#: A neighbour ``m`` points away is a hull vertex when it is within this many units in the last
#: place (of the largest coordinate of its axis, in the coordinates' dtype) of ``c +- r e_d``:
#: the rounding of regular grid coordinates, never a different point.
VERTEX_ULPS = 4

#: Grid points whose patterns are held at once (with their border): bounds the memory of a
#: large grid to about 4 MiB of patterns per 1024 hidden neurons.
CHUNK_POINTS = 1 << 15


@dataclass(frozen=True)
class GridAxes:
    """A row-major grid of points ``(a_0[i_0], ..., a_{D-1}[i_{D-1}])`` given by its axes
    ``a_d`` (1-D tensors of one dtype and device)."""

    axes: tuple[Tensor, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(a.numel()) for a in self.axes)

    @property
    def num_points(self) -> int:
        return math.prod(self.shape)

    @staticmethod
    def of_coords(coords: Tensor, grid_shape: Sequence[int]) -> Optional["GridAxes"]:
        """The axes of ``coords [N, D]`` laid out as a row-major grid of ``grid_shape`` (one
        size per coordinate), or None when they are not such a grid (a coordinate that varies
        along another axis than its own)."""
        shape = tuple(int(s) for s in grid_shape)
        if coords.dim() != 2 or len(shape) != coords.shape[1] or \
                math.prod(shape) != coords.shape[0] or coords.shape[0] == 0:
            return None
        grid = coords.reshape(*shape, len(shape))
        axes = []
        for d in range(len(shape)):
            index = [0] * len(shape) + [d]
            index[d] = slice(None)
            axis = grid[tuple(index)]
            view = [1] * len(shape)
            view[d] = shape[d]
            if not bool((grid[..., d] == axis.reshape(view)).all()):
                return None
            axes.append(axis.contiguous())
        return GridAxes(tuple(axes))

    @staticmethod
    def of_grid(grid, dtype=torch.float32, device="cpu") -> Optional["GridAxes"]:
        """The axes of a ``CoordinateGrid`` (the same values as its ``coords``); None for any
        other source of points (a plane slice's axes are not the coordinate axes)."""
        if not isinstance(grid, CoordinateGrid):
            return None
        return GridAxes(tuple(axis_coords(size, grid.coord_range, dtype, device)
                              for size in grid.shape))


def hull_steps(axes: GridAxes, radius: float,
               num_directions: Optional[int] = None) -> Optional[list[int]]:
    """Per axis the whole number of points ``m_d >= 1`` such that the neighbours ``m_d`` points
    away are the hull vertices ``c +- radius e_d``, or None when the grid cannot give the hull:
    random directions (``num_directions`` below D), an axis of one point or shorter than
    ``m_d``, or neighbours further than ``VERTEX_ULPS`` from the vertices (an uneven axis, a
    radius that is not a whole number of steps)."""
    dims = len(axes.axes)
    if num_directions is not None and num_directions < dims:
        return None
    if not (radius > 0 and math.isfinite(radius)):
        return None
    steps = []
    for a in axes.axes:
        if a.numel() < 2 or not a.dtype.is_floating_point:
            return None
        spacing = (float(a[-1]) - float(a[0])) / (a.numel() - 1)
        if not spacing > 0:
            return None
        steps_in_radius = radius / spacing      # inf for a radius near the float maximum
        if not steps_in_radius < a.numel():
            return None
        m = round(steps_in_radius)
        if m < 1 or m >= a.numel():
            return None
        tolerance = VERTEX_ULPS * torch.finfo(a.dtype).eps * float(a.abs().max())
        r = torch.tensor(radius, dtype=a.dtype, device=a.device)
        if float((a[m:] - (a[:-m] + r)).abs().max()) > tolerance or \
                float((a[:-m] - (a[m:] - r)).abs().max()) > tolerance:
            return None
        steps.append(int(m))
    return steps


def _bordered_axis(axis: Tensor, m: int, radius: float) -> Tensor:
    """``axis`` with ``m`` points added at each end: the point ``k`` beyond an edge is only a
    vertex of the point ``m - k`` inside it, so it takes that vertex's coordinate, ``c -+ r``
    as the hull method computes it."""
    r = torch.tensor(radius, dtype=axis.dtype, device=axis.device)
    below = axis[:m] - r           # vertices of points 0..m-1 towards lower coordinates
    above = axis[-m:] + r          # vertices of points S-m..S-1 towards higher coordinates
    return torch.cat([below, axis, above])


def _encode(coords: Tensor, encoding) -> Tensor:
    if encoding is None:
        return coords
    if is_affine_sine(encoding):
        matrix, offset, periodic = encoding_form(encoding, coords)
        u = torch.addmm(offset, coords, matrix.T)
        return torch.where(periodic, torch.sin(u), u)
    with torch.no_grad():
        return encoding(coords).detach()


def grid_local_complexity(axes: GridAxes, steps: Sequence[int], radius: float, encoding,
                          net: ReluNetwork, *, include_centre: bool = False,
                          start: Optional[int] = None, stop: Optional[int] = None) -> Tensor:
    """int32 ``[stop - start, L]``: the sampled local complexity of the grid points
    ``start..stop-1`` (row-major; default all), with vertices the grid points ``steps[d]``
    points away along each axis (``hull_steps``) and, beyond the edges, ``c +- radius e_d``.

    ``encoding``: ``None``, an affine-sine encoding or triple, or any module or function mapping
    ``[M, D]`` coordinates to ``[M, E]`` features row by row; ``net`` the network on them.
    """
    shape = axes.shape
    total = axes.num_points
    start = 0 if start is None else int(start)
    stop = total if stop is None else int(stop)
    segments = [0] + [hi for _, hi in net.layer_bit_ranges()]
    bordered = [_bordered_axis(a, m, radius) for a, m in zip(axes.axes, steps)]
    row = math.prod(shape[1:])          # points per index of axis 0
    m0 = steps[0]
    parts = []
    for lo in range(start, stop, max(CHUNK_POINTS, row)):
        hi = min(stop, lo + max(CHUNK_POINTS, row))
        first, last = lo // row, (hi - 1) // row + 1      # axis-0 indices holding lo..hi-1
        box_axes = [bordered[0][first:last + 2 * m0]] + bordered[1:]
        coords = torch.cartesian_prod(*box_axes) if len(box_axes) > 1 else box_axes[0][:, None]
        c, n = precise(coords, encoding, net)
        patterns = activation_patterns(_encode(c, encoding), n)
        box = [last - first + 2 * m0] + [len(a) for a in bordered[1:]]
        counts = grid_complexity(patterns, box, steps, segments, include_centre=include_centre)
        parts.append(counts[lo - first * row:hi - first * row])
    if not parts:
        return torch.zeros((0, len(segments) - 1), dtype=torch.int32,
                           device=axes.axes[0].device)
    return torch.cat(parts) if len(parts) > 1 else parts[0]
