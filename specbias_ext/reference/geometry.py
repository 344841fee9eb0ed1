"""Reference geometry: boundary distance and coordinate gradients with torch.func, for any
described network (ReluNetwork) and any differentiable encoding function.

Forward-mode derivatives come from ``torch.func.jvp`` (one call per coordinate dimension) on the
composed function coordinates -> encoding -> hidden pre-activations / output of the plain-torch
network forward (``reference.network``), so nothing of the ops' stacked-tangent scheme is reused.
The ``*_encoded`` references start from encoded points and their Jacobian instead: the network's
jvp along each column of the Jacobian.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch.func import jvp

from ..nets.network import ReluNetwork, as_network
from .network import forward, hidden_preactivations

Tensor = torch.Tensor


def encode_affine_sine(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor) -> Tensor:
    """``where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset)``."""
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
    """``[N, H]``: every hidden neuron's first-order distance ``|z_lk| / ||grad_c z_lk||`` (inf
    where the gradient is zero) for the network ``net`` on ``encode(coords)``."""
    if coords.shape[0] == 0:
        return coords.new_zeros((0, net.num_hidden))
    z, tangents = _axis_tangents(lambda c: _hidden(net)(encode(c)), coords)
    return _distances(z, tangents)


def neuron_distances_encoded(x: Tensor, x_jacobian: Tensor, net: ReluNetwork) -> Tensor:
    """``[N, H]`` per-neuron distances from encoded points and their Jacobian."""
    if x.shape[0] == 0:
        return x.new_zeros((0, net.num_hidden))
    z, tangents = _jacobian_tangents(_hidden(net), x, x_jacobian)
    return _distances(z, tangents)


def _no_distance(like: Tensor) -> tuple[Tensor, Tensor]:
    return (like.new_full((0,), float("inf")),
            torch.full((0,), -1, dtype=torch.int64, device=like.device))


def boundary_distance_through(coords: Tensor, encode: Callable[[Tensor], Tensor],
                              net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """``(min_{l,k} |z_lk| / ||grad_c z_lk||, argmin)`` at coords ``[N, D]`` for the network
    ``net`` on ``encode(coords)``; zero-gradient neurons count as inf, argmin -1 where every
    neuron is inf."""
    if coords.shape[0] == 0:
        return _no_distance(coords)
    return _min_distance(neuron_distances_through(coords, encode, net))


def coord_gradients_through(coords: Tensor, encode: Callable[[Tensor], Tensor],
                            net: ReluNetwork) -> Tensor:
    """``[N, out, D]``: gradient of ``net(encode(c))`` w.r.t. the coordinates."""
    if coords.shape[0] == 0:
        return coords.new_zeros((0, net.out_dim, coords.shape[1]))
    _, tangents = _axis_tangents(lambda c: _output(net)(encode(c)), coords)
    return torch.stack(tangents, dim=2)


def boundary_distance_encoded(x: Tensor, x_jacobian: Tensor,
                              net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """The boundary distance from encoded points ``x [N, E]`` with ``x_jacobian [N, E, D]``."""
    if x.shape[0] == 0:
        return _no_distance(x)
    return _min_distance(neuron_distances_encoded(x, x_jacobian, net))


def coord_gradients_encoded(x: Tensor, x_jacobian: Tensor, net: ReluNetwork) -> Tensor:
    """``[N, out, D]`` from encoded points ``x [N, E]`` with ``x_jacobian [N, E, D]``."""
    if x.shape[0] == 0:
        return x.new_zeros((0, net.out_dim, x_jacobian.shape[2]))
    _, tangents = _jacobian_tangents(_output(net), x, x_jacobian)
    return torch.stack(tangents, dim=2)


def _affine_sine(matrix, offset, periodic):
    return lambda c: encode_affine_sine(c, matrix, offset, periodic)


def boundary_distance(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                      net, biases: Optional[Sequence[Optional[Tensor]]] = None
                      ) -> tuple[Tensor, Tensor]:
    """``boundary_distance_through`` for an encoding in affine-sine form; ``net`` is a
    ReluNetwork or the weights list (then ``biases`` follows)."""
    return boundary_distance_through(coords, _affine_sine(matrix, offset, periodic),
                                     as_network(net, biases))


def coord_gradients(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor, net,
                    biases: Optional[Sequence[Optional[Tensor]]] = None) -> Tensor:
    """``coord_gradients_through`` for an encoding in affine-sine form."""
    return coord_gradients_through(coords, _affine_sine(matrix, offset, periodic),
                                   as_network(net, biases))
