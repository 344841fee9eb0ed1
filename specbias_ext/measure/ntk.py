"""The empirical neural tangent kernel ``K_ij = <grad_theta f(x_i), grad_theta f(x_j)>``.

It is a Gram of OUTPUT gradients (not of loss gradients): the gradient Gram of ``grad_gram`` with
``grad_out = 1`` at every point, for a network with a scalar head.
"""
from __future__ import annotations

from typing import Optional

import torch

from .. import ops
from ..nets.network import ReluNetwork, require_network

Tensor = torch.Tensor


def empirical_ntk(x: Tensor, net: ReluNetwork, rows: Optional[Tensor] = None,
                  cols: Optional[Tensor] = None) -> Tensor:
    """A block of the empirical NTK of a network with one output.

    For vector outputs pick an output and call ``ops.grad_gram`` with a one-hot ``grad_out``.

    Args:
        x (Tensor[N, D]): the encoded points.
        net (ReluNetwork): a network with a scalar head.
        rows, cols (Tensor, optional): int64 point indices (all points where None).

    Returns:
        Tensor[len(rows), len(cols)]: ``K[rows][:, cols]``.
    """
    net = require_network(net)
    if net.out_dim != 1:
        raise ValueError(f"net: empirical_ntk needs a scalar head (1 output), got "
                         f"{net.out_dim} outputs; use grad_gram with a one-hot grad_out instead")
    grad_out = torch.ones((x.shape[0], 1), dtype=x.dtype, device=x.device)
    return ops.grad_gram(x, net, grad_out, rows, cols)
