"""Distance to the nearest region boundary and coordinate slopes, in coordinate units.

The boundary distance of a point is min over hidden neurons of |z| / ||dz/dc|| (first order, in
the coordinates before the encoding); the slope of a point is the Frobenius norm of the
network's Jacobian with respect to the coordinates. Both come from the geometry ops.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..ops.coordinates import boundary_distance as _boundary_distance, coord_gradients
from ..nets.network import ReluNetwork

Tensor = torch.Tensor


def boundary_distance(coords: Tensor, encoding, net: ReluNetwork) -> Tensor:
    """``[N]``: first-order distance of every point to its nearest boundary."""
    return _boundary_distance(coords, encoding, net)[0]


@dataclass
class RegionSlopes:
    """Per region ``[R]``: mean and max coordinate slope over its points."""

    mean: Tensor
    max: Tensor


def coord_slopes(coords: Tensor, encoding, net: ReluNetwork, ids: Tensor,
                 num_regions: int) -> RegionSlopes:
    """Coordinate slopes summarised per region (``ids`` from ``region_stats``)."""
    grads = coord_gradients(coords, encoding, net)
    return RegionSlopes(*region_slope_stats(grads, ids, num_regions))


def region_slope_stats(coord_grads: Tensor, ids: Tensor, num_regions: int) -> tuple[Tensor, Tensor]:
    """``(mean [R], max [R])`` of the coordinate slope ``||grad_c f||`` over each region's points.

    ``coord_grads`` is ``[N, out, D]`` (from ``coord_gradients``; the slope is the Frobenius norm
    of each point's Jacobian), ``[N, D]``, or already slopes ``[N]``. ``ids`` are region ids in
    0..num_regions-1 (``region_ids``). A region without points gets 0 in both.
    """
    if coord_grads.dim() == 0:
        raise ValueError("coord_grads: expected [N, ...], got a scalar")
    slopes = coord_grads if coord_grads.dim() == 1 else coord_grads.flatten(1).norm(dim=1)
    if ids.dim() != 1 or ids.shape[0] != slopes.shape[0]:
        raise ValueError(f"ids: expected shape [{slopes.shape[0]}] (one id per point), got "
                         f"{list(ids.shape)}")
    if ids.dtype != torch.int64:
        raise ValueError(f"ids: expected int64 region ids, got {ids.dtype}")
    if ids.device != slopes.device:
        raise ValueError(f"ids: expected device {slopes.device}, got {ids.device}")
    num_regions = int(num_regions)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_regions):
        raise ValueError(f"ids: expected values in [0, {num_regions}), got "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    zeros = slopes.new_zeros(num_regions)
    total = zeros.index_add(0, ids, slopes)
    count = zeros.index_add(0, ids, torch.ones_like(slopes))
    mean = total / count.clamp_min(1)
    peak = zeros.scatter_reduce(0, ids, slopes, reduce="amax", include_self=False)
    return mean, peak
