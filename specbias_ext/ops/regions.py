"""Wrappers and fake kernels of the region ops: activation patterns, region ids, Hamming
distances and per-neuron bit counts.

Pattern bit k (hidden neurons of all layers concatenated, layer 0 first) is 1 iff the neuron's
pre-activation is > 0, whatever the activation (ReLU or LeakyReLU); it is packed as int64 word
k // 64, bit k % 64. ``x[N, D]`` is what enters the network's first layer (already encoded),
float32 or float64; the ops that run the network take it as a ``ReluNetwork``. See
``specbias_ext.reference`` for plain-torch versions.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import ReluNetwork, require_network
from . import _fake_checks as checks
from ._schema_args import feature_width, network_args, size_arg

Tensor = torch.Tensor
_ops = torch.ops.specbias


def activation_patterns(x: Tensor, net: ReluNetwork) -> Tensor:
    """Packed activation patterns of every hidden neuron of ``net`` at the points ``x``.

    Runs the forward pass itself in tiles of points, so peak memory stays near the output size
    plus one tile whatever N is.

    Args:
        x (Tensor[N, D]): the points the first layer reads (already encoded), float32 or
            float64, on the network's device and in its dtype.
        net (ReluNetwork): the network (``relu_network(model)`` or
            ``ReluNetwork.of(weights, biases)``).

    Returns:
        Tensor[N, ceil(H / 64)]: int64 words; bit k of row n (word k // 64, bit k % 64) is 1 iff
        hidden neuron k (layer 0 first, ``net.layer_bit_ranges()``) has a pre-activation > 0.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.activation_patterns(x, weights, biases, **keywords)


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    """The linear region of every row of ``patterns``.

    Ids are 0..R-1 in order of first appearance along the rows, so they are identical on CPU and
    GPU.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns (``activation_patterns``).

    Returns:
        tuple[Tensor, Tensor]: ``ids`` int64 ``[N]`` and ``counts`` int64 ``[R]``, the number of
        rows in each region (R = the region count; under torch.compile ``counts.numel()`` is a
        data-dependent size that can be passed on to ``region_grad_norms``).
    """
    return _ops.region_ids(patterns)


def hamming_pairs(patterns: Tensor, i: Tensor, j: Tensor,
                  segments: Optional[Sequence[int]] = None) -> Tensor:
    """Hamming distances between the patterns of rows ``i[p]`` and ``j[p]``.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns.
        i, j (Tensor[P]): int64 row indices.
        segments (sequence of int, optional): bit boundaries ``[b0, b1, ..., bS]``; the distance
            is then restricted to bits b_s..b_{s+1}-1 for each s (``hamming_pairs_per_layer``
            passes the layers).

    Returns:
        Tensor: int64 ``[P]``, or ``[P, S]`` with ``segments``.
    """
    return _ops.hamming_pairs(patterns, i, j, None if segments is None else list(segments))


def hamming_pairs_per_layer(patterns: Tensor, i: Tensor, j: Tensor, net: ReluNetwork) -> Tensor:
    """Hamming distances between rows ``i[p]`` and ``j[p]``, one per hidden layer of ``net``.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns of ``net``.
        i, j (Tensor[P]): int64 row indices.
        net (ReluNetwork): the network whose layers split the bits.

    Returns:
        Tensor[P, L]: int64, column l counting the differing bits of hidden layer l.
    """
    ranges = require_network(net).layer_bit_ranges()
    return hamming_pairs(patterns, i, j, [0] + [end for _, end in ranges])


def hamming_neighbors(patterns: Tensor, grid_shape: Sequence[int]) -> list[Tensor]:
    """Hamming distance from each grid point to its next neighbour along each axis.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns, rows the grid points in row-major order.
        grid_shape (sequence of int): 1, 2 or 3 sizes whose product is N; they may be SymInts
            (``(x.shape[0],)`` under torch.compile with dynamic shapes).

    Returns:
        list[Tensor]: one int64 tensor per axis, the grid shape with that axis one shorter: for
        ``(N,)`` ``[d0]`` with ``d0[n] = H(p[n], p[n+1])``; for ``(H, W)`` ``[d0, d1]``, ``d0``
        ``[H-1, W]`` (down) and ``d1`` ``[H, W-1]`` (right).
    """
    return list(_ops.hamming_neighbors(patterns, [size_arg(s, "grid_shape") for s in grid_shape]))


def bit_counts(patterns: Tensor, num_bits: int) -> Tensor:
    """At how many rows each of the first ``num_bits`` pattern bits (neurons) is on.

    A count of 0 is a dead neuron on these points; a count of N is an always-on neuron.

    Args:
        patterns (Tensor[N, W]): int64 packed patterns.
        num_bits (int): how many bits to count, at most 64 W (``net.num_hidden`` for every
            neuron of ``net``); may be a SymInt.

    Returns:
        Tensor[num_bits]: int64 counts.
    """
    return _ops.bit_counts(patterns, size_arg(num_bits, "num_bits"))


# ----------------------------------------------------------------------------- fake kernels


@torch.library.register_fake("specbias::activation_patterns")
def _activation_patterns_fake(x, weights, biases, *, slopes=None, input_skip=None,
                              residual=None, skip_columns=None):
    checks.check_network(x, weights, biases, slopes, input_skip, residual, skip_columns)
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
