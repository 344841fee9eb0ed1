"""Wrappers and fake kernels of the gradient ops: per-example gradient norms, inner products,
Gram blocks and per-region sums, over ALL parameters of a described network.

g_i is the gradient over every weight and bias of example i's loss, whose derivative with
respect to the network output is ``grad_out[i]`` (``[N, out]``); it is never materialised. Each
op takes ``(x, net, ...)`` with a ``ReluNetwork`` or ``(x, weights, biases, ...)``; bias-free
layers, LeakyReLU, input skips and residual layers follow the recurrences in
``specbias_ext.nets.network``.
"""
from __future__ import annotations

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import split_network
from . import _fake_checks as checks
from ._network_args import network_args, size_arg

Tensor = torch.Tensor
_ops = torch.ops.specbias


def per_example_grad_norms(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Squared per-example gradient norms ``[N, L+1]``, split by layer (weight and bias).

    ``per_example_grad_norms(x, net, grad_out)``: ``grad_out[N, out]`` is dl_i/df(x_i). Row sums
    are ||g_i||^2; column l is the part from layer l's weight and bias (if it has one).
    """
    net, (grad_out,) = split_network(net, args, ("grad_out",), kwargs)
    weights, biases, kw = network_args(net)
    return _ops.per_example_grad_norms(x, weights, biases, grad_out, **kw)


def grad_dots(x: Tensor, net, *args, **kwargs) -> Tensor:
    """``grad_dots(x, net, grad_out, i, j)``: inner products ``<g_i[p], g_j[p]>`` ``[P]``."""
    net, (grad_out, i, j) = split_network(net, args, ("grad_out", "i", "j"), kwargs)
    weights, biases, kw = network_args(net)
    return _ops.grad_dots(x, weights, biases, grad_out, i, j, **kw)


def grad_gram(x: Tensor, net, *args, **kwargs) -> Tensor:
    """``grad_gram(x, net, grad_out, rows=None, cols=None)``: the block
    ``[len(rows), len(cols)]`` of the per-example gradient Gram matrix (all rows/cols if None).

    Tiled, so memory is the output plus O(N * width).
    """
    net, (grad_out, rows, cols) = split_network(net, args, ("grad_out", "rows", "cols"), kwargs,
                                                {"rows": None, "cols": None})
    weights, biases, kw = network_args(net)
    return _ops.grad_gram(x, weights, biases, grad_out, rows, cols, **kw)


def region_grad_norms(x: Tensor, net, *args, **kwargs) -> tuple[Tensor, Tensor]:
    """``region_grad_norms(x, net, grad_out, ids, num_regions)``: ``(norm_of_sum [R],
    sum_of_norms [R])`` of the per-example gradients in each region.

    ``norm_of_sum[r] = ||sum_{i in S_r} g_i||`` and ``sum_of_norms[r] = sum_{i in S_r} ||g_i||``,
    exact for every region; their ratio is the region coherence in [0, 1]. ``num_regions`` may
    be a SymInt (``counts.numel()`` of ``region_ids`` under torch.compile).
    """
    net, (grad_out, ids, num_regions) = split_network(
        net, args, ("grad_out", "ids", "num_regions"), kwargs)
    weights, biases, kw = network_args(net)
    return _ops.region_grad_norms(x, weights, biases, grad_out, ids, size_arg(num_regions), **kw)


# ----------------------------------------------------------------------------- fake kernels


def _check(x, weights, biases, grad_out, slopes, input_skip, residual) -> None:
    checks.check_network(x, weights, biases, slopes, input_skip, residual)
    checks.check_grad_out(grad_out, x, weights)


@torch.library.register_fake("specbias::per_example_grad_norms")
def _per_example_grad_norms_fake(x, weights, biases, grad_out, *, slopes=None,
                                 input_skip=None, residual=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual)
    return x.new_empty((x.shape[0], len(weights)))


@torch.library.register_fake("specbias::grad_dots")
def _grad_dots_fake(x, weights, biases, grad_out, i, j, *, slopes=None, input_skip=None,
                    residual=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual)
    checks.check_pairs(i, j, x.device)
    return x.new_empty((i.shape[0],))


@torch.library.register_fake("specbias::grad_gram")
def _grad_gram_fake(x, weights, biases, grad_out, rows=None, cols=None, *, slopes=None,
                    input_skip=None, residual=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual)
    for name, idx in (("rows", rows), ("cols", cols)):
        if idx is not None:
            checks.check_indices(idx, name, x.device)
    n_rows = x.shape[0] if rows is None else rows.shape[0]
    n_cols = x.shape[0] if cols is None else cols.shape[0]
    return x.new_empty((n_rows, n_cols))


@torch.library.register_fake("specbias::region_grad_norms")
def _region_grad_norms_fake(x, weights, biases, grad_out, ids, num_regions, *, slopes=None,
                            input_skip=None, residual=None):
    _check(x, weights, biases, grad_out, slopes, input_skip, residual)
    checks.check_region_ids(ids, num_regions, x)
    return x.new_empty((num_regions,)), x.new_empty((num_regions,))
