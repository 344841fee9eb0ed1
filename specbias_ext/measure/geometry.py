"""Distance to the nearest region boundary and coordinate slopes, in coordinate units.

The boundary distance of a point is min over hidden neurons of |z| / ||dz/dc|| (first order, in
the coordinates before the encoding); the slope of a point is the Frobenius norm of the
network's Jacobian with respect to the coordinates. Both come from the geometry ops.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import geometry
from ..networks import ReluNetwork

Tensor = torch.Tensor


def boundary_distance(coords: Tensor, encoding, net: ReluNetwork) -> Tensor:
    """``[N]``: first-order distance of every point to its nearest boundary."""
    return geometry.boundary_distance(coords, encoding, net)[0]


@dataclass
class RegionSlopes:
    """Per region ``[R]``: mean and max coordinate slope over its points."""

    mean: Tensor
    max: Tensor


def coord_slopes(coords: Tensor, encoding, net: ReluNetwork, ids: Tensor,
                 num_regions: int) -> RegionSlopes:
    """Coordinate slopes summarised per region (``ids`` from ``region_stats``)."""
    grads = geometry.coord_gradients(coords, encoding, net)
    return RegionSlopes(*geometry.region_slope_stats(grads, ids, num_regions))
