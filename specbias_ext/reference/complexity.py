"""Reference local complexity: sampled and first order, in plain torch.

Sampled: the hull vertices (``ops.hull``, the kernels' vertex arithmetic) are encoded with
``encode_affine_sine`` (or given encoded), every vertex goes through the plain-torch forward of
``reference.network`` as one dense batch, and a neuron counts when its bit ``z > 0`` at some
vertex differs from its bit at vertex 0. First order: the per-neuron distances of
``reference.geometry`` (``torch.func.jvp``) compared with each radius. Dense ``[N, V, H]`` and
``[N, H]`` tensors: for tests on small inputs only.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets.network import ReluNetwork
from ..ops.hull import hull_vertices
from .geometry import (boundary_distance_encoded, boundary_distance_through, encode_affine_sine,
                       neuron_distances_encoded, neuron_distances_through)
from .network import hidden_preactivations
from .patterns import unpack_bits

Tensor = torch.Tensor


def _per_layer_counts(per_neuron: Tensor, net: ReluNetwork) -> Tensor:
    """int32 ``[N, L, ...]``: per-neuron flags ``[N, H, ...]`` summed over each layer's neurons."""
    return torch.stack([per_neuron[:, lo:hi].sum(1) for lo, hi in net.layer_bit_ranges()],
                       dim=1).to(torch.int32)


def local_complexity_encoded(vertices: Tensor, net: ReluNetwork) -> Tensor:
    """int32 ``[N, L]`` from encoded vertices ``[N, V, E]``."""
    n, v, e = vertices.shape
    if n == 0:
        return torch.zeros((0, net.depth), dtype=torch.int32, device=vertices.device)
    z = torch.cat(hidden_preactivations(net, vertices.reshape(n * v, e)), dim=1)
    bits = (z > 0).reshape(n, v, z.shape[1])
    changed = (bits != bits[:, :1]).any(dim=1)  # [N, H]
    return _per_layer_counts(changed, net)


def local_complexity(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                     directions: Tensor, radius: float, include_centre: bool,
                     net: ReluNetwork) -> Tensor:
    """int32 ``[N, L]``: the sampled local complexity at coords ``[N, D]`` through the
    affine-sine encoding ``(matrix, offset, periodic)``."""
    corners = hull_vertices(coords, directions, radius, include_centre)
    n, v, d = corners.shape
    encoded = encode_affine_sine(corners.reshape(n * v, d), matrix, offset, periodic)
    return local_complexity_encoded(encoded.reshape(n, v, encoded.shape[1]), net)


def grid_complexity(patterns: Tensor, grid_shape: Sequence[int], steps: Sequence[int],
                    segments: Sequence[int], include_centre: bool = False) -> Tensor:
    """int32 ``[prod(grid_shape - 2 steps), S]`` from the packed patterns of a grid: the hull of
    grid point i is the grid points ``i +- steps[d] e_d`` (and i with include_centre), taken by
    slicing the unpacked bit grid; a bit counts when it differs from the first vertex's."""
    shape = [int(s) for s in grid_shape]
    if any(n - 2 * s <= 0 for n, s in zip(shape, steps)):
        return torch.zeros((0, len(segments) - 1), dtype=torch.int32, device=patterns.device)
    bits = unpack_bits(patterns, int(segments[-1])).reshape(*shape, -1)
    inner = [slice(s, n - s) for n, s in zip(shape, steps)]
    vertices = [bits[tuple(inner)]] if include_centre else []
    for axis, step in enumerate(steps):
        for sign in (1, -1):
            moved = list(inner)
            moved[axis] = slice(step + sign * step, shape[axis] - step + sign * step)
            vertices.append(bits[tuple(moved)])
    points = 1
    for n, s in zip(shape, steps):
        points *= n - 2 * s
    stacked = torch.stack(vertices).reshape(len(vertices), points, bits.shape[-1])
    changed = (stacked != stacked[:1]).any(dim=0)
    return torch.stack([changed[:, lo:hi].sum(1) for lo, hi in zip(segments[:-1], segments[1:])],
                       dim=1).to(torch.int32)


def _within(per_neuron: Tensor, radii: Sequence[float], net: ReluNetwork) -> Tensor:
    """int32 ``[N, L, R]``: per layer, the neurons with distance <= each radius (inf never)."""
    radii_t = torch.tensor([float(r) for r in radii], dtype=per_neuron.dtype,
                           device=per_neuron.device)
    if per_neuron.shape[0] == 0:
        return torch.zeros((0, net.depth, len(radii)), dtype=torch.int32,
                           device=per_neuron.device)
    return _per_layer_counts(per_neuron.unsqueeze(-1) <= radii_t, net)


def first_order_complexity(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                           radii: Sequence[float],
                           net: ReluNetwork) -> tuple[Tensor, Tensor, Tensor]:
    """``(distance [N], argmin [N], counts int32 [N, L, R])``: first-order LC at coords through
    the affine-sine encoding, per radius."""
    encode = lambda c: encode_affine_sine(c, matrix, offset, periodic)  # noqa: E731
    dist, arg = boundary_distance_through(coords, encode, net)
    return dist, arg, _within(neuron_distances_through(coords, encode, net), radii, net)


def first_order_complexity_encoded(x: Tensor, x_jacobian: Tensor, radii: Sequence[float],
                                   net: ReluNetwork) -> tuple[Tensor, Tensor, Tensor]:
    """The same from encoded points ``x [N, E]`` and their Jacobian ``[N, E, D]``."""
    dist, arg = boundary_distance_encoded(x, x_jacobian, net)
    return dist, arg, _within(neuron_distances_encoded(x, x_jacobian, net), radii, net)
