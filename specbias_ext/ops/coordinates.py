"""Boundary distance and coordinate gradients from COORDINATES, through any encoding.

An encoding in affine-sine form (ours, a triple, or ``None``) runs inside the fused
``specbias::boundary_distance`` / ``coord_gradients`` kernels; any other differentiable encoding
is evaluated here with its ``torch.func`` Jacobian, in chunks, and the network part runs as the
fused ``*_encoded`` kernels (``ops.geometry`` holds the schema-level wrappers of all four).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..nets.encoding_forms import (empty_encoded, encoded_chunks, encoding_form, is_affine_sine,
                                   precise)
from ..nets.network import ReluNetwork
from . import geometry as ops_geometry

Tensor = torch.Tensor


def boundary_distance(coords: Tensor, encoding, net: ReluNetwork, *,
                      chunk_size: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """``(distance [N], argmin int64 [N])``: first-order distance in COORDINATE space from each
    point to the nearest sign change of a hidden neuron, ``min_{l,k} |z_lk| / ||grad_c z_lk||``.

    ``net`` is a ``ReluNetwork`` (``ReluNetwork.of(weights, biases)`` for lists). ``argmin`` is the global hidden-neuron
    index (layer 0 first). Neurons with zero coordinate gradient count as +inf; a point where all
    do gets ``inf`` and argmin ``-1``. For raw 1D coordinates this is the exact distance to the
    nearest region boundary whenever the point's region is bounded by breakpoints on both sides
    (see docs/geometry.md). A general encoding module or function is differentiated with
    ``torch.func`` in chunks of ``chunk_size`` points (default: about 64 MiB of Jacobian). With
    one of our encodings whose top phases a float32 coordinate cannot carry
    (``encoding.needs_float64``), the pass runs in float64 and the distance is returned in
    coords' dtype.
    """
    if is_affine_sine(encoding):
        c, n = precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        dist, arg = ops_geometry.boundary_distance(c, matrix, offset, periodic, n)
        return dist.to(coords.dtype), arg
    parts = [ops_geometry.boundary_distance_encoded(x, jac, net)
             for x, jac in encoded_chunks(coords, encoding, chunk_size)]
    if not parts:
        return ops_geometry.boundary_distance_encoded(*empty_encoded(coords, encoding), net)
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def coord_gradients(coords: Tensor, encoding, net: ReluNetwork, *,
                    chunk_size: Optional[int] = None) -> Tensor:
    """``[N, out, D]``: gradient of the network output w.r.t. the coordinates (before encoding).

    Encodings and networks as for ``boundary_distance`` (float64 when the encoding needs it).
    """
    if is_affine_sine(encoding):
        c, n = precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        return ops_geometry.coord_gradients(c, matrix, offset, periodic, n).to(coords.dtype)
    parts = [ops_geometry.coord_gradients_encoded(x, jac, net)
             for x, jac in encoded_chunks(coords, encoding, chunk_size)]
    if not parts:
        return ops_geometry.coord_gradients_encoded(*empty_encoded(coords, encoding), net)
    return torch.cat(parts)
