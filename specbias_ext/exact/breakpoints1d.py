"""Exact linear regions of a ReLU network on raw 1D coordinates: breakpoints, the region
count, and how a grid's distinct-pattern count converges to it."""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from ..nets.network import ReluNetwork, require_network
from ..ops import activation_patterns

Tensor = torch.Tensor


def _check_raw_1d(net: ReluNetwork, lo: float, hi: float) -> tuple[ReluNetwork, float, float]:
    net = require_network(net)
    lo, hi = float(lo), float(hi)
    if net.in_dim != 1:
        raise ValueError(f"net: expected a network on raw 1D coordinates (1 input feature), its "
                         f"first layer takes {net.in_dim}")
    if any(net.input_skips) or any(net.residual):
        raise ValueError("net: input skips and residual adds are not supported by the exact 1D "
                         "breakpoints")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"lo, hi: expected finite lo < hi, got ({lo}, {hi})")
    return net, lo, hi


@torch.no_grad()
def exact_breakpoints_1d(net: ReluNetwork, lo: float = 0.0, hi: float = 1.0) -> Tensor:
    """Every point of the open interval (lo, hi) where some hidden neuron of a network on raw
    1D coordinates changes sign.

    Layer by layer, in float64: the layer's input is affine on each current piece, so each
    neuron's pre-activation is too; its zero crossing (if strictly inside the piece) splits it.
    Consecutive breakpoints (with lo and hi) bound the linear regions.

    Args:
        net (ReluNetwork): a ReLU or LeakyReLU MLP (with or without biases, no input skips or
            residual adds) whose first layer takes 1 feature.
        lo, hi (float): the interval.

    Returns:
        Tensor: the sorted breakpoints, float64.
    """
    net, lo, hi = _check_raw_1d(net, lo, hi)
    f64 = dict(dtype=torch.float64, device=net.device)
    edges = torch.tensor([lo, hi], **f64)
    slope = torch.ones(1, 1, **f64)   # layer input on piece p: slope[p] * x + icpt[p]
    icpt = torch.zeros(1, 1, **f64)
    for l in range(net.depth):
        w = net.weights[l].detach().to(**f64)
        b = net.biases[l]
        z_slope = slope @ w.T                      # [P, out]: z = z_slope * x + z_icpt on piece p
        z_icpt = icpt @ w.T + (0.0 if b is None else b.detach().to(**f64))
        cross = -z_icpt / z_slope                  # +-inf or nan where the slope is 0: never inside
        inside = (cross > edges[:-1, None]) & (cross < edges[1:, None])
        new_edges = torch.unique(torch.cat([edges, cross[inside]]))  # sorted
        mid = 0.5 * (new_edges[:-1] + new_edges[1:])
        parent = (torch.searchsorted(edges, mid, right=True) - 1).clamp(0, edges.numel() - 2)
        z_slope, z_icpt = z_slope[parent], z_icpt[parent]
        on = z_slope * mid[:, None] + z_icpt > 0   # no crossing inside a new piece: sign at mid
        leak = net.slopes[l]
        slope = torch.where(on, z_slope, leak * z_slope)
        icpt = torch.where(on, z_icpt, leak * z_icpt)
        edges = new_edges
    return edges[1:-1]


def exact_region_count_1d(net: ReluNetwork, lo: float = 0.0, hi: float = 1.0) -> int:
    """Number of linear regions of a raw-1D network on (lo, hi): breakpoints + 1.

    In 1D with raw inputs this is also the number of distinct activation patterns: a first-layer
    neuron changes sign at most once, so two pieces with equal layer-0 bits have no layer-0
    breakpoint between them, the next layer is affine there and changes sign at most once, and so
    on; equal patterns therefore mean the same piece.

    Args:
        net (ReluNetwork), lo, hi (float): as for ``exact_breakpoints_1d``.

    Returns:
        int: the region count.
    """
    return int(exact_breakpoints_1d(net, lo, hi).numel()) + 1


class GridConvergence(NamedTuple):
    sizes: list[int]
    grid_counts: list[int]      # distinct patterns on the grid lo + (hi - lo) * n / size
    exact_count: int            # exact_region_count_1d
    narrowest_region: float     # width of the narrowest exact region


@torch.no_grad()
def grid_count_convergence(net: ReluNetwork, sizes: Sequence[int], lo: float = 0.0,
                           hi: float = 1.0) -> GridConvergence:
    """Region count on uniform grids of each size vs the exact count of a raw-1D network.

    The grid ``lo + (hi - lo) * n / size`` (n = 0..size-1, the project's ``grid_coords``) is run
    through ``activation_patterns`` in the weights' dtype, and its distinct patterns counted (the R
    of ``region_ids``). The grid count never exceeds the exact count and reaches it once the
    spacing (hi - lo) / size is below the narrowest region's width.

    Args:
        net (ReluNetwork): as for ``exact_breakpoints_1d``.
        sizes (sequence of int): the grid sizes.
        lo, hi (float): the interval.

    Returns:
        GridConvergence: the sizes, their grid counts, the exact count and the narrowest region.
    """
    breakpoints = exact_breakpoints_1d(net, lo, hi)
    bounds = torch.cat([breakpoints.new_tensor([lo]), breakpoints, breakpoints.new_tensor([hi])])
    counts = []
    for size in sizes:
        size = int(size)
        if size < 1:
            raise ValueError(f"sizes: expected positive grid sizes, got {size}")
        n = torch.arange(size, dtype=torch.float64, device=net.device)
        x = (lo + (hi - lo) * n / size).to(net.dtype).unsqueeze(1)
        patterns = activation_patterns(x, net)
        counts.append(int(torch.unique(patterns, dim=0).shape[0]))
    return GridConvergence([int(s) for s in sizes], counts, int(breakpoints.numel()) + 1,
                           float((bounds[1:] - bounds[:-1]).min()))
