"""Typed wrappers and fake kernels of the geometry ops: boundary_distance, coord_gradients and their
``*_encoded`` forms.

``boundary_distance`` / ``coord_gradients`` start from coordinates ``coords [N, D]`` *before* the
encoding, with the encoding given in affine-sine form ``(enc_matrix [E, D], enc_offset [E],
enc_periodic bool [E])``: ``encode(c) = where(enc_periodic, sin(u), u)`` with
``u = c @ enc_matrix.T + enc_offset``. Every encoding of the project has this form
(``Encoding.affine_sine()``); raw coordinates are the identity matrix, zero offset, nothing
periodic. The ``*_encoded`` forms take instead the encoded points ``x [N, E]`` and their Jacobian
``x_jacobian [N, E, D]`` (``x_jacobian[n, e, d] = d x_e / d c_d`` at point n), so any
differentiable encoding can be used. Either way the derivatives w.r.t. the coordinates are carried
by forward mode through the network in the same pass as the values.

The network is a ``ReluNetwork`` (``relu_network(model)``, or ``ReluNetwork.of(weights, biases)``
for lists). ``ops.coordinates`` has the friendlier entry points that take an encoding object or
module.
"""
from __future__ import annotations

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import ReluNetwork
from ._schema_args import AFFINE_SINE_FORM, feature_width, network_args

Tensor = torch.Tensor
_ops = torch.ops.specbias

# The rows of an affine-sine form are the encoded features the first layer reads.


def boundary_distance(coords: Tensor, enc_matrix: Tensor, enc_offset: Tensor,
                      enc_periodic: Tensor, net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """First-order distance in coordinate space to the nearest sign change of any hidden
    neuron, ``min_{l,k} |z_lk| / ||grad_coord z_lk||``.

    A neuron whose coordinate gradient is exactly zero (for instance behind a layer of dead ReLU
    neurons) counts as +inf.

    Args:
        coords (Tensor[N, D]): coordinates before the encoding, float32 or float64.
        enc_matrix (Tensor[E, D]), enc_offset (Tensor[E]), enc_periodic (Tensor[E], bool): the
            encoding in affine-sine form.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]``, the global
        hidden-neuron index of the minimiser (layer 0 first, the pattern bit order; ties go to
        the lowest index); a point where every neuron has zero gradient gets ``distance = inf``
        and ``argmin = -1``.
    """
    weights, biases, keywords = network_args(net, feature_width(enc_matrix, 0), *AFFINE_SINE_FORM)
    return _ops.boundary_distance(coords, enc_matrix, enc_offset, enc_periodic, weights, biases,
                                  **keywords)


def coord_gradients(coords: Tensor, enc_matrix: Tensor, enc_offset: Tensor,
                    enc_periodic: Tensor, net: ReluNetwork) -> Tensor:
    """The gradient of the network output with respect to the coordinates.

    The activation's derivative at exactly zero is taken as its negative slope (0 for ReLU, as
    torch's autograd does).

    Args:
        coords (Tensor[N, D]): coordinates before the encoding, float32 or float64.
        enc_matrix (Tensor[E, D]), enc_offset (Tensor[E]), enc_periodic (Tensor[E], bool): the
            encoding in affine-sine form.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point.
    """
    weights, biases, keywords = network_args(net, feature_width(enc_matrix, 0), *AFFINE_SINE_FORM)
    return _ops.coord_gradients(coords, enc_matrix, enc_offset, enc_periodic, weights, biases,
                                **keywords)


def boundary_distance_encoded(x: Tensor, x_jacobian: Tensor,
                              net: ReluNetwork) -> tuple[Tensor, Tensor]:
    """``boundary_distance`` from encoded points and their Jacobian.

    Args:
        x (Tensor[N, E]): the encoded points.
        x_jacobian (Tensor[N, E, D]): ``d x_e / d c_d`` at every point.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        tuple[Tensor, Tensor]: ``distance [N]`` and ``argmin`` int64 ``[N]`` as for
        ``boundary_distance``.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.boundary_distance_encoded(x, x_jacobian, weights, biases, **keywords)


def coord_gradients_encoded(x: Tensor, x_jacobian: Tensor, net: ReluNetwork) -> Tensor:
    """``coord_gradients`` from encoded points and their Jacobian.

    Args:
        x (Tensor[N, E]): the encoded points.
        x_jacobian (Tensor[N, E, D]): ``d x_e / d c_d`` at every point.
        net (ReluNetwork): the network on the E encoded features.

    Returns:
        Tensor[N, out, D]: ``d f_o / d c_d`` at every point.
    """
    weights, biases, keywords = network_args(net, feature_width(x, 1))
    return _ops.coord_gradients_encoded(x, x_jacobian, weights, biases, **keywords)


# ----------------------------------------------------------------------------- fake kernels


def _check_fake_devices(device, what, tensors):
    """The C++ kernels' device check, for a call that mixes fake (or meta) tensors with real
    ones and so lands here."""
    for name, t in tensors:
        if t is not None and t.device != device:
            raise RuntimeError(f"{name}: expected device {device} ({what}), got {t.device}")


def _network_tensors(weights, biases):
    return ([(f"weights[{l}]", w) for l, w in enumerate(weights)]
            + [(f"biases[{l}]", b) for l, b in enumerate(biases)])


@torch.library.register_fake("specbias::boundary_distance")
def _boundary_distance_fake(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, *,
                            slopes=None, input_skip=None, residual=None, skip_columns=None):
    _check_fake_devices(coords.device, "the device of coords",
                        [("enc_matrix", enc_matrix), ("enc_offset", enc_offset),
                         ("enc_periodic", enc_periodic)] + _network_tensors(weights, biases))
    n = coords.shape[0]
    return coords.new_empty((n,)), coords.new_empty((n,), dtype=torch.int64)


@torch.library.register_fake("specbias::coord_gradients")
def _coord_gradients_fake(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, *,
                          slopes=None, input_skip=None, residual=None, skip_columns=None):
    _check_fake_devices(coords.device, "the device of coords",
                        [("enc_matrix", enc_matrix), ("enc_offset", enc_offset),
                         ("enc_periodic", enc_periodic)] + _network_tensors(weights, biases))
    return coords.new_empty((coords.shape[0], weights[-1].shape[0], coords.shape[1]))


@torch.library.register_fake("specbias::boundary_distance_encoded")
def _boundary_distance_encoded_fake(x, x_jacobian, weights, biases, *, slopes=None,
                                    input_skip=None, residual=None, skip_columns=None):
    _check_fake_devices(x.device, "the device of x",
                        [("x_jacobian", x_jacobian)] + _network_tensors(weights, biases))
    n = x.shape[0]
    return x.new_empty((n,)), x.new_empty((n,), dtype=torch.int64)


@torch.library.register_fake("specbias::coord_gradients_encoded")
def _coord_gradients_encoded_fake(x, x_jacobian, weights, biases, *, slopes=None,
                                  input_skip=None, residual=None, skip_columns=None):
    _check_fake_devices(x.device, "the device of x",
                        [("x_jacobian", x_jacobian)] + _network_tensors(weights, biases))
    return x.new_empty((x.shape[0], weights[-1].shape[0], x_jacobian.shape[2]))
