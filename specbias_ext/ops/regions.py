"""Wrappers and fake kernels of the region ops: activation patterns, region ids, Hamming
distances and per-neuron bit counts.

Pattern bit k (hidden neurons of all layers concatenated, layer 0 first) is 1 iff the neuron's
pre-activation is > 0, whatever the activation (ReLU or LeakyReLU); it is packed as int64 word
k // 64, bit k % 64. ``x[N, D]`` is what enters the network's first layer (already encoded),
float32 or float64. See ``specbias_ext.reference`` for plain-torch versions.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import ReluNetwork, split_network
from . import _fake_checks as checks
from ._network_args import network_args, size_arg

Tensor = torch.Tensor
_ops = torch.ops.specbias


def activation_patterns(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Packed activation patterns ``int64 [N, ceil(H/64)]`` of all hidden layers at ``x``.

    Call as ``activation_patterns(x, net)`` with a ``ReluNetwork`` or
    ``activation_patterns(x, weights, biases)``. Runs the forward pass itself in tiles of
    points, so peak memory stays near the output size plus one tile whatever N is;
    ``net.layer_bit_ranges()`` says which bits are which layer.
    """
    net, _ = split_network(net, args, (), kwargs)
    weights, biases, kw = network_args(net)
    return _ops.activation_patterns(x, weights, biases, **kw)


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    """``(ids int64 [N], counts int64 [R])``: the linear region of every row of ``patterns``.

    Ids are 0..R-1 in order of first appearance along the rows, so they are identical on CPU and
    GPU; ``counts[r]`` is the number of rows in region r (R = the region count; under
    torch.compile ``counts.numel()`` is a data-dependent size that can be passed on to
    ``region_grad_norms``).
    """
    return _ops.region_ids(patterns)


def hamming_pairs(patterns: Tensor, i: Tensor, j: Tensor,
                  segments: Optional[Sequence[int]] = None) -> Tensor:
    """Hamming distances ``int64 [P]`` between the patterns of rows ``i[p]`` and ``j[p]``.

    With ``segments`` (bit boundaries ``[b0, b1, ..., bS]``) the result is ``[P, S]``: the distance
    restricted to bits b_s..b_{s+1}-1 for each s. ``hamming_pairs_per_layer`` passes the layers.
    """
    return _ops.hamming_pairs(patterns, i, j, None if segments is None else list(segments))


def _layer_bounds(net_or_weights) -> list[int]:
    if isinstance(net_or_weights, ReluNetwork):
        return [0] + [end for _, end in net_or_weights.layer_bit_ranges()]
    bounds = [0]
    for w in list(net_or_weights)[:-1]:
        bounds.append(bounds[-1] + int(w.shape[0]))
    return bounds


def hamming_pairs_per_layer(patterns: Tensor, i: Tensor, j: Tensor, net) -> Tensor:
    """Per-layer Hamming distances ``int64 [P, L]`` for the L hidden layers of ``net`` (a
    ``ReluNetwork`` or the ``weights`` list)."""
    return hamming_pairs(patterns, i, j, _layer_bounds(net))


def hamming_neighbors(patterns: Tensor, grid_shape: Sequence[int]) -> list[Tensor]:
    """Hamming distance from each grid point to its next neighbour along each axis.

    Rows of ``patterns`` are the grid points in row-major order. For a 1D grid ``(N,)`` the result
    is ``[d0]`` with ``d0[n] = H(p[n], p[n+1])`` of shape ``[N-1]``; for a 2D grid ``(H, W)`` it is
    ``[d0, d1]`` with ``d0`` ``[H-1, W]`` (down) and ``d1`` ``[H, W-1]`` (right); a 3D grid
    likewise gives one tensor per axis, that axis one shorter. Sizes may be SymInts
    (``(x.shape[0],)`` under torch.compile with dynamic shapes).
    """
    return list(_ops.hamming_neighbors(patterns, [size_arg(s) for s in grid_shape]))


def bit_counts(patterns: Tensor, net_or_num_bits) -> Tensor:
    """``int64 [num_bits]``: at how many rows each pattern bit (neuron) is on.

    ``net_or_num_bits`` is a ``ReluNetwork`` (all ``net.num_hidden`` neurons) or the number of
    bits. A count of 0 is a dead neuron on these points; a count of N is an always-on neuron.
    """
    if isinstance(net_or_num_bits, ReluNetwork):
        num_bits = net_or_num_bits.num_hidden
    else:
        num_bits = size_arg(net_or_num_bits)
    return _ops.bit_counts(patterns, num_bits)


# ----------------------------------------------------------------------------- fake kernels


@torch.library.register_fake("specbias::activation_patterns")
def _activation_patterns_fake(x, weights, biases, *, slopes=None, input_skip=None,
                              residual=None):
    checks.check_network(x, weights, biases, slopes, input_skip, residual)
    return x.new_empty((x.shape[0], checks.num_pattern_words(weights)), dtype=torch.int64)


@torch.library.register_fake("specbias::region_ids")
def _region_ids_fake(patterns):
    checks.check_patterns(patterns)
    num_regions = torch.library.get_ctx().new_dynamic_size()
    torch._check(num_regions <= patterns.shape[0])
    ids = patterns.new_empty((patterns.shape[0],), dtype=torch.int64)
    return ids, patterns.new_empty((num_regions,), dtype=torch.int64)


@torch.library.register_fake("specbias::hamming_pairs")
def _hamming_pairs_fake(patterns, i, j, segments=None):
    checks.check_patterns(patterns)
    checks.check_pairs(i, j, patterns.device)
    if segments is None:
        return patterns.new_empty((i.shape[0],), dtype=torch.int64)
    if len(segments) < 2:
        raise RuntimeError("segments: expected at least 2 bit boundaries [b0, b1, ...], got "
                           f"{list(segments)}")
    return patterns.new_empty((i.shape[0], len(segments) - 1), dtype=torch.int64)


@torch.library.register_fake("specbias::hamming_neighbors")
def _hamming_neighbors_fake(patterns, grid_shape):
    checks.check_patterns(patterns)
    checks.check_grid_shape(grid_shape, patterns.shape[0])
    out = []
    for axis in range(len(grid_shape)):
        shape = list(grid_shape)
        shape[axis] = torch.sym_max(shape[axis] - 1, 0)
        out.append(patterns.new_empty(shape, dtype=torch.int64))
    return out


@torch.library.register_fake("specbias::bit_counts")
def _bit_counts_fake(patterns, num_bits):
    checks.check_patterns(patterns)
    checks.check_num_bits(num_bits, patterns.shape[1])
    return patterns.new_empty((num_bits,), dtype=torch.int64)
