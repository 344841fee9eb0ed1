"""Reference gradient quantities from materialised per-example gradients (torch.func).

g_i = grad over all parameters of sum_o grad_out[i, o] * f(x_i)[o]; torch.func.vmap(grad(...))
gives every g_i explicitly, layer by layer ([N, out_l * in_l + out_l], weight then bias). Memory
is N times the parameter count, so these are for tests on small networks only.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.func import grad, vmap

Tensor = torch.Tensor


def _mlp_forward(params: Sequence[Tensor], x: Tensor) -> Tensor:
    n_layers = len(params) // 2
    a = x
    for l in range(n_layers):
        a = a @ params[2 * l].T + params[2 * l + 1]
        if l < n_layers - 1:
            a = torch.relu(a)
    return a


def per_example_grads(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                      grad_out: Tensor) -> list[Tensor]:
    """Per-example gradients by layer: list of ``[N, out_l * in_l + out_l]`` (weight, bias)."""
    params = []
    for w, b in zip(weights, biases):
        params += [w.detach(), b.detach()]

    def loss(p, xi, gi):
        return (_mlp_forward(p, xi.unsqueeze(0)).squeeze(0) * gi).sum()

    n = x.shape[0]
    if n == 0:
        return [x.new_zeros((0, w.numel() + b.numel())) for w, b in zip(weights, biases)]
    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x.detach(), grad_out.detach())
    return [torch.cat([grads[2 * l].reshape(n, -1), grads[2 * l + 1].reshape(n, -1)], dim=1)
            for l in range(len(weights))]


def per_example_grad_norms(x, weights, biases, grad_out) -> Tensor:
    """``[N, L+1]`` squared gradient norms by layer."""
    gs = per_example_grads(x, weights, biases, grad_out)
    return torch.stack([(g * g).sum(1) for g in gs], dim=1)


def flat_per_example_grads(x, weights, biases, grad_out) -> Tensor:
    """``[N, P]``: every per-example gradient as one row."""
    return torch.cat(per_example_grads(x, weights, biases, grad_out), dim=1)


def grad_dots(x, weights, biases, grad_out, i: Tensor, j: Tensor) -> Tensor:
    g = flat_per_example_grads(x, weights, biases, grad_out)
    return (g[i] * g[j]).sum(1)


def grad_gram(x, weights, biases, grad_out, rows=None, cols=None) -> Tensor:
    g = flat_per_example_grads(x, weights, biases, grad_out)
    gr = g if rows is None else g[rows]
    gc = g if cols is None else g[cols]
    return gr @ gc.T


def region_grad_norms(x, weights, biases, grad_out, ids: Tensor,
                      num_regions: int) -> tuple[Tensor, Tensor]:
    """Explicit sums of materialised gradients: (||sum_{S_r} g_i|| [R], sum_{S_r} ||g_i|| [R])."""
    g = flat_per_example_grads(x, weights, biases, grad_out)
    sums = g.new_zeros((num_regions, g.shape[1])).index_add_(0, ids, g)
    norms = g.new_zeros((num_regions,)).index_add_(0, ids, g.norm(dim=1))
    return sums.norm(dim=1), norms


def confusion_from_gram(gram: Tensor, norms_rows: Tensor, norms_cols: Tensor) -> Tensor:
    """c_ij = G_ij / (||g_i|| ||g_j||), 0 where either norm is 0."""
    denom = norms_rows[:, None] * norms_cols[None, :]
    return torch.where(denom > 0, gram / torch.where(denom > 0, denom, 1), 0)
