"""Boundary distance and coordinate gradients from COORDINATES, through any encoding.

An encoding in affine-sine form (ours, a triple, or ``None``) runs inside the fused
``specbias::boundary_distance`` / ``coord_gradients`` kernels; any other differentiable encoding
is evaluated here with its ``torch.func`` Jacobian, in chunks, and the network part runs as the
fused ``*_encoded`` kernels (``ops.geometry`` holds the schema-level wrappers of all four).
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch

from ..nets.encoding_forms import (EncodingLike, empty_encoded, encoded_chunks, encoding_form,
                                   is_affine_sine, precise)
from ..nets.network import ENCODING_HINT, ReluNetwork, check_input_width, require_network
from . import geometry as ops_geometry

Tensor = torch.Tensor

def _check_width(net: ReluNetwork, encoding: EncodingLike, width) -> None:
    check_input_width(net, width, "coords" if encoding is None else "the encoding's output",
                      ENCODING_HINT)


def _affine_sine(coords: Tensor, encoding: EncodingLike, net: ReluNetwork):
    """``(coords, form triple, net)`` for the fused kernels, in float64 where the encoding
    needs it."""
    c, n = precise(coords, encoding, net)
    form = encoding_form(encoding, c)
    _check_width(n, encoding, form[0].shape[0])
    return c, form, n


def _encoded(coords: Tensor, encoding: EncodingLike, net: ReluNetwork,
             chunk_size: Optional[int]) -> Iterator[tuple[Tensor, Tensor]]:
    """``(x, x_jacobian)`` chunk by chunk (one empty chunk for no points)."""
    empty = True
    for x, jacobian in encoded_chunks(coords, encoding, chunk_size):
        empty = False
        _check_width(net, encoding, x.shape[1])
        yield x, jacobian
    if empty:
        x, jacobian = empty_encoded(coords, encoding)
        _check_width(net, encoding, x.shape[1])
        yield x, jacobian


def boundary_distance(coords: Tensor, encoding: EncodingLike, net: ReluNetwork, *,
                      chunk_size: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """First-order distance in COORDINATE space from each point to the nearest sign change of a
    hidden neuron, ``min_{l,k} |z_lk| / ||grad_c z_lk||``.

    Neurons with zero coordinate gradient count as +inf. For raw 1D coordinates this is the
    exact distance to the nearest region boundary whenever the point's region is bounded by
    breakpoints on both sides (see docs/geometry.md). With one of our encodings whose top phases
    a float32 coordinate cannot carry (``encoding.needs_float64``), the pass runs in float64
    and the distance is returned in coords' dtype.

    Args:
        coords (Tensor[N, D]): coordinates before the encoding, float32 or float64.
        encoding (EncodingLike): one of ours (``model.encoding``), an affine-sine
            ``(matrix, offset, periodic)`` triple, None for raw coordinates, or any
            differentiable module or function ``[N, D] -> [N, E]``, differentiated with
            ``torch.func`` in chunks.
        net (ReluNetwork): the network on the encoded features.
        chunk_size (int, optional): points per chunk of a general encoding (default: about
            64 MiB of Jacobian).

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]``, the global
        hidden-neuron index of the minimiser (layer 0 first); a point where every neuron has
        zero gradient gets ``inf`` and ``-1``.
    """
    net = require_network(net)
    if is_affine_sine(encoding):
        c, form, n = _affine_sine(coords, encoding, net)
        dist, arg = ops_geometry.boundary_distance(c, *form, n)
        return dist.to(coords.dtype), arg
    parts = [ops_geometry.boundary_distance_encoded(x, jacobian, net)
             for x, jacobian in _encoded(coords, encoding, net, chunk_size)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def coord_gradients(coords: Tensor, encoding: EncodingLike, net: ReluNetwork, *,
                    chunk_size: Optional[int] = None) -> Tensor:
    """The gradient of the network output with respect to the coordinates (before encoding),
    in float64 when the encoding needs it.

    Args:
        coords (Tensor[N, D]): coordinates before the encoding, float32 or float64.
        encoding (EncodingLike): as for ``boundary_distance``.
        net (ReluNetwork): the network on the encoded features.
        chunk_size (int, optional): points per chunk of a general encoding.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point, in coords' dtype.
    """
    net = require_network(net)
    if is_affine_sine(encoding):
        c, form, n = _affine_sine(coords, encoding, net)
        return ops_geometry.coord_gradients(c, *form, n).to(coords.dtype)
    return torch.cat([ops_geometry.coord_gradients_encoded(x, jacobian, net)
                      for x, jacobian in _encoded(coords, encoding, net, chunk_size)])
