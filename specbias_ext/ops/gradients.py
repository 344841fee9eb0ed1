"""Wrappers and fake kernels of the gradient ops: per-example gradient norms, inner products,
Gram blocks and per-region sums, over ALL parameters of a described network.

g_i is the gradient over every weight and bias of example i's loss, whose derivative with
respect to the network output is ``grad_out[i]`` (``[N, out]``; ``measure.mse_grad_out`` for
the MSE); it is never materialised. Each op takes ``(x, net, grad_out, ...)``: ``x [N, D]`` the
points the first layer reads (already encoded), float32 or float64, and ``net`` a
``ReluNetwork`` (``relu_network(model)``, or ``ReluNetwork.of(weights, biases)`` for lists);
bias-free layers, LeakyReLU, input skips and residual layers follow the recurrences in
``specbias_ext.nets.network``.
"""
from __future__ import annotations

from typing import Optional

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import ReluNetwork
from . import _fake_checks as checks
from ._schema_args import feature_width, network_args, size_arg

Tensor = torch.Tensor
_ops = torch.ops.specbias


def per_example_grad_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor) -> Tensor:
    """Squared per-example gradient norms, split by layer.

    Args:
        x (Tensor[N, D]): the encoded points, in the network's dtype and on its device.
        net (ReluNetwork): the network.
        grad_out (Tensor[N, out]): dl_i / df(x_i), in x's dtype.

    Returns:
        Tensor[N, L+1]: column l is ||g_i||^2's part from layer l's weight and bias (if it has
        one); the row sums are ||g_i||^2.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.per_example_grad_norms(x, weights, biases, grad_out, **keywords)


def grad_dots(x: Tensor, net: ReluNetwork, grad_out: Tensor, i: Tensor, j: Tensor) -> Tensor:
    """Inner products of the per-example gradients of index pairs.

    Args:
        x (Tensor[N, D]): the encoded points, in the network's dtype and on its device.
        net (ReluNetwork): the network.
        grad_out (Tensor[N, out]): dl_i / df(x_i), in x's dtype.
        i, j (Tensor[P]): int64 point indices.

    Returns:
        Tensor[P]: ``<g_i[p], g_j[p]>``.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.grad_dots(x, weights, biases, grad_out, i, j, **keywords)


def grad_gram(x: Tensor, net: ReluNetwork, grad_out: Tensor, rows: Optional[Tensor] = None,
              cols: Optional[Tensor] = None) -> Tensor:
    """A block of the per-example gradient Gram matrix ``G_ab = <g_a, g_b>``.

    Tiled, so memory is the output plus O(N * width).

    Args:
        x (Tensor[N, D]): the encoded points, in the network's dtype and on its device.
        net (ReluNetwork): the network.
        grad_out (Tensor[N, out]): dl_i / df(x_i), in x's dtype.
        rows, cols (Tensor, optional): int64 point indices of the block's rows and columns (all
            points where None).

    Returns:
        Tensor[len(rows), len(cols)]: ``G[rows][:, cols]``.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.grad_gram(x, weights, biases, grad_out, rows, cols, **keywords)


def region_grad_norms(x: Tensor, net: ReluNetwork, grad_out: Tensor, ids: Tensor,
                      num_regions: int) -> tuple[Tensor, Tensor]:
    """The norm of the summed and the sum of the norms of the per-example gradients in each
    region, exact for every region; their ratio is the region coherence in [0, 1].

    Args:
        x (Tensor[N, D]): the encoded points, in the network's dtype and on its device.
        net (ReluNetwork): the network.
        grad_out (Tensor[N, out]): dl_i / df(x_i), in x's dtype.
        ids (Tensor[N]): int64 region id of every point, in 0..num_regions-1 (``region_ids``).
        num_regions (int): R; may be a SymInt (``counts.numel()`` of ``region_ids`` under
            torch.compile).

    Returns:
        tuple[Tensor, Tensor]: ``norm_of_sum [R]``, ``||sum_{i in S_r} g_i||``, and
        ``sum_of_norms [R]``, ``sum_{i in S_r} ||g_i||``.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.region_grad_norms(x, weights, biases, grad_out, ids,
                                  size_arg(num_regions, "num_regions"), **keywords)


# ----------------------------------------------------------------------------- fake kernels


def _check(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns) -> None:
    checks.check_network(x, weights, biases, slopes, input_skip, residual, skip_columns)
    checks.check_grad_out(grad_out, x, weights)


@torch.library.register_fake("specbias::per_example_grad_norms")
def _per_example_grad_norms_fake(x, weights, biases, grad_out, *, slopes=None,
                                 input_skip=None, residual=None, skip_columns=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns)
    return x.new_empty((x.shape[0], len(weights)))


@torch.library.register_fake("specbias::grad_dots")
def _grad_dots_fake(x, weights, biases, grad_out, i, j, *, slopes=None, input_skip=None,
                    residual=None, skip_columns=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns)
    checks.check_pairs(i, j, x.device)
    return x.new_empty((i.shape[0],))


@torch.library.register_fake("specbias::grad_gram")
def _grad_gram_fake(x, weights, biases, grad_out, rows=None, cols=None, *, slopes=None,
                    input_skip=None, residual=None, skip_columns=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns)
    for name, idx in (("rows", rows), ("cols", cols)):
        if idx is not None:
            checks.check_indices(idx, name, x.device)
    n_rows = x.shape[0] if rows is None else rows.shape[0]
    n_cols = x.shape[0] if cols is None else cols.shape[0]
    return x.new_empty((n_rows, n_cols))


@torch.library.register_fake("specbias::region_grad_norms")
def _region_grad_norms_fake(x, weights, biases, grad_out, ids, num_regions, *, slopes=None,
                            input_skip=None, residual=None, skip_columns=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual, skip_columns)
    checks.check_region_ids(ids, num_regions, x)
    return x.new_empty((num_regions,)), x.new_empty((num_regions,))
