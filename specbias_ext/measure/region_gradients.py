"""Region gradient norms and coherence.

For region S_r: the norm of the summed gradient ||sum_{i in S_r} g_i||, the sum of norms
sum_{i in S_r} ||g_i||, and the coherence

    coherence_r = ||sum_{i in S_r} g_i|| / sum_{i in S_r} ||g_i||   in [0, 1]

(1: all gradients of the region are parallel). Conventions: a region whose gradients are all 0
(or that has no member) has 0/0 and gets coherence 0, like the confusion of a zero gradient;
rounding above 1 is clamped to 1. A single-member region is trivially coherent (1), so the
summaries use regions with at least two members.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .. import ops
from ..nets.network import ReluNetwork
from .summaries import histogram, summary

Tensor = torch.Tensor


def coherence(norm_of_sum: Tensor, sum_of_norms: Tensor) -> Tensor:
    """The ratio with the conventions above."""
    ok = sum_of_norms > 0
    ratio = norm_of_sum / torch.where(ok, sum_of_norms, torch.ones_like(sum_of_norms))
    return torch.where(ok, ratio, torch.zeros_like(ratio)).clamp_(max=1.0)


@dataclass
class RegionGrads:
    """Per region ``[R]``: ``norm_of_sum``, ``sum_of_norms`` and ``coherence``."""

    norm_of_sum: Tensor
    sum_of_norms: Tensor
    coherence: Tensor


def region_grads(x: Tensor, net: ReluNetwork, grad_out: Tensor, ids: Tensor,
                 num_regions: int) -> RegionGrads:
    """Region gradient norms and coherence of the regions ``ids`` (0..num_regions-1)."""
    norm_of_sum, sum_of_norms = ops.region_grad_norms(x, net, grad_out, ids, int(num_regions))
    return RegionGrads(norm_of_sum, sum_of_norms, coherence(norm_of_sum, sum_of_norms))


def region_coherence(x: Tensor, net: ReluNetwork, grad_out: Tensor, ids: Tensor,
                     num_regions: int) -> Tensor:
    """Coherence ``[R]`` only."""
    return region_grads(x, net, grad_out, ids, num_regions).coherence


@dataclass
class CoherenceStats:
    """``norm_of_sum``: summary over regions; ``multi``: summary of the coherence of regions with
    >= 2 members and non-zero gradients; ``weighted``: the size-weighted mean coherence over
    regions with non-zero gradients; ``hist``: histogram of ``multi`` on [0, 1]."""

    norm_of_sum: dict
    multi: dict
    weighted: Optional[float]
    hist: list


def coherence_stats(grads: RegionGrads, counts: Tensor, bins: int) -> CoherenceStats:
    valid = grads.sum_of_norms > 0
    multi = valid & (counts > 1)
    coh = grads.coherence
    weights = counts.to(coh.dtype)
    weighted = float((coh[valid] * weights[valid]).sum() / weights[valid].sum()) \
        if bool(valid.any()) else None
    return CoherenceStats(summary(grads.norm_of_sum), summary(coh[multi]), weighted,
                          histogram(coh[multi], bins, 0.0, 1.0))
