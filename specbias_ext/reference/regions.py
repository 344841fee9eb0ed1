"""Reference region ops on packed patterns: torch.unique, unpacked bits, explicit loops."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .patterns import unpack_bits

Tensor = torch.Tensor


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    """(ids [N], counts [R]) with ids numbered by first appearance along the rows."""
    n = patterns.shape[0]
    if n == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=patterns.device)
        return empty, empty.clone()
    _, inverse, counts = torch.unique(patterns, dim=0, return_inverse=True, return_counts=True)
    num = counts.shape[0]
    # First row of each sorted group, then rank the groups by that first row.
    rows = torch.arange(n, device=patterns.device)
    first = torch.full((num,), n, dtype=torch.int64, device=patterns.device)
    first = first.scatter_reduce(0, inverse, rows, reduce="amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(num, device=patterns.device)
    return rank[inverse], counts[order]


def _all_bits(patterns: Tensor) -> Tensor:
    return unpack_bits(patterns, patterns.shape[1] * 64).to(torch.int64)


def hamming_pairs(patterns: Tensor, i: Tensor, j: Tensor,
                  segments: Optional[Sequence[int]] = None) -> Tensor:
    """popcount(p_i XOR p_j) [P], or per segment [P, S] with segments [b0, ..., bS]."""
    diff = (_all_bits(patterns[i]) != _all_bits(patterns[j])).to(torch.int64)
    if segments is None:
        return diff.sum(dim=1)
    cols = [diff[:, lo:hi].sum(dim=1) for lo, hi in zip(segments[:-1], segments[1:])]
    return torch.stack(cols, dim=1) if cols else diff.new_zeros((diff.shape[0], 0))


def hamming_neighbors(patterns: Tensor, grid_shape: Sequence[int]) -> list[Tensor]:
    """Distances to the next grid point along each axis (rows = grid points, row-major): entry a
    has the grid shape with axis a one shorter."""
    bits = _all_bits(patterns).reshape(*grid_shape, patterns.shape[1] * 64)
    out = []
    for axis in range(len(grid_shape)):
        size = bits.shape[axis]
        ahead = bits.narrow(axis, min(1, size), max(size - 1, 0))
        here = bits.narrow(axis, 0, max(size - 1, 0))
        out.append((ahead != here).sum(dim=-1))
    return out


def bit_counts(patterns: Tensor, num_bits: int) -> Tensor:
    """How many rows have each of the first ``num_bits`` bits on.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns.
        num_bits (int): how many bits to count (``net.num_hidden`` for every neuron of ``net``).

    Returns:
        Tensor[num_bits]: int64 counts.
    """
    return unpack_bits(patterns, int(num_bits)).to(torch.int64).sum(dim=0)
