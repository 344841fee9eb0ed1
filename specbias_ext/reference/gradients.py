"""Reference gradient quantities from materialised per-example gradients (torch.func).

g_i = grad over all parameters of sum_o grad_out[i, o] * f(x_i)[o]; ``reference.network``'s
``vmap(grad(...))`` gives every g_i explicitly, layer by layer (``[N, out_l * in_l (+ out_l)]``,
weight then bias where the layer has one). Memory is N times the parameter count, so these are
for tests on small networks only. Every function takes ``(x, net, grad_out, ...)`` with a
``ReluNetwork`` or the older ``(x, weights, biases, grad_out, ...)``.
"""
from __future__ import annotations

import torch

from ..nets.network import split_network
from . import network

Tensor = torch.Tensor


def per_example_grads(x: Tensor, net, *args, **kwargs) -> list[Tensor]:
    """Per-example gradients by layer: list of ``[N, out_l * in_l (+ out_l)]`` (weight, bias)."""
    net, (grad_out,) = split_network(net, args, ("grad_out",), kwargs)
    return network.per_example_grads(net, x, grad_out)


def per_example_grad_norms(x: Tensor, net, *args, **kwargs) -> Tensor:
    """``[N, L+1]`` squared gradient norms by layer."""
    gs = per_example_grads(x, net, *args, **kwargs)
    return torch.stack([(g * g).sum(1) for g in gs], dim=1)


def flat_per_example_grads(x: Tensor, net, *args, **kwargs) -> Tensor:
    """``[N, P]``: every per-example gradient as one row."""
    net, (grad_out,) = split_network(net, args, ("grad_out",), kwargs)
    return network.flat_per_example_grads(net, x, grad_out)


def grad_dots(x: Tensor, net, *args, **kwargs) -> Tensor:
    """``<g_i[p], g_j[p]>`` ``[P]``; ``grad_dots(x, net, grad_out, i, j)``."""
    net, (grad_out, i, j) = split_network(net, args, ("grad_out", "i", "j"), kwargs)
    g = network.flat_per_example_grads(net, x, grad_out)
    return (g[i] * g[j]).sum(1)


def grad_gram(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Gram block ``g[rows] @ g[cols].T``; ``grad_gram(x, net, grad_out, rows=None, cols=None)``."""
    net, (grad_out, rows, cols) = split_network(net, args, ("grad_out", "rows", "cols"), kwargs,
                                                {"rows": None, "cols": None})
    g = network.flat_per_example_grads(net, x, grad_out)
    gr = g if rows is None else g[rows]
    gc = g if cols is None else g[cols]
    return gr @ gc.T


def region_grad_norms(x: Tensor, net, *args, **kwargs) -> tuple[Tensor, Tensor]:
    """Explicit sums of materialised gradients: (||sum_{S_r} g_i|| [R], sum_{S_r} ||g_i|| [R]);
    ``region_grad_norms(x, net, grad_out, ids, num_regions)``."""
    net, (grad_out, ids, num_regions) = split_network(
        net, args, ("grad_out", "ids", "num_regions"), kwargs)
    g = network.flat_per_example_grads(net, x, grad_out)
    sums = g.new_zeros((int(num_regions), g.shape[1])).index_add_(0, ids, g)
    norms = g.new_zeros((int(num_regions),)).index_add_(0, ids, g.norm(dim=1))
    return sums.norm(dim=1), norms


def confusion_from_gram(gram: Tensor, norms_rows: Tensor, norms_cols: Tensor) -> Tensor:
    """c_ij = G_ij / (||g_i|| ||g_j||), 0 where either norm is 0."""
    denom = norms_rows[:, None] * norms_cols[None, :]
    return torch.where(denom > 0, gram / torch.where(denom > 0, denom, 1), 0)
