"""Reference geometry: boundary distance and coordinate gradients with torch.func, for any
described network (ReluNetwork) and any differentiable encoding function.

Forward-mode derivatives come from ``torch.func.jvp`` (one call per coordinate dimension) on the
composed function coordinates -> encoding -> hidden pre-activations / output of the plain-torch
network forward (``reference.network``), so nothing of the ops' stacked-tangent scheme is reused.
The ``*_encoded`` references start from encoded points and their Jacobian instead: the network's
jvp along each column of the Jacobian.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import jvp

from ..nets.network import ReluNetwork, require_network
from .network import forward, hidden_preactivations

Tensor = torch.Tensor


def encode_affine_sine(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor) -> Tensor:
    """An encoding in affine-sine form.

    Args:
        coords (Tensor[N, D]): coordinates.
        matrix (Tensor[E, D]), offset (Tensor[E]), periodic (Tensor[E], bool): the form.

    Returns:
        Tensor[N, E]: ``where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset)``.
    """
    u = coords @ matrix.T + offset
    return torch.where(periodic, torch.sin(u), u)


def _hidden(net: ReluNetwork) -> Callable[[Tensor], Tensor]:
    return lambda x: torch.cat(hidden_preactivations(net, x), dim=1)


def _output(net: ReluNetwork) -> Callable[[Tensor], Tensor]:
    return lambda x: forward(net, x)


def _axis_tangents(fn, coords: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Value of fn(coords) and its derivative along each coordinate axis (jvp per axis)."""
    value, tangents = None, []
    for d in range(coords.shape[1]):
        direction = torch.zeros_like(coords)
        direction[:, d] = 1
        value, tangent = jvp(fn, (coords,), (direction,))
        tangents.append(tangent)
    return value, tangents


def _jacobian_tangents(fn, x: Tensor, x_jacobian: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Value of fn(x) and its jvp along x_jacobian[:, :, d] for each d (the chain rule)."""
    value, tangents = None, []
    for d in range(x_jacobian.shape[2]):
        value, tangent = jvp(fn, (x,), (x_jacobian[:, :, d].contiguous(),))
        tangents.append(tangent)
    return value, tangents


def _distances(z: Tensor, tangents: Sequence[Tensor]) -> Tensor:
    grad_norm = torch.stack(tangents, dim=0).pow(2).sum(0).sqrt()
    return torch.where(grad_norm > 0, z.abs() / grad_norm, torch.full_like(z, float("inf")))


def _min_distance(dist: Tensor) -> tuple[Tensor, Tensor]:
    best, arg = dist.min(dim=1)  # first index on ties
    arg = torch.where(torch.isinf(best), torch.full_like(arg, -1), arg)
    return best, arg


def neuron_distances_through(coords: Tensor, encode: Callable[[Tensor], Tensor],
                             net: ReluNetwork) -> Tensor:
    """Every hidden neuron's first-order distance ``|z_lk| / ||grad_c z_lk||`` for the network
    on ``encode(coords)``.

    Args:
        coords (Tensor[N, D]): coordinates before the encoding.
        encode (callable): a differentiable encoding ``[N, D] -> [N, E]``.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        Tensor[N, H]: the distances, inf where a neuron's coordinate gradient is zero.
    """
    net = require_network(net)
    if coords.shape[0] == 0:
        return coords.new_zeros((0, net.num_hidden))
    z, tangents = _axis_tangents(lambda c: _hidden(net)(encode(c)), coords)
    return _distances(z, tangents)


def neuron_distances_encoded(x: Tensor, x_jacobian: Tensor, net: ReluNetwork) -> Tensor:
    """``neuron_distances_through`` from encoded points and their Jacobian.

    Args:
        x (Tensor[N, E]): the encoded points.
        x_jacobian (Tensor[N, E, D]): ``d x_e / d c_d`` at every point.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        Tensor[N, H]: the distances, inf where a neuron's coordinate gradient is zero.
    """
    net = require_network(net)
    if x.shape[0] == 0:
        return x.new_zeros((0, net.num_hidden))
    z, tangents = _jacobian_tangents(_hidden(net), x, x_jacobian)
    return _distances(z, tangents)


def _no_distance(like: Tensor) -> tuple[Tensor, Tensor]:
    return (like.new_full((0,), float("inf")),
            torch.full((0,), -1, dtype=torch.int64, device=like.device))


def boundary_distance_through(coords: Tensor, encode: Callable[[Tensor], Tensor],
                              net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """The nearest neuron's distance ``min_{l,k} |z_lk| / ||grad_c z_lk||`` and which neuron.

    Args:
        coords, encode, net: as for ``neuron_distances_through``.

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]`` (the first index on
        ties; inf and -1 where every neuron's gradient is zero).
    """
    net = require_network(net)
    if coords.shape[0] == 0:
        return _no_distance(coords)
    return _min_distance(neuron_distances_through(coords, encode, net))


def coord_gradients_through(coords: Tensor, encode: Callable[[Tensor], Tensor],
                            net: ReluNetwork) -> Tensor:
    """The gradient of ``net(encode(c))`` with respect to the coordinates.

    Args:
        coords, encode, net: as for ``neuron_distances_through``.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point.
    """
    net = require_network(net)
    if coords.shape[0] == 0:
        return coords.new_zeros((0, net.out_dim, coords.shape[1]))
    _, tangents = _axis_tangents(lambda c: _output(net)(encode(c)), coords)
    return torch.stack(tangents, dim=2)


def boundary_distance_encoded(x: Tensor, x_jacobian: Tensor,
                              net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """``boundary_distance_through`` from encoded points and their Jacobian.

    Args:
        x, x_jacobian, net: as for ``neuron_distances_encoded``.

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]``.
    """
    net = require_network(net)
    if x.shape[0] == 0:
        return _no_distance(x)
    return _min_distance(neuron_distances_encoded(x, x_jacobian, net))


def coord_gradients_encoded(x: Tensor, x_jacobian: Tensor, net: ReluNetwork) -> Tensor:
    """``coord_gradients_through`` from encoded points and their Jacobian.

    Args:
        x, x_jacobian, net: as for ``neuron_distances_encoded``.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point.
    """
    net = require_network(net)
    if x.shape[0] == 0:
        return x.new_zeros((0, net.out_dim, x_jacobian.shape[2]))
    _, tangents = _jacobian_tangents(_output(net), x, x_jacobian)
    return torch.stack(tangents, dim=2)


def _affine_sine(matrix, offset, periodic):
    return lambda c: encode_affine_sine(c, matrix, offset, periodic)


def boundary_distance(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                      net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """``boundary_distance_through`` for an encoding in affine-sine form.

    Args:
        coords (Tensor[N, D]): coordinates before the encoding.
        matrix (Tensor[E, D]), offset (Tensor[E]), periodic (Tensor[E], bool): the encoding.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]`` (inf and -1 where
        every neuron has zero gradient).
    """
    return boundary_distance_through(coords, _affine_sine(matrix, offset, periodic), net)


def coord_gradients(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                    net: ReluNetwork) -> Tensor:
    """``coord_gradients_through`` for an encoding in affine-sine form.

    Args:
        coords, matrix, offset, periodic, net: as for ``boundary_distance``.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point.
    """
    return coord_gradients_through(coords, _affine_sine(matrix, offset, periodic), net)
