"""Statistics of the per-example gradient norms ||g_i|| (g_i = grad_theta l_i)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import ops
from ..nets.network import ReluNetwork
from .summaries import summary

Tensor = torch.Tensor


def layer_sq_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> Tensor:
    """``[N, L+1]``: ||g_i||^2 restricted to each layer's weights and bias."""
    return ops.per_example_grad_norms(x, net, grad_out)


@dataclass
class GradNormStats:
    """``norm``: summary of ||g_i|| over the points; ``layer_share``: each layer's share of
    sum_i ||g_i||^2 (None entries when every gradient is 0)."""

    norm: dict
    layer_share: list


def grad_norm_stats(sq_norms: Tensor) -> GradNormStats:
    """From ``layer_sq_norms``' output."""
    total = float(sq_norms.sum())
    share = (sq_norms.sum(dim=0) / total).cpu().tolist() if total > 0 \
        else [None] * sq_norms.shape[1]
    return GradNormStats(summary(sq_norms.sum(dim=1).clamp_min(0).sqrt()), share)
