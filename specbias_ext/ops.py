"""Typed wrappers of the torch.ops.specbias ops, and their fake kernels for torch.compile.

Every op takes a ReLU MLP as ``weights[l]`` ``[out_l, in_l]`` and ``biases[l]`` ``[out_l]``
(nn.Linear layout, hidden layers l = 0..L-1, head l = L); ``specbias_ext.mlp_params(model)`` gives
them. ``x[N, D]`` is what enters the first Linear (already encoded), float32 or float64. Pattern
bit k (hidden neurons of all layers concatenated, layer 0 first) is 1 iff the pre-activation is
> 0, packed as word k // 64, bit k % 64. See ``specbias_ext.reference`` for plain-torch versions.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from . import _loader  # noqa: F401  (registers torch.ops.specbias)
from .mlp import num_pattern_words
from .networks import ReluNetwork, as_network

Tensor = torch.Tensor
_ops = torch.ops.specbias


def _as_list(tensors: Sequence[Tensor]) -> list[Tensor]:
    return list(tensors)


def split_network(net_or_weights, args: tuple, names: Sequence[str], kwargs: dict,
                  defaults: dict | None = None) -> tuple[ReluNetwork, list]:
    """Binds a wrapper's arguments for both calling conventions, ``(x, net, *rest)`` and
    ``(x, weights, biases, *rest)``: returns the ReluNetwork and the values of ``names``."""
    args = list(args)
    if isinstance(net_or_weights, ReluNetwork):
        net = net_or_weights
        if "biases" in kwargs:
            raise TypeError("biases: pass either a ReluNetwork or (weights, biases), not both")
    else:
        if "biases" in kwargs:
            biases = kwargs.pop("biases")
        elif args:
            biases = args.pop(0)
        else:
            raise TypeError("biases: expected the biases list after the weights list "
                            "(or pass a ReluNetwork)")
        net = as_network(net_or_weights, biases)
    defaults = defaults or {}
    if len(args) > len(names):
        raise TypeError(f"expected at most {len(names)} arguments after the network, "
                        f"got {len(args)}")
    values = []
    for k, name in enumerate(names):
        if k < len(args):
            if name in kwargs:
                raise TypeError(f"{name}: given twice")
            values.append(args[k])
        elif name in kwargs:
            values.append(kwargs.pop(name))
        elif name in defaults:
            values.append(defaults[name])
        else:
            raise TypeError(f"{name}: missing argument")
    if kwargs:
        raise TypeError(f"unexpected arguments {sorted(kwargs)}")
    return net, values


def _plain_lists(net: ReluNetwork) -> tuple[list[Tensor], list[Tensor]]:
    """The (weights, biases) lists of today's schemas (plain MLPs only, until the network
    description reaches the kernels)."""
    if not net.is_plain:
        raise NotImplementedError("this op does not yet take skips, LeakyReLU, bias-free or "
                                  "residual layers")
    return list(net.weights), list(net.biases)


# ----------------------------------------------------------------------------- region ops


def activation_patterns(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Packed activation patterns ``int64 [N, ceil(H/64)]`` of all hidden layers at ``x``.

    Runs the forward pass itself in tiles of points, so peak memory stays near the output size
    plus one tile whatever N is. ``layer_bit_ranges(weights)`` says which bits are which layer.
    """
    net, _ = split_network(net, args, (), kwargs)
    return _ops.activation_patterns(x, *_plain_lists(net))


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    """``(ids int64 [N], counts int64 [R])``: the linear region of every row of ``patterns``.

    Ids are 0..R-1 in order of first appearance along the rows, so they are identical on CPU and
    GPU; ``counts[r]`` is the number of rows in region r (R = the region count).
    """
    return _ops.region_ids(patterns)


def hamming_pairs(patterns: Tensor, i: Tensor, j: Tensor,
                  segments: Optional[Sequence[int]] = None) -> Tensor:
    """Hamming distances ``int64 [P]`` between the patterns of rows ``i[p]`` and ``j[p]``.

    With ``segments`` (bit boundaries ``[b0, b1, ..., bS]``) the result is ``[P, S]``: the distance
    restricted to bits b_s..b_{s+1}-1 for each s. ``hamming_pairs_per_layer`` passes the layers.
    """
    return _ops.hamming_pairs(patterns, i, j, None if segments is None else list(segments))


def hamming_pairs_per_layer(patterns: Tensor, i: Tensor, j: Tensor,
                            weights: Sequence[Tensor]) -> Tensor:
    """Per-layer Hamming distances ``int64 [P, L]`` (L hidden layers of the MLP ``weights``)."""
    bounds = [0]
    for w in weights[:-1]:
        bounds.append(bounds[-1] + int(w.shape[0]))
    return hamming_pairs(patterns, i, j, bounds)


def hamming_neighbors(patterns: Tensor, grid_shape: Sequence[int]) -> list[Tensor]:
    """Hamming distance from each grid point to its next neighbour along each axis.

    Rows of ``patterns`` are the grid points in row-major order. For a 1D grid ``(N,)`` the result
    is ``[d0]`` with ``d0[n] = H(p[n], p[n+1])`` of shape ``[N-1]``; for a 2D grid ``(H, W)`` it is
    ``[d0, d1]`` with ``d0`` ``[H-1, W]`` (down) and ``d1`` ``[H, W-1]`` (right).
    """
    return list(_ops.hamming_neighbors(patterns, [int(s) for s in grid_shape]))


def bit_counts(patterns: Tensor, num_bits: int) -> Tensor:
    """``int64 [num_bits]``: at how many rows each pattern bit (neuron) is on.

    A count of 0 is a dead neuron on these points; a count of N is an always-on neuron.
    """
    return _ops.bit_counts(patterns, int(num_bits))


# ----------------------------------------------------------------------------- gradient ops


def per_example_grad_norms(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Squared per-example gradient norms ``[N, L+1]``, split by layer (weight and bias).

    ``grad_out[N, out]`` is dl_i/df(x_i). Row sums are ||g_i||^2 with g_i the gradient of example
    i's loss over all parameters; no per-example gradient is materialised.
    """
    net, (grad_out,) = split_network(net, args, ("grad_out",), kwargs)
    return _ops.per_example_grad_norms(x, *_plain_lists(net), grad_out)


def grad_dots(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Per-example gradient inner products ``<g_i[p], g_j[p]>`` ``[P]`` for index pairs."""
    net, (grad_out, i, j) = split_network(net, args, ("grad_out", "i", "j"), kwargs)
    return _ops.grad_dots(x, *_plain_lists(net), grad_out, i, j)


def grad_gram(x: Tensor, net, *args, **kwargs) -> Tensor:
    """Block ``[len(rows), len(cols)]`` of the per-example gradient Gram matrix (all if None).

    Tiled, so memory is the output plus O(N * width).
    """
    net, (grad_out, rows, cols) = split_network(net, args, ("grad_out", "rows", "cols"), kwargs,
                                                {"rows": None, "cols": None})
    return _ops.grad_gram(x, *_plain_lists(net), grad_out, rows, cols)


def region_grad_norms(x: Tensor, net, *args, **kwargs) -> tuple[Tensor, Tensor]:
    """``(norm_of_sum [R], sum_of_norms [R])`` of the per-example gradients in each region.

    ``norm_of_sum[r] = ||sum_{i in S_r} g_i||`` and ``sum_of_norms[r] = sum_{i in S_r} ||g_i||``,
    exact for every region; their ratio is the region coherence in [0, 1].
    """
    net, (grad_out, ids, num_regions) = split_network(
        net, args, ("grad_out", "ids", "num_regions"), kwargs)
    return _ops.region_grad_norms(x, *_plain_lists(net), grad_out, ids, int(num_regions))


# ----------------------------------------------------------------------------- fake kernels


def _check_devices(device, what: str, named: Sequence[tuple[str, Tensor]]) -> None:
    """The device check of the C++ kernels, for the fake kernels: a call mixing a meta (or fake)
    tensor with real ones dispatches to the fake kernel, which must refuse it the same way."""
    for name, t in named:
        if t.device != device:
            raise RuntimeError(f"{name}: expected device {device}{what}, got {t.device}")


@torch.library.register_fake("specbias::activation_patterns")
def _activation_patterns_fake(x, weights, biases, *, slopes=None, input_skip=None,
                              residual=None):
    _check_devices(x.device, " (the device of x)",
                   [(f"weights[{l}]", w) for l, w in enumerate(weights)]
                   + [(f"biases[{l}]", b) for l, b in enumerate(biases) if b is not None])
    return x.new_empty((x.shape[0], num_pattern_words(weights)), dtype=torch.int64)


@torch.library.register_fake("specbias::region_ids")
def _region_ids_fake(patterns):
    num_regions = torch.library.get_ctx().new_dynamic_size()
    ids = patterns.new_empty((patterns.shape[0],), dtype=torch.int64)
    return ids, patterns.new_empty((num_regions,), dtype=torch.int64)


@torch.library.register_fake("specbias::hamming_pairs")
def _hamming_pairs_fake(patterns, i, j, segments=None):
    _check_devices(patterns.device, "", [("i", i), ("j", j)])
    if segments is None:
        return patterns.new_empty((i.shape[0],), dtype=torch.int64)
    return patterns.new_empty((i.shape[0], len(segments) - 1), dtype=torch.int64)


@torch.library.register_fake("specbias::hamming_neighbors")
def _hamming_neighbors_fake(patterns, grid_shape):
    out = []
    for axis in range(len(grid_shape)):
        shape = list(grid_shape)
        shape[axis] = max(shape[axis] - 1, 0)
        out.append(patterns.new_empty(shape, dtype=torch.int64))
    return out


@torch.library.register_fake("specbias::bit_counts")
def _bit_counts_fake(patterns, num_bits):
    return patterns.new_empty((num_bits,), dtype=torch.int64)


@torch.library.register_fake("specbias::per_example_grad_norms")
def _per_example_grad_norms_fake(x, weights, biases, grad_out, *, slopes=None, input_skip=None,
                                 residual=None):
    return x.new_empty((x.shape[0], len(weights)))


@torch.library.register_fake("specbias::grad_dots")
def _grad_dots_fake(x, weights, biases, grad_out, i, j, *, slopes=None, input_skip=None,
                    residual=None):
    return x.new_empty((i.shape[0],))


@torch.library.register_fake("specbias::grad_gram")
def _grad_gram_fake(x, weights, biases, grad_out, rows=None, cols=None, *, slopes=None,
                    input_skip=None, residual=None):
    n_rows = x.shape[0] if rows is None else rows.shape[0]
    n_cols = x.shape[0] if cols is None else cols.shape[0]
    return x.new_empty((n_rows, n_cols))


@torch.library.register_fake("specbias::region_grad_norms")
def _region_grad_norms_fake(x, weights, biases, grad_out, ids, num_regions, *, slopes=None,
                            input_skip=None, residual=None):
    return x.new_empty((num_regions,)), x.new_empty((num_regions,))
