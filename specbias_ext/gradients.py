"""The gradient measurements with the ``(x, weights, biases, ...)`` calling convention.

Each function builds the network description and calls the one implementation in
``specbias_ext.measure`` (confusion, coherence and their conventions are documented there), so
``confusion_pairs(x, w, b, ...)`` and ``measure.confusion_pairs(x, net, ...)`` are the same code.
The empirical NTK lives here: it is a Gram of output gradients, not of loss gradients.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from . import measure, ops
from .measure.loss import mse_grad_out
from .nets.network import as_network

Tensor = torch.Tensor

__all__ = ["confusion_block", "confusion_pairs", "empirical_ntk", "mse_grad_out",
           "region_coherence"]


def confusion_pairs(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                    grad_out: Tensor, i: Tensor, j: Tensor) -> Tensor:
    """Gradient confusion ``[P]`` of index pairs; see ``measure.confusion_pairs``."""
    return measure.confusion_pairs(x, as_network(weights, biases), grad_out, i, j)


def confusion_block(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                    grad_out: Tensor, rows: Optional[Tensor] = None,
                    cols: Optional[Tensor] = None) -> Tensor:
    """Gradient confusion ``[len(rows), len(cols)]``; see ``measure.confusion_block``."""
    return measure.confusion_block(x, as_network(weights, biases), grad_out, rows, cols)


def region_coherence(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                     grad_out: Tensor, ids: Tensor, num_regions: int) -> Tensor:
    """Region coherence ``[R]`` in [0, 1]; see ``measure.region_coherence``."""
    return measure.region_coherence(x, as_network(weights, biases), grad_out, ids, num_regions)


def empirical_ntk(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor],
                  rows: Optional[Tensor] = None, cols: Optional[Tensor] = None) -> Tensor:
    """Empirical neural tangent kernel ``K_ij = <grad_theta f(x_i), grad_theta f(x_j)>``.

    Needs a scalar head; for vector outputs pick an output and call ``grad_gram`` with a one-hot
    ``grad_out``.
    """
    net = as_network(weights, biases)
    if net.out_dim != 1:
        raise ValueError(f"weights[-1]: empirical_ntk needs a scalar head (1 output), got "
                         f"{net.out_dim} outputs; use grad_gram with a one-hot grad_out instead")
    grad_out = torch.ones((x.shape[0], 1), dtype=x.dtype, device=x.device)
    return ops.grad_gram(x, net, grad_out, rows, cols)
