"""Typed wrappers and fake kernels of the local-complexity ops.

Local complexity (LC) counts, per point and hidden layer, the neurons whose boundary passes near
the point, in COORDINATE space (before the encoding):

- sampled (``local_complexity``, ``local_complexity_encoded``): the neurons whose pattern bit
  ``1[z > 0]`` is not the same at every vertex of the point's hull (``ops.hull``: the vertices
  ``c +- radius * directions[k]``, plus ``c`` with ``include_centre``);
- first order (``first_order_complexity``, ``first_order_complexity_encoded``): the neurons whose
  first-order distance ``|z| / ||grad_c z||`` is ``<= r``, for one or several radii, computed in
  the boundary-distance pass (which also returns the distance and the nearest neuron).

On a grid whose hull vertices are themselves grid points (the hull along the axes, the radius
a whole number of steps on every axis), ``grid_complexity`` counts from the patterns of the grid
(one forward per grid point instead of one per vertex).

The affine-sine forms take coordinates and the encoding ``(enc_matrix [E, D], enc_offset [E],
enc_periodic bool [E])`` (``encode(c) = where(periodic, sin(u), u)``, ``u = c @ matrix.T +
offset``; raw coordinates are the identity) and encode inside the kernel. The ``*_encoded`` forms
take what any other encoding produced: the encoded vertices ``[N, V, E]``, or the encoded points
and their Jacobian. ``ops.complexity_coords`` picks the form for an encoding object or module;
``measure.local_complexity`` is the entry point with defaults and summaries.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .. import _loader  # noqa: F401  (registers torch.ops.specbias)
from ..nets.network import ReluNetwork
from . import _fake_checks as checks
from ._schema_args import AFFINE_SINE_FORM, feature_width, network_args, size_arg

Tensor = torch.Tensor
_ops = torch.ops.specbias


def local_complexity(coords: Tensor, net: ReluNetwork, enc_matrix: Tensor, enc_offset: Tensor,
                     enc_periodic: Tensor, directions: Tensor, radius: float, *,
                     include_centre: bool = False) -> Tensor:
    """Sampled local complexity from coordinates, the encoding evaluated inside the kernel.

    Args:
        coords: ``[N, D]`` points (before the encoding), float32 or float64.
        net: the network; layer 0 takes the ``E`` encoded features.
        enc_matrix, enc_offset, enc_periodic: the encoding in affine-sine form, ``[E, D]``,
            ``[E]`` (coords' dtype and device) and bool ``[E]``.
        directions: ``[K, D]`` directions of the hull (orthonormal rows from
            ``ops.hull.hull_directions``; the kernel uses whatever it is given).
        radius: the hull radius ``r >= 0`` in coordinate units.
        include_centre: add ``c`` itself as a vertex (``V = 2K + 1`` instead of ``2K``).

    Returns:
        int32 ``[N, L]``: per point and hidden layer, the number of neurons whose pattern bit is
        not the same at all ``V`` vertices. The total LC is the row sum.
    """
    weights, biases, kw = network_args(net, feature_width(enc_matrix, 0),
                                      *AFFINE_SINE_FORM)
    return _ops.local_complexity(coords, enc_matrix, enc_offset, enc_periodic, directions,
                                 float(radius), bool(include_centre), weights, biases, **kw)


def local_complexity_encoded(vertices: Tensor, net: ReluNetwork) -> Tensor:
    """Sampled local complexity from already encoded hull vertices.

    Args:
        vertices: ``[N, V, E]``: the ``V`` encoded vertices of each of ``N`` points (any order;
            the count does not depend on it), float32 or float64.
        net: the network; layer 0 takes the ``E`` features.

    Returns:
        int32 ``[N, L]`` as ``local_complexity``.
    """
    width = vertices.shape[2] if isinstance(vertices, Tensor) and vertices.dim() == 3 else None
    weights, biases, kw = network_args(net, width, "vertices")
    return _ops.local_complexity_encoded(vertices, weights, biases, **kw)


def grid_complexity(patterns: Tensor, grid_shape: Sequence[int], steps: Sequence[int],
                    segments: Sequence[int], *, include_centre: bool = False) -> Tensor:
    """Sampled local complexity from the patterns of a grid, where each point's hull vertices
    are the grid points ``steps[d]`` points away along each axis ``d`` (and the point itself
    with ``include_centre``).

    Args:
        patterns: int64 ``[N, W]`` packed patterns (``activation_patterns``), rows the grid points
            in row-major order.
        grid_shape: 1, 2 or 3 sizes whose product is N (SymInts allowed).
        steps: one whole number >= 1 per axis: the radius in grid points along that axis.
        segments: bit boundaries ``[b0, b1, ..., bS]``; ``[0] + cumulative hidden widths``
            gives the hidden layers (``ReluNetwork.layer_bit_ranges``).
        include_centre: the point is one of its own vertices.

    Returns:
        int32 ``[prod(grid_shape - 2 * steps), S]``, the points at least ``steps`` from every
        edge in row-major order: per segment, the bits that are not the same at all of the
        point's vertices. Equal to ``local_complexity`` with the axes as directions and
        ``radius = steps[d] * step_d`` whenever the grid's coordinates are exactly ``c +-
        radius * e_d``.
    """
    return _ops.grid_complexity(patterns, [size_arg(s, "grid_shape") for s in grid_shape],
                                [int(s) for s in steps], bool(include_centre),
                                [int(b) for b in segments])


def first_order_complexity(coords: Tensor, net: ReluNetwork, enc_matrix: Tensor,
                           enc_offset: Tensor, enc_periodic: Tensor,
                           radii: Sequence[float]) -> tuple[Tensor, Tensor, Tensor]:
    """First-order local complexity, in the boundary-distance pass.

    Args:
        coords, net, enc_matrix, enc_offset, enc_periodic: as for ``local_complexity``.
        radii: one or more radii ``r >= 0`` (compared with the distances in coords' dtype).

    Returns:
        ``(distance [N], argmin int64 [N], counts int32 [N, L, R])``: distance and argmin are
        exactly ``boundary_distance``'s (the nearest first-order boundary and its global neuron
        index, ``inf`` / ``-1`` where every neuron has zero gradient); ``counts[n, l, q]`` is the
        number of neurons of hidden layer l with ``|z| / ||grad_c z|| <= radii[q]`` (a neuron with
        zero coordinate gradient never counts).
    """
    weights, biases, kw = network_args(net, feature_width(enc_matrix, 0),
                                      *AFFINE_SINE_FORM)
    return _ops.first_order_complexity(coords, enc_matrix, enc_offset, enc_periodic,
                                       [float(r) for r in radii], weights, biases, **kw)


def first_order_complexity_encoded(x: Tensor, net: ReluNetwork, x_jacobian: Tensor,
                                   radii: Sequence[float]) -> tuple[Tensor, Tensor, Tensor]:
    """First-order local complexity from encoded points and their Jacobian.

    Args:
        x: ``[N, E]`` encoded points.
        net: the network.
        x_jacobian: ``[N, E, D]``, ``d x_e / d c_d`` at every point.
        radii: one or more radii ``r >= 0``.

    Returns:
        ``(distance [N], argmin int64 [N], counts int32 [N, L, R])`` as
        ``first_order_complexity``.
    """
    weights, biases, kw = network_args(net, feature_width(x, 1))
    return _ops.first_order_complexity_encoded(x, x_jacobian, [float(r) for r in radii],
                                               weights, biases, **kw)


# ----------------------------------------------------------------------------- fake kernels


def _check_radii(radii) -> None:
    if len(radii) == 0:
        raise RuntimeError("radii: expected at least one radius")


def _check_coords_and_encoding(coords, enc_matrix, enc_offset, enc_periodic, weights, biases,
                               kw) -> None:
    checks.check_network(coords.new_empty((0, enc_matrix.shape[0])), weights, biases, **kw)
    for name, t in (("enc_matrix", enc_matrix), ("enc_offset", enc_offset),
                    ("enc_periodic", enc_periodic)):
        if t.device != coords.device:
            raise RuntimeError(f"{name}: expected device {coords.device} (the device of coords), "
                               f"got {t.device}")
    if coords.dim() != 2:
        raise RuntimeError(f"coords: expected a 2-D tensor [N, D], got {coords.dim()} dimensions")


@torch.library.register_fake("specbias::local_complexity")
def _local_complexity_fake(coords, enc_matrix, enc_offset, enc_periodic, directions, radius,
                           include_centre, weights, biases, *, slopes=None, input_skip=None,
                           residual=None, skip_columns=None):
    kw = dict(slopes=slopes, input_skip=input_skip, residual=residual, skip_columns=skip_columns)
    _check_coords_and_encoding(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, kw)
    if directions.dim() != 2:
        raise RuntimeError(f"directions: expected shape [K, D], got {tuple(directions.shape)}")
    torch._check(directions.shape[1] == coords.shape[1],
                 lambda: "directions: expected shape [K, D] with D = coords.shape[1]")
    if directions.device != coords.device:
        raise RuntimeError(f"directions: expected device {coords.device} (the device of "
                           f"coords), got {directions.device}")
    return coords.new_empty((coords.shape[0], len(weights) - 1), dtype=torch.int32)


@torch.library.register_fake("specbias::local_complexity_encoded")
def _local_complexity_encoded_fake(vertices, weights, biases, *, slopes=None, input_skip=None,
                                   residual=None, skip_columns=None):
    if vertices.dim() != 3:
        raise RuntimeError(f"vertices: expected a 3-D tensor [N, V, E], got {vertices.dim()} "
                           "dimensions")
    checks.check_network(vertices.new_empty((0, vertices.shape[2])), weights, biases,
                         slopes, input_skip, residual, skip_columns)
    return vertices.new_empty((vertices.shape[0], len(weights) - 1), dtype=torch.int32)


@torch.library.register_fake("specbias::grid_complexity")
def _grid_complexity_fake(patterns, grid_shape, steps, include_centre, segments):
    checks.check_patterns(patterns)
    checks.check_grid_shape(grid_shape, patterns.shape[0])
    if len(steps) != len(grid_shape) or any(s < 1 for s in steps):
        raise RuntimeError(f"steps: expected one whole number >= 1 per grid axis, got "
                           f"{list(steps)}")
    if len(segments) < 2:
        raise RuntimeError("segments: expected at least 2 bit boundaries [b0, b1, ...], got "
                           f"{list(segments)}")
    points = 1
    for size, step in zip(grid_shape, steps):
        points = points * torch.sym_max(size - 2 * step, 0)
    return patterns.new_empty((points, len(segments) - 1), dtype=torch.int32)


@torch.library.register_fake("specbias::first_order_complexity")
def _first_order_complexity_fake(coords, enc_matrix, enc_offset, enc_periodic, radii, weights,
                                 biases, *, slopes=None, input_skip=None, residual=None,
                                 skip_columns=None):
    _check_radii(radii)
    kw = dict(slopes=slopes, input_skip=input_skip, residual=residual, skip_columns=skip_columns)
    _check_coords_and_encoding(coords, enc_matrix, enc_offset, enc_periodic, weights, biases, kw)
    n = coords.shape[0]
    return (coords.new_empty((n,)), coords.new_empty((n,), dtype=torch.int64),
            coords.new_empty((n, len(weights) - 1, len(radii)), dtype=torch.int32))


@torch.library.register_fake("specbias::first_order_complexity_encoded")
def _first_order_complexity_encoded_fake(x, x_jacobian, radii, weights, biases, *, slopes=None,
                                         input_skip=None, residual=None, skip_columns=None):
    _check_radii(radii)
    checks.check_network(x, weights, biases, slopes, input_skip, residual, skip_columns)
    if x_jacobian.device != x.device:
        raise RuntimeError(f"x_jacobian: expected device {x.device} (the device of x), got "
                           f"{x_jacobian.device}")
    n = x.shape[0]
    return (x.new_empty((n,)), x.new_empty((n,), dtype=torch.int64),
            x.new_empty((n, len(weights) - 1, len(radii)), dtype=torch.int32))
