"""Typed wrappers and fake kernels of the geometry ops (boundary_distance, coord_gradients).

Both start from coordinates ``coords [N, D]`` *before* the encoding, with the encoding given in
affine-sine form ``(enc_matrix [E, D], enc_offset [E], enc_periodic bool [E])``:
``encode(c) = where(enc_periodic, sin(u), u)`` with ``u = c @ enc_matrix.T + enc_offset``.
Every encoding of the project has this form (``Encoding.affine_sine()``); raw coordinates are the
identity matrix, zero offset, nothing periodic. Derivatives w.r.t. the coordinates are carried by
forward mode through the encoding and the network in the same pass as the values.
``specbias_ext.geometry`` has the friendlier entry points that take an encoding object.
"""
from __future__ import annotations

from typing import Sequence

import torch

from . import _loader  # noqa: F401  (registers torch.ops.specbias)

Tensor = torch.Tensor
_ops = torch.ops.specbias


def boundary_distance(coords: Tensor, enc_matrix: Tensor, enc_offset: Tensor,
                      enc_periodic: Tensor, weights: Sequence[Tensor],
                      biases: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """``(distance [N], argmin int64 [N])``: first-order distance in coordinate space to the
    nearest sign change of any hidden neuron, ``min_{l,k} |z_lk| / ||grad_coord z_lk||``.

    ``argmin`` is the global hidden-neuron index of the minimiser (layer 0 first, the pattern bit
    order); ties go to the lowest index. A neuron whose coordinate gradient is exactly zero (for
    instance behind a layer of dead neurons) counts as +inf; a point where every neuron has zero
    gradient gets ``distance = inf`` and ``argmin = -1``.
    """
    return _ops.boundary_distance(coords, enc_matrix, enc_offset, enc_periodic, list(weights),
                                  list(biases))


def coord_gradients(coords: Tensor, enc_matrix: Tensor, enc_offset: Tensor,
                    enc_periodic: Tensor, weights: Sequence[Tensor],
                    biases: Sequence[Tensor]) -> Tensor:
    """``[N, out, D]``: the gradient of the network output w.r.t. the coordinates.

    The ReLU derivative at exactly zero is taken as 0 (as torch's autograd does).
    """
    return _ops.coord_gradients(coords, enc_matrix, enc_offset, enc_periodic, list(weights),
                                list(biases))


@torch.library.register_fake("specbias::boundary_distance")
def _boundary_distance_fake(coords, enc_matrix, enc_offset, enc_periodic, weights, biases):
    n = coords.shape[0]
    return coords.new_empty((n,)), coords.new_empty((n,), dtype=torch.int64)


@torch.library.register_fake("specbias::coord_gradients")
def _coord_gradients_fake(coords, enc_matrix, enc_offset, enc_periodic, weights, biases):
    return coords.new_empty((coords.shape[0], weights[-1].shape[0], coords.shape[1]))
