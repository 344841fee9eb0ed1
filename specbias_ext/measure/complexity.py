"""Local complexity of a network around points: how many neurons' boundaries pass within a
radius, per point and hidden layer (definitions and conventions: docs/local_complexity.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ..nets.network import ReluNetwork
from ..ops.complexity_coords import first_order_complexity, sampled_complexity
from ..ops.hull import hull_directions
from .grid_complexity import GridAxes, grid_local_complexity, hull_steps
from .summaries import count_summary

Tensor = torch.Tensor

METHODS = ("sampled", "first_order")


@dataclass
class LocalComplexity:
    """Per-point, per-layer counts and what they were measured with.

    ``counts`` is int32 ``[N, L]``; ``widths`` the L hidden widths. ``total`` (the LC of each
    point) is the row sum, ``fraction`` each count over its layer's width.
    """

    counts: Tensor
    widths: list[int]
    radius: float
    method: str
    num_directions: Optional[int]
    include_centre: bool

    @property
    def total(self) -> Tensor:
        """int64 ``[N]``: neurons of all hidden layers counted at each point."""
        return self.counts.sum(dim=1, dtype=torch.int64)

    @property
    def fraction(self) -> Tensor:
        """float64 ``[N, L]``: each count over its layer's width."""
        widths = torch.tensor(self.widths, dtype=torch.float64, device=self.counts.device)
        return self.counts.to(torch.float64) / widths

    def settings(self) -> dict:
        """What the counts were measured with (JSON-able)."""
        return {"radius": self.radius, "method": self.method,
                "num_directions": self.num_directions, "include_centre": self.include_centre}

    def total_histogram(self) -> Tensor:
        """int64 ``[H + 1]`` (H: all hidden neurons): how many points have each total."""
        return torch.bincount(self.total.cpu(), minlength=sum(self.widths) + 1)

    def layer_sums(self) -> Tensor:
        """int64 ``[L]``: each layer's counts summed over the points."""
        return self.counts.sum(dim=0, dtype=torch.int64).cpu()

    def summary(self) -> dict:
        """``complexity_summary`` of these counts."""
        return complexity_summary(self.total_histogram(), self.layer_sums(), self.widths,
                                  self.settings())


def complexity_summary(total_hist: Tensor, layer_sums: Tensor, widths, settings: dict) -> dict:
    """JSON-able summary of local complexity counts given as sums (so that the sums of tiles or
    processes give the summary of all the points): from ``total_hist`` (int64 ``[H + 1]``, how
    many points have each total) the total's mean, std, min, 5/50/95 % quantiles and max
    (``measure.summaries.count_summary``; None for no points); from ``layer_sums`` (int64
    ``[L]``) the mean count and the mean fraction of each layer (``widths``); the mean total
    fraction (total over all hidden neurons); the number of points and ``settings``."""
    out = count_summary(total_hist)
    n = int(total_hist.sum())
    widths = [int(w) for w in widths]
    sums = [int(v) for v in layer_sums.tolist()]
    out["layer_means"] = [s / n for s in sums] if n else [None] * len(widths)
    out["layer_fraction_means"] = ([m / w for m, w in zip(out["layer_means"], widths)]
                                   if n else [None] * len(widths))
    out["total_fraction_mean"] = out["mean"] / sum(widths) if n else None
    out.update(points=n, **settings)
    return out


def check_radius(radius, name: str) -> float:
    """A radius that counts something: a finite number > 0 (coordinate units)."""
    try:
        if isinstance(radius, bool):
            raise TypeError
        value = float(radius)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a radius > 0 in coordinate units, got "
                         f"{radius!r}") from None
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name}: expected a finite radius > 0 in coordinate units, got "
                         f"{radius!r}")
    return value


def local_complexity(coords: Tensor, encoding, net: ReluNetwork, radius: float, *,
                     num_directions: Optional[int] = None, seed: int = 0,
                     include_centre: bool = False, method: str = "sampled",
                     grid_shape: Optional[Sequence[int]] = None) -> LocalComplexity:
    """Local complexity of ``net`` around every point of ``coords``.

    Args:
        coords: ``[N, D]`` points before the encoding (a grid, the training points, ...).
        encoding: an encoding object, a ``(matrix, offset, periodic)`` triple, ``None`` (raw),
            or any differentiable module/function ``[M, D] -> [M, E]``.
        net: the ``ReluNetwork`` on the encoded features.
        radius: r in coordinate units (on a grid, the grid step is the natural choice).
        num_directions: sampled only: K hull directions, ``2K`` vertices; ``None`` (default) or
            ``K >= D``: the D coordinate axes; fewer: K seeded random orthonormal directions.
        seed: the seed of the random directions.
        include_centre: sampled only: add the point itself as a vertex. Default False, as the
            published code's default configuration.
        method: ``"sampled"`` (neurons whose sign is not the same at every hull vertex) or
            ``"first_order"`` (neurons with ``|z| / ||grad_c z|| <= radius``).
        grid_shape: the coords are the points of a row-major grid of this shape (one size per
            coordinate). When the hull runs along the axes and the radius is a whole number of
            steps on every axis, the vertices are grid points, and the sampled counts come from
            one forward per grid point instead of one per vertex (``measure.grid_complexity``);
            otherwise, or for coords that are not such a grid, nothing changes.

    Returns:
        ``LocalComplexity`` with int32 counts ``[N, L]`` and ``summary()``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    radius = float(radius)
    if not radius >= 0.0 or radius == float("inf"):
        raise ValueError(f"radius: expected a finite radius >= 0, got {radius}")
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        shape = list(coords.shape) if isinstance(coords, Tensor) else type(coords).__name__
        raise ValueError(f"coords: expected a 2-D tensor [N, D], got {shape}")
    if grid_shape is not None and (len(grid_shape) != coords.shape[1]
                                   or math.prod(int(n) for n in grid_shape) != coords.shape[0]):
        raise ValueError(f"grid_shape: expected one size per coordinate ({coords.shape[1]}) "
                         f"with product the number of points ({coords.shape[0]}), got "
                         f"{list(grid_shape)}")
    if method == "sampled" and grid_shape is not None:
        axes = GridAxes.of_coords(coords, grid_shape)
        steps = None if axes is None else hull_steps(axes, radius, num_directions)
        if steps is not None:
            counts = grid_local_complexity(axes, steps, radius, encoding, net,
                                           include_centre=include_centre)
            return _sampled_result(counts, net, radius, coords.shape[1], include_centre)
    if method == "sampled":
        directions = hull_directions(coords.shape[1], num_directions, seed=seed,
                                     dtype=coords.dtype, device=coords.device)
        counts = sampled_complexity(coords, encoding, net, directions, radius,
                                    include_centre=include_centre)
        return _sampled_result(counts, net, radius, directions.shape[0], include_centre)
    counts = first_order_complexity(coords, encoding, net, [radius])[2][:, :, 0].contiguous()
    return LocalComplexity(counts=counts, widths=net.hidden_widths, radius=radius,
                           method=method, num_directions=None, include_centre=False)


def local_complexity_of_grid(grid, encoding, net: ReluNetwork, radius: float, *,
                             start: Optional[int] = None, stop: Optional[int] = None,
                             num_directions: Optional[int] = None, seed: int = 0,
                             include_centre: bool = False, method: str = "sampled",
                             dtype: torch.dtype = torch.float32,
                             device: torch.device | str = "cpu") -> LocalComplexity:
    """``local_complexity`` of the points ``start..stop-1`` of a grid object (``data.grids``:
    ``CoordinateGrid``, ``PlaneSlice``; their coordinates in ``dtype`` on ``device``).

    The counts are those of ``local_complexity`` on ``grid.coords(start, stop)``. On a
    ``CoordinateGrid`` with a radius of a whole number of steps along every axis, the vertices
    are grid points (the neighbours of a range's edge points included) and the grid path
    (``measure.grid_complexity``) computes them with one forward per point.
    """
    if method == "sampled" and float(radius) > 0:
        axes = GridAxes.of_grid(grid, dtype, device)
        steps = None if axes is None else hull_steps(axes, float(radius), num_directions)
        if steps is not None:
            counts = grid_local_complexity(axes, steps, float(radius), encoding, net,
                                           include_centre=include_centre, start=start,
                                           stop=stop)
            return _sampled_result(counts, net, float(radius), grid.dim, include_centre)
    return local_complexity(grid.coords(start, stop, dtype=dtype, device=device), encoding, net,
                            radius, num_directions=num_directions, seed=seed,
                            include_centre=include_centre, method=method)


def _sampled_result(counts: Tensor, net: ReluNetwork, radius: float, num_directions: int,
                    include_centre: bool) -> LocalComplexity:
    return LocalComplexity(counts=counts, widths=net.hidden_widths, radius=radius,
                           method="sampled", num_directions=num_directions,
                           include_centre=bool(include_centre))
