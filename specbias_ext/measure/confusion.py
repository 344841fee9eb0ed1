"""Gradient confusion: the cosine between the per-example loss gradients of two points.

    c_ij = <g_i, g_j> / (||g_i|| ||g_j||),   g_i = grad_theta l_i over all weights and biases

Conventions (the only place they are decided): c_ij = 0 when either gradient is 0 (a point
whose every path to the head is dead has nothing to agree or disagree with), and c_ij is
clamped to [-1, 1] (rounding of parallel gradients can land a few ulp outside). Per-example
gradients are never materialised: dots come from ``grad_dots`` / ``grad_gram`` and norms from
``per_example_grad_norms`` at the distinct points involved.
"""
from __future__ import annotations

from typing import Optional

import torch

from .. import ops
from ..nets.network import ReluNetwork

Tensor = torch.Tensor


def cosine(dots: Tensor, norms_a: Tensor, norms_b: Tensor) -> Tensor:
    """dots / (norms_a norms_b) with the conventions above (0 for a zero norm, in [-1, 1])."""
    denom = norms_a * norms_b
    ok = denom > 0
    return torch.where(ok, dots / torch.where(ok, denom, torch.ones_like(denom)),
                       torch.zeros_like(dots)).clamp_(-1.0, 1.0)


def grad_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> Tensor:
    """||g_i|| ``[N]`` of every point."""
    return ops.per_example_grad_norms(x, net, grad_out).sum(1).clamp_min(0).sqrt()


def grad_norms_at(x: Tensor, net: ReluNetwork, grad_out: Tensor, idx: Tensor) -> Tensor:
    """||g_i|| for the points ``idx``, computing each distinct point once."""
    uniq, inverse = torch.unique(idx, return_inverse=True)
    return grad_norms(x[uniq], net, grad_out[uniq])[inverse]


def confusion_pairs(x: Tensor, net: ReluNetwork, grad_out: Tensor, i: Tensor, j: Tensor,
                    norms: Optional[Tensor] = None) -> Tensor:
    """c_ij ``[P]`` of the index pairs (i[p], j[p]). ``norms [N]`` (from ``grad_norms``) skips
    the norm pass when the caller has them already."""
    dots = ops.grad_dots(x, net, grad_out, i, j)
    if i.numel() == 0:
        return dots
    if norms is None:
        both = grad_norms_at(x, net, grad_out, torch.cat([i, j]))
        ni, nj = both[:i.numel()], both[i.numel():]
    else:
        ni, nj = norms[i], norms[j]
    return cosine(dots, ni, nj)


def pair_dots_and_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor, i: Tensor, j: Tensor,
                        points: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """``(<g_i, g_j> [P], norms [N])`` from ONE ``grad_dots`` call: the self-pairs (u, u) of the
    points involved ride along, ||g_u|| = sqrt(<g_u, g_u>); ``norms`` is 0 at points no pair
    touches. Cheaper than a separate norm pass when only the pairs are wanted; feed the result
    to ``cosine(dots, norms[i], norms[j])``. ``points``: ``unique(cat([i, j]))`` when the caller
    keeps it for fixed pairs."""
    if points is None:
        points = torch.unique(torch.cat([i, j]))
    both = ops.grad_dots(x, net, grad_out, torch.cat([i, points]), torch.cat([j, points]))
    norms = x.new_zeros(x.shape[0])
    norms[points] = both[i.numel():].clamp_min(0).sqrt()
    return both[:i.numel()], norms


def confusion_block(x: Tensor, net: ReluNetwork, grad_out: Tensor,
                    rows: Optional[Tensor] = None, cols: Optional[Tensor] = None) -> Tensor:
    """c ``[len(rows), len(cols)]`` (all points where None)."""
    gram = ops.grad_gram(x, net, grad_out, rows, cols)
    every = grad_norms(x, net, grad_out) if rows is None or cols is None else None
    nr = every if rows is None else grad_norms_at(x, net, grad_out, rows)
    nc = every if cols is None else grad_norms_at(x, net, grad_out, cols)
    return cosine(gram, nr[:, None], nc[None, :])
