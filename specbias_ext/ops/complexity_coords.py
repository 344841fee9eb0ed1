"""Local complexity from COORDINATES through any encoding.

An encoding in affine-sine form (ours, a ``(matrix, offset, periodic)`` triple, or ``None`` for
raw coordinates) runs inside the fused kernels. Any other differentiable encoding module or
function is evaluated here in chunks of points: for the sampled LC on the hull vertices (taken
in coordinate space, then encoded with the user's module), for the first-order LC with its
``torch.func`` Jacobian; the network part then runs as the ``*_encoded`` kernels.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..nets.encoding_forms import (ENCODED_CHUNK_BYTES, empty_encoded, encoded_chunks,
                                   encoding_form, is_affine_sine, precise)
from ..nets.network import ReluNetwork
from . import complexity as ops_complexity
from .hull import hull_vertices

Tensor = torch.Tensor


def _check_directions(directions: Tensor, coords: Tensor) -> Tensor:
    if not isinstance(directions, Tensor) or directions.dim() != 2 \
            or directions.shape[1] != coords.shape[1]:
        shape = list(directions.shape) if isinstance(directions, Tensor) else \
            type(directions).__name__
        raise ValueError(f"directions: expected a tensor [K, D] with D = {coords.shape[1]} "
                         f"(coords.shape[1]), got {shape}")
    return directions.to(dtype=coords.dtype, device=coords.device)


def sampled_complexity(coords: Tensor, encoding, net: ReluNetwork, directions: Tensor,
                       radius: float, *, include_centre: bool = False,
                       chunk_size: Optional[int] = None) -> Tensor:
    """int32 ``[N, L]``: sampled local complexity of every point (see ``ops.complexity``).

    Args:
        coords: ``[N, D]`` points before the encoding.
        encoding: an encoding object with ``affine_sine()``, a ``(matrix, offset, periodic)``
            triple, ``None`` (raw coordinates), or any torch module or function mapping
            ``[M, D]`` coordinates to ``[M, E]`` features row by row.
        net: the network on the encoded features.
        directions: ``[K, D]`` hull directions (``ops.hull.hull_directions``).
        radius: the hull radius in coordinate units.
        include_centre: add the point itself as a vertex.
        chunk_size: points per chunk for a general encoding (default: about 64 MiB of encoded
            vertices).

    Returns:
        int32 ``[N, L]`` counts per point and hidden layer.
    """
    if is_affine_sine(encoding):
        c, n = precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        return ops_complexity.local_complexity(c, n, matrix, offset, periodic,
                                               _check_directions(directions, c), radius,
                                               include_centre=include_centre)
    directions = _check_directions(directions, coords)
    probe, _ = empty_encoded(coords, encoding)  # checks the module's output; gives E
    features = probe.shape[1]
    vertices = 2 * directions.shape[0] + (1 if include_centre else 0)
    step = _chunk_points(vertices * features * coords.element_size(), chunk_size)
    parts = []
    with torch.no_grad():
        for start in range(0, coords.shape[0], step):
            chunk = coords[start:start + step]
            corners = hull_vertices(chunk, directions, radius, include_centre)
            encoded = encoding(corners.reshape(-1, coords.shape[1]))
            parts.append(ops_complexity.local_complexity_encoded(
                encoded.reshape(chunk.shape[0], vertices, features), net))
    if not parts:
        return ops_complexity.local_complexity_encoded(
            coords.new_zeros((0, vertices, features)), net)
    return torch.cat(parts)


def first_order_complexity(coords: Tensor, encoding, net: ReluNetwork, radii: Sequence[float], *,
                           chunk_size: Optional[int] = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(distance [N], argmin [N], counts int32 [N, L, R])``: first-order local complexity of
    every point for each radius, with the boundary distance of the same pass.

    Encodings as for ``sampled_complexity`` (a general module is differentiated with
    ``torch.func`` in chunks of ``chunk_size`` points). With one of our encodings that needs
    float64 (``encoding.needs_float64``) the pass runs in float64 and the distance comes back in
    coords' dtype.
    """
    if is_affine_sine(encoding):
        c, n = precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        dist, arg, counts = ops_complexity.first_order_complexity(c, n, matrix, offset, periodic,
                                                                  radii)
        return dist.to(coords.dtype), arg, counts
    parts = [ops_complexity.first_order_complexity_encoded(x, net, jac, radii)
             for x, jac in encoded_chunks(coords, encoding, chunk_size)]
    if not parts:
        x, jac = empty_encoded(coords, encoding)
        return ops_complexity.first_order_complexity_encoded(x, net, jac, radii)
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def _chunk_points(bytes_per_point: int, chunk_size: Optional[int]) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size: expected a positive number of points, got {chunk_size}")
        return int(chunk_size)
    return max(1, ENCODED_CHUNK_BYTES // max(1, bytes_per_point))
