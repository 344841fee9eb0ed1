"""Reference gradient quantities from materialised per-example gradients (torch.func).

g_i = grad over all parameters of sum_o grad_out[i, o] * f(x_i)[o]; ``reference.network``'s
``vmap(grad(...))`` gives every g_i explicitly, layer by layer (``[N, out_l * in_l (+ out_l)]``,
weight then bias where the layer has one). Memory is N times the parameter count, so these are
for tests on small networks only. Every function takes ``(x, net, grad_out, ...)``: the encoded
points ``x [N, D]``, a ``ReluNetwork`` and ``grad_out [N, out]``, as the ops do.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..nets.network import ReluNetwork
from . import network

Tensor = torch.Tensor


def per_example_grads(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> list[Tensor]:
    """Per-example gradients by layer.

    Args:
        x (Tensor[N, D]): the encoded points.
        net (ReluNetwork): the network.
        grad_out (Tensor[N, out]): dl_i / df(x_i).

    Returns:
        list[Tensor]: ``[N, out_l * in_l (+ out_l)]`` for every layer l (weight, then bias).
    """
    return network.per_example_grads(net, x, grad_out)


def per_example_grad_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> Tensor:
    """Squared gradient norms by layer: ``[N, L+1]`` (arguments as ``per_example_grads``)."""
    gs = per_example_grads(x, net, grad_out)
    return torch.stack([(g * g).sum(1) for g in gs], dim=1)


def flat_per_example_grads(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> Tensor:
    """Every per-example gradient as one row: ``[N, P]`` (arguments as
    ``per_example_grads``)."""
    return network.flat_per_example_grads(net, x, grad_out)


def grad_dots(x: Tensor, net: ReluNetwork, grad_out: Tensor, i: Tensor, j: Tensor) -> Tensor:
    """Inner products of materialised per-example gradients.

    Args:
        x, net, grad_out: as for ``per_example_grads``.
        i, j (Tensor[P]): int64 point indices.

    Returns:
        Tensor[P]: ``<g_i[p], g_j[p]>``.
    """
    g = network.flat_per_example_grads(net, x, grad_out)
    return (g[i] * g[j]).sum(1)


def grad_gram(x: Tensor, net: ReluNetwork, grad_out: Tensor, rows: Optional[Tensor] = None,
              cols: Optional[Tensor] = None) -> Tensor:
    """A Gram block of materialised per-example gradients.

    Args:
        x, net, grad_out: as for ``per_example_grads``.
        rows, cols (Tensor, optional): int64 point indices (all points where None).

    Returns:
        Tensor[len(rows), len(cols)]: ``g[rows] @ g[cols].T``.
    """
    g = network.flat_per_example_grads(net, x, grad_out)
    gr = g if rows is None else g[rows]
    gc = g if cols is None else g[cols]
    return gr @ gc.T


def region_grad_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor, ids: Tensor,
                      num_regions: int) -> tuple[Tensor, Tensor]:
    """Explicit per-region sums of materialised gradients.

    Args:
        x, net, grad_out: as for ``per_example_grads``.
        ids (Tensor[N]): int64 region ids in 0..num_regions-1.
        num_regions (int): R.

    Returns:
        tuple[Tensor, Tensor]: ``||sum_{S_r} g_i||`` ``[R]`` and ``sum_{S_r} ||g_i||`` ``[R]``.
    """
    g = network.flat_per_example_grads(net, x, grad_out)
    sums = g.new_zeros((int(num_regions), g.shape[1])).index_add_(0, ids, g)
    norms = g.new_zeros((int(num_regions),)).index_add_(0, ids, g.norm(dim=1))
    return sums.norm(dim=1), norms


def confusion_from_gram(gram: Tensor, norms_rows: Tensor, norms_cols: Tensor) -> Tensor:
    """c_ij = G_ij / (||g_i|| ||g_j||), 0 where either norm is 0.

    Args:
        gram (Tensor[R, C]): a Gram block.
        norms_rows (Tensor[R]), norms_cols (Tensor[C]): the gradient norms of its rows and
            columns.

    Returns:
        Tensor[R, C]: the confusion block.
    """
    denom = norms_rows[:, None] * norms_cols[None, :]
    return torch.where(denom > 0, gram / torch.where(denom > 0, denom, 1), 0)
