"""Hamming distance between the activation patterns of point pairs, in total and per layer.

The local pairs are nearby points (windows / patches), the global pairs far-apart ones (the two
ends / opposite corners); the samplers are in ``specbias_ext.data.samplers``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .. import ops
from ..nets.network import ReluNetwork

Tensor = torch.Tensor


def pair_hamming(patterns: Tensor, i: Tensor, j: Tensor,
                 net: Optional[ReluNetwork] = None) -> Tensor:
    """Distances of pairs (i[p], j[p]): ``int64 [P]`` in total, or ``[P, L]`` per hidden layer of
    ``net`` when given."""
    i, j = i.to(patterns.device), j.to(patterns.device)
    if net is None:
        return ops.hamming_pairs(patterns, i, j)
    return ops.hamming_pairs_per_layer(patterns, i, j, net)


def mean_pair_hamming(patterns: Tensor, i: Tensor, j: Tensor,
                      net: Optional[ReluNetwork] = None) -> Tensor:
    """Mean distance over the pairs (float64): 0-d in total, or ``[L]`` per layer of ``net``."""
    return pair_hamming(patterns, i, j, net).double().mean(0)


def neighbour_hamming(patterns: Tensor, grid_shape: Sequence[int]) -> Tensor:
    """float64 ``[N]``: each grid point's mean Hamming distance to its grid neighbours, the
    points one step away along each axis on both sides where they exist (rows of ``patterns``
    are the grid points in row-major order; a grid of one point gives 0)."""
    shape = [int(s) for s in grid_shape]
    total = torch.zeros(shape, dtype=torch.float64, device=patterns.device)
    count = torch.zeros(shape, dtype=torch.float64, device=patterns.device)
    for axis, d in enumerate(ops.hamming_neighbors(patterns, shape)):
        size = shape[axis]
        for side in (0, 1):
            total.narrow(axis, side, size - 1).add_(d.to(torch.float64))
            count.narrow(axis, side, size - 1).add_(1.0)
    return (total / count.clamp_min(1.0)).reshape(-1)
