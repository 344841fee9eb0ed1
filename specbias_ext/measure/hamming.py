"""Hamming distance between the activation patterns of point pairs, in total and per layer.

The local pairs are nearby points (windows / patches), the global pairs far-apart ones (the two
ends / opposite corners); the samplers are in ``specbias_ext.data.samplers``.
"""
from __future__ import annotations

from typing import Optional

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
