"""Reference geometry: boundary distance and coordinate gradients with torch.func, per point.

Forward-mode derivatives come from ``torch.func.jvp`` (one call per coordinate dimension) on the
composed function coordinates -> encoding -> hidden pre-activations / output, so nothing of the
ops' stacked-tangent scheme is reused here.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.func import jvp

Tensor = torch.Tensor


def encode_affine_sine(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor) -> Tensor:
    """``where(periodic, sin(c @ matrix.T + offset), c @ matrix.T + offset)``."""
    u = coords @ matrix.T + offset
    return torch.where(periodic, torch.sin(u), u)


def _hidden_and_output(coords, matrix, offset, periodic, weights, biases):
    a = encode_affine_sine(coords, matrix, offset, periodic)
    zs = []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = a @ w.T + b
        zs.append(z)
        a = torch.relu(z)
    return torch.cat(zs, dim=1), a @ weights[-1].T + biases[-1]


def _tangents(fn, coords: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Value of fn(coords) and its derivative along each coordinate axis (jvp per axis)."""
    value = None
    tangents = []
    for d in range(coords.shape[1]):
        direction = torch.zeros_like(coords)
        direction[:, d] = 1
        value, tangent = jvp(fn, (coords,), (direction,))
        tangents.append(tangent)
    return value, tangents


def boundary_distance(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                      weights: Sequence[Tensor], biases: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """``(min_k |z_k| / ||grad z_k||, argmin)``; zero-gradient neurons count as inf, argmin -1
    where every neuron is inf."""
    def hidden(c):
        return _hidden_and_output(c, matrix, offset, periodic, weights, biases)[0]

    z, tangents = _tangents(hidden, coords)
    grad_norm = torch.stack(tangents, dim=0).pow(2).sum(0).sqrt()
    dist = torch.where(grad_norm > 0, z.abs() / grad_norm, torch.full_like(z, float("inf")))
    best, arg = dist.min(dim=1)  # first index on ties
    arg = torch.where(torch.isinf(best), torch.full_like(arg, -1), arg)
    return best, arg


def coord_gradients(coords: Tensor, matrix: Tensor, offset: Tensor, periodic: Tensor,
                    weights: Sequence[Tensor], biases: Sequence[Tensor]) -> Tensor:
    """``[N, out, D]`` gradient of the output w.r.t. the coordinates."""
    def output(c):
        return _hidden_and_output(c, matrix, offset, periodic, weights, biases)[1]

    _, tangents = _tangents(output, coords)
    return torch.stack(tangents, dim=2)
