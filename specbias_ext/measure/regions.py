"""Linear regions on a set of points: activation patterns, region ids and region statistics.

A region is a set of points with the same activation pattern (the on/off state of every hidden
neuron, pattern bit 1[z > 0]); the region count on a grid is the number of distinct patterns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .. import ops
from ..nets.network import ReluNetwork
from .summaries import fraction, log2_size_histogram

Tensor = torch.Tensor


def patterns(x: Tensor, net: ReluNetwork) -> Tensor:
    """Packed activation patterns ``int64 [N, ceil(H / 64)]`` of the encoded points ``x``."""
    return ops.activation_patterns(x, net)


_KEY_SEED = 0x243F6A8885A308D3
_KEY_MUL = 0x9E3779B97F4A7C15 - (1 << 64)   # the odd 64-bit constant, as an int64


def pattern_keys(patterns: Tensor) -> Tensor:
    """``int64 [N]``: a 64-bit mix of each packed pattern row (its words only), so the same
    pattern gets the same key on every grid, tile, record, run and process; distinct patterns
    collide with probability about 2^-64 per pair. The region maps colour regions by it."""
    h = torch.full((patterns.shape[0],), _KEY_SEED, dtype=torch.int64, device=patterns.device)
    for w in range(patterns.shape[1]):
        h = (h ^ patterns[:, w]) * _KEY_MUL   # int64 multiply wraps
        h = h ^ (h >> 31)
    return h


def region_keys(patterns: Tensor, ids: Tensor, num_regions: int) -> Tensor:
    """``int64 [R]``: the ``pattern_keys`` of each region's pattern (region r = rows with
    ``ids == r``; all its rows share the pattern, its first row is used)."""
    rows = torch.arange(ids.numel(), device=ids.device)
    first = torch.full((int(num_regions),), ids.numel(), dtype=torch.int64, device=ids.device)
    first = first.scatter_reduce(0, ids.reshape(-1), rows, reduce="amin")
    return pattern_keys(patterns[first])


def region_count(patterns: Tensor) -> int:
    """Number of distinct activation patterns."""
    return int(ops.region_ids(patterns)[1].numel())


@dataclass
class RegionStats:
    """``ids [N]`` (0..R-1 in order of first appearance), ``counts [R]`` (points per region),
    ``count`` = R, ``size_hist_log2`` (regions per size class [2^b, 2^(b+1))),
    ``largest_frac`` (share of the points in the largest region) and, on a grid,
    ``neighbor_boundary_frac`` (share of neighbouring grid pairs whose patterns differ)."""

    ids: Tensor
    counts: Tensor
    count: int
    size_hist_log2: list
    largest_frac: Optional[float]
    neighbor_boundary_frac: Optional[float] = None


def region_stats(patterns: Tensor, grid_shape: Optional[Sequence[int]] = None) -> RegionStats:
    """Region ids, sizes and summary of ``patterns``; ``grid_shape`` (rows in row-major order)
    adds the share of neighbouring grid pairs on different sides of a boundary."""
    ids, counts = ops.region_ids(patterns)
    n = patterns.shape[0]
    boundary = None
    if grid_shape is not None:
        changes = [d.flatten() for d in ops.hamming_neighbors(patterns, list(grid_shape))]
        boundary = fraction(torch.cat(changes) > 0) if changes else None
    return RegionStats(ids, counts, int(counts.numel()), log2_size_histogram(counts),
                       float(counts.max()) / n if counts.numel() else None, boundary)
