"""Gradient confusion, region coherence and the empirical NTK on top of the gradient ops.

Per-example gradients g_i = grad_theta l_i over all weights and biases are never materialised:
everything comes from ``per_example_grad_norms``, ``grad_dots``, ``grad_gram`` and
``region_grad_norms`` (one forward and one backward pass over the points involved).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from . import ops

Tensor = torch.Tensor


def mse_grad_out(pred: Tensor, target: Tensor) -> Tensor:
    """dl_i/df(x_i) of the per-example MSE l_i = mean_o (f_o - y_o)^2, i.e. 2 (f - y) / out_dim.

    ``pred`` and ``target`` are ``[N, out]`` (a 1-D ``[N]`` pair is treated as ``[N, 1]``).
    """
    if pred.shape != target.shape:
        raise ValueError(f"target: expected the shape of pred {tuple(pred.shape)}, "
                         f"got {tuple(target.shape)}")
    if pred.dim() == 1:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 2:
        raise ValueError(f"pred: expected [N, out] or [N], got {pred.dim()} dimensions")
    return 2.0 * (pred - target).detach() / pred.shape[1]


def _safe_ratio(num: Tensor, den: Tensor) -> Tensor:
    """num / den, and 0 where den is 0."""
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def _norms_at(x, weights, biases, grad_out, idx: Tensor) -> Tensor:
    """||g_i|| for the points idx, computing each distinct point once."""
    uniq, inverse = torch.unique(idx, return_inverse=True)
    norms = ops.per_example_grad_norms(x[uniq], weights, biases, grad_out[uniq]).sum(1).sqrt()
    return norms[inverse]


def confusion_pairs(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                    grad_out: Tensor, i: Tensor, j: Tensor) -> Tensor:
    """Gradient confusion ``c = <g_i, g_j> / (||g_i|| ||g_j||)`` ``[P]`` of index pairs.

    0 where either gradient is 0 (e.g. a point whose every path to the head is dead).
    """
    dots = ops.grad_dots(x, weights, biases, grad_out, i, j)
    if i.numel() == 0:
        return dots
    both = _norms_at(x, weights, biases, grad_out, torch.cat([i, j]))
    return _safe_ratio(dots, both[: i.numel()] * both[i.numel():])


def confusion_block(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                    grad_out: Tensor, rows: Optional[Tensor] = None,
                    cols: Optional[Tensor] = None) -> Tensor:
    """Gradient confusion ``[len(rows), len(cols)]`` (all points where None); 0 for zero norms."""
    gram = ops.grad_gram(x, weights, biases, grad_out, rows, cols)
    all_norms = None
    if rows is None or cols is None:
        all_norms = ops.per_example_grad_norms(x, weights, biases, grad_out).sum(1).sqrt()
    nr = all_norms if rows is None else _norms_at(x, weights, biases, grad_out, rows)
    nc = all_norms if cols is None else _norms_at(x, weights, biases, grad_out, cols)
    return _safe_ratio(gram, nr[:, None] * nc[None, :])


def region_coherence(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                     grad_out: Tensor, ids: Tensor, num_regions: int) -> Tensor:
    """Region coherence ``||sum_{S_r} g_i|| / sum_{S_r} ||g_i||`` in [0, 1], ``[R]``.

    1 means all gradients of the region are parallel. A region whose gradients are all 0, or
    that has no members, has 0/0: it is reported as 0 (nothing to be coherent about), the same
    convention as the confusion of a zero gradient. Use ``region_grad_norms`` for the two parts.
    """
    norm_of_sum, sum_of_norms = ops.region_grad_norms(x, weights, biases, grad_out, ids,
                                                      num_regions)
    # Rounding can put the ratio a hair above 1 when every gradient is parallel.
    return _safe_ratio(norm_of_sum, sum_of_norms).clamp_(max=1.0)


def empirical_ntk(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                  rows: Optional[Tensor] = None, cols: Optional[Tensor] = None) -> Tensor:
    """Empirical neural tangent kernel ``K_ij = <grad_theta f(x_i), grad_theta f(x_j)>``.

    Needs a scalar head (``weights[-1].shape[0] == 1``); for vector outputs pick an output and
    call ``grad_gram`` with a one-hot ``grad_out``.
    """
    out_dim = int(weights[-1].shape[0])
    if out_dim != 1:
        raise ValueError(f"weights[-1]: empirical_ntk needs a scalar head (1 output), got "
                         f"{out_dim} outputs; use grad_gram with a one-hot grad_out instead")
    grad_out = torch.ones((x.shape[0], 1), dtype=x.dtype, device=x.device)
    return ops.grad_gram(x, weights, biases, grad_out, rows, cols)
