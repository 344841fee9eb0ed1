"""Region geometry of coordinate MLPs: how far each point is from a region boundary (in
coordinate space), how steep the function is inside each region, the exact regions of a 1D
network, the angles between a layer's hyperplanes, and the layers' spectral norms.

Networks are ``(weights, biases)`` lists in nn.Linear layout (``specbias_ext.mlp_params``).
Encodings are anything with ``affine_sine()`` (every ``specbias_ext.encodings`` class), a
``(matrix [E, D], offset [E], periodic [E])`` triple, or ``None`` for raw coordinates.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence

import torch

from . import ops_geometry
from .ops import _plain_lists, activation_patterns, split_network

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- encodings


def encoding_form(encoding, coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(matrix [E, D], offset [E], periodic bool [E])`` of ``encoding`` on coords' dtype/device.

    ``encoding`` is an object with ``affine_sine()``, such a triple, or ``None`` (raw: identity,
    zero offset, nothing periodic).
    """
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        shape = list(coords.shape) if isinstance(coords, Tensor) else type(coords).__name__
        raise ValueError(f"coords: expected a 2-D tensor [N, D], got {shape}")
    dtype, device = coords.dtype, coords.device
    if encoding is None:
        d = coords.shape[1]
        return (torch.eye(d, dtype=dtype, device=device),
                torch.zeros(d, dtype=dtype, device=device),
                torch.zeros(d, dtype=torch.bool, device=device))
    if hasattr(encoding, "affine_sine"):
        matrix, offset, periodic = encoding.affine_sine(dtype=dtype, device=device)
    elif isinstance(encoding, (tuple, list)) and len(encoding) == 3:
        matrix, offset, periodic = encoding
    else:
        raise TypeError("encoding: expected an object with affine_sine(), a (matrix, offset, "
                        f"periodic) triple or None, got {type(encoding).__name__}")
    return (matrix.to(dtype=dtype, device=device), offset.to(dtype=dtype, device=device),
            periodic.to(dtype=torch.bool, device=device))


def boundary_distance(coords: Tensor, encoding, net, *args, **kwargs) -> tuple[Tensor, Tensor]:
    """``(distance [N], argmin int64 [N])``: first-order distance in COORDINATE space from each
    point to the nearest sign change of a hidden neuron, ``min_{l,k} |z_lk| / ||grad_c z_lk||``.

    ``argmin`` is the global hidden-neuron index (layer 0 first). Neurons with zero coordinate
    gradient count as +inf; a point where all do gets ``inf`` and argmin ``-1``. For raw 1D
    coordinates this is the exact distance to the nearest region boundary whenever the point's
    region is bounded by breakpoints on both sides (see docs/geometry.md).
    """
    net, _ = split_network(net, args, (), kwargs)
    matrix, offset, periodic = encoding_form(encoding, coords)
    return ops_geometry.boundary_distance(coords, matrix, offset, periodic, *_plain_lists(net))


def coord_gradients(coords: Tensor, encoding, net, *args, **kwargs) -> Tensor:
    """``[N, out, D]``: gradient of the network output w.r.t. the coordinates (before encoding)."""
    net, _ = split_network(net, args, (), kwargs)
    matrix, offset, periodic = encoding_form(encoding, coords)
    return ops_geometry.coord_gradients(coords, matrix, offset, periodic, *_plain_lists(net))


def region_slope_stats(coord_grads: Tensor, ids: Tensor, num_regions: int) -> tuple[Tensor, Tensor]:
    """``(mean [R], max [R])`` of the coordinate slope ``||grad_c f||`` over each region's points.

    ``coord_grads`` is ``[N, out, D]`` (from ``coord_gradients``; the slope is the Frobenius norm
    of each point's Jacobian), ``[N, D]``, or already slopes ``[N]``. ``ids`` are region ids in
    0..num_regions-1 (``region_ids``). A region without points gets 0 in both.
    """
    if coord_grads.dim() == 0:
        raise ValueError("coord_grads: expected [N, ...], got a scalar")
    slopes = coord_grads if coord_grads.dim() == 1 else coord_grads.flatten(1).norm(dim=1)
    if ids.dim() != 1 or ids.shape[0] != slopes.shape[0]:
        raise ValueError(f"ids: expected shape [{slopes.shape[0]}] (one id per point), got "
                         f"{list(ids.shape)}")
    if ids.dtype != torch.int64:
        raise ValueError(f"ids: expected int64 region ids, got {ids.dtype}")
    if ids.device != slopes.device:
        raise ValueError(f"ids: expected device {slopes.device}, got {ids.device}")
    num_regions = int(num_regions)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_regions):
        raise ValueError(f"ids: expected values in [0, {num_regions}), got "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    zeros = slopes.new_zeros(num_regions)
    total = zeros.index_add(0, ids, slopes)
    count = zeros.index_add(0, ids, torch.ones_like(slopes))
    mean = total / count.clamp_min(1)
    peak = zeros.scatter_reduce(0, ids, slopes, reduce="amax", include_self=False)
    return mean, peak


# ----------------------------------------------------------------------------- exact 1D regions


def _check_raw_1d(weights, lo, hi):
    if len(weights) < 2:
        raise ValueError("weights: expected at least one hidden layer and the head")
    if weights[0].dim() != 2 or weights[0].shape[1] != 1:
        raise ValueError("weights[0]: expected shape [out, 1] (a network on raw 1D coordinates), "
                         f"got {list(weights[0].shape)}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"lo, hi: expected finite lo < hi, got ({lo}, {hi})")


@torch.no_grad()
def exact_breakpoints_1d(weights: Sequence[Tensor], biases: Sequence[Tensor], lo: float = 0.0,
                         hi: float = 1.0) -> Tensor:
    """Sorted float64 tensor of every point in the open interval (lo, hi) where some hidden
    neuron of a network on raw 1D coordinates changes sign.

    Layer by layer, in float64: the layer's input is affine on each current piece, so each
    neuron's pre-activation is too; its zero crossing (if strictly inside the piece) splits it.
    Consecutive breakpoints (with lo and hi) bound the linear regions.
    """
    lo, hi = float(lo), float(hi)
    _check_raw_1d(weights, lo, hi)
    device = weights[0].device
    f64 = dict(dtype=torch.float64, device=device)
    edges = torch.tensor([lo, hi], **f64)
    slope = torch.ones(1, 1, **f64)   # layer input on piece p: slope[p] * x + icpt[p]
    icpt = torch.zeros(1, 1, **f64)
    for w, b in zip(weights[:-1], biases[:-1]):
        w, b = w.detach().to(**f64), b.detach().to(**f64)
        z_slope = slope @ w.T                      # [P, out]: z = z_slope * x + z_icpt on piece p
        z_icpt = icpt @ w.T + b
        cross = -z_icpt / z_slope                  # +-inf or nan where the slope is 0: never inside
        inside = (cross > edges[:-1, None]) & (cross < edges[1:, None])
        new_edges = torch.unique(torch.cat([edges, cross[inside]]))  # sorted
        mid = 0.5 * (new_edges[:-1] + new_edges[1:])
        parent = (torch.searchsorted(edges, mid, right=True) - 1).clamp(0, edges.numel() - 2)
        z_slope, z_icpt = z_slope[parent], z_icpt[parent]
        on = z_slope * mid[:, None] + z_icpt > 0   # no crossing inside a new piece: sign at mid
        slope = torch.where(on, z_slope, 0.0)
        icpt = torch.where(on, z_icpt, 0.0)
        edges = new_edges
    return edges[1:-1]


def exact_region_count_1d(weights: Sequence[Tensor], biases: Sequence[Tensor], lo: float = 0.0,
                          hi: float = 1.0) -> int:
    """Number of linear regions of a raw-1D network on (lo, hi): breakpoints + 1.

    In 1D with raw inputs this is also the number of distinct activation patterns: a first-layer
    neuron changes sign at most once, so two pieces with equal layer-0 bits have no layer-0
    breakpoint between them, the next layer is affine there and changes sign at most once, and so
    on; equal patterns therefore mean the same piece.
    """
    return int(exact_breakpoints_1d(weights, biases, lo, hi).numel()) + 1


class GridConvergence(NamedTuple):
    sizes: list[int]
    grid_counts: list[int]      # distinct patterns on the grid lo + (hi - lo) * n / size
    exact_count: int            # exact_region_count_1d
    narrowest_region: float     # width of the narrowest exact region


@torch.no_grad()
def grid_count_convergence(weights: Sequence[Tensor], biases: Sequence[Tensor],
                           sizes: Sequence[int], lo: float = 0.0,
                           hi: float = 1.0) -> GridConvergence:
    """Region count on uniform grids of each size vs the exact count of a raw-1D network.

    The grid ``lo + (hi - lo) * n / size`` (n = 0..size-1, the project's ``grid_coords``) is run
    through ``activation_patterns`` in the weights' dtype, and its distinct patterns counted (the R
    of ``region_ids``). The grid count never exceeds the exact count and reaches it once the
    spacing (hi - lo) / size is below the narrowest region's width.
    """
    breakpoints = exact_breakpoints_1d(weights, biases, lo, hi)
    bounds = torch.cat([breakpoints.new_tensor([lo]), breakpoints, breakpoints.new_tensor([hi])])
    counts = []
    for size in sizes:
        size = int(size)
        if size < 1:
            raise ValueError(f"sizes: expected positive grid sizes, got {size}")
        n = torch.arange(size, dtype=torch.float64, device=weights[0].device)
        x = (lo + (hi - lo) * n / size).to(weights[0].dtype).unsqueeze(1)
        patterns = activation_patterns(x, weights, biases)
        counts.append(int(torch.unique(patterns, dim=0).shape[0]))
    return GridConvergence([int(s) for s in sizes], counts, int(breakpoints.numel()) + 1,
                           float((bounds[1:] - bounds[:-1]).min()))


# ----------------------------------------------------------------------------- hyperplanes


def hyperplane_cosines(weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``[out, out]`` cosines between the normals of one layer's neurons (rows of ``weight``).

    With ``bias`` the normal of neuron k is ``[weight[k], bias[k]]`` (the hyperplane in
    homogeneous coordinates). One GEMM; a zero normal gives a zero row and column (also on the
    diagonal).
    """
    if weight.dim() != 2:
        raise ValueError(f"weight: expected a 2-D tensor [out, in], got {list(weight.shape)}")
    normals = weight.detach()
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias: expected shape [{weight.shape[0]}], got {list(bias.shape)}")
        normals = torch.cat([normals, bias.detach().to(normals.dtype).unsqueeze(1)], dim=1)
    norms = normals.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, normals / norms.clamp_min(torch.finfo(normals.dtype).tiny), 0.0)
    return (unit @ unit.T).clamp_(-1.0, 1.0)


def mean_abs_offdiag_cosine(cosines: Tensor) -> Tensor:
    """Mean of ``|cos|`` over the off-diagonal entries of a ``hyperplane_cosines`` matrix
    (NaN for a layer with a single neuron)."""
    if cosines.dim() != 2 or cosines.shape[0] != cosines.shape[1]:
        raise ValueError(f"cosines: expected a square matrix, got {list(cosines.shape)}")
    out = cosines.shape[0]
    if out < 2:
        return cosines.new_tensor(float("nan"))
    a = cosines.abs()
    return (a.sum() - a.diagonal().sum()) / (out * (out - 1))


# ----------------------------------------------------------------------------- spectral norms


class SpectralNormTracker:
    """Largest singular value of every layer, cheap enough to call every epoch.

    The first call for a layer (or after its shape, dtype or device changed) takes the exact
    top singular pair from one SVD. Later calls run ``iters`` steps of power iteration on
    W^T W, warm-started from the right singular vector kept from the previous call, so a slowly
    changing weight costs 2 * iters matrix-vector products per call instead of an SVD. The
    estimate ||W v|| (v a unit vector) never exceeds the true sigma; when the top singular values
    are close, v may rotate among their vectors but sigma stays accurate to second order.
    """

    def __init__(self, iters: int = 4):
        if iters < 1:
            raise ValueError(f"iters: expected >= 1, got {iters}")
        self.iters = int(iters)
        self._vectors: list[Optional[Tensor]] = []

    @torch.no_grad()
    def update(self, weights: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """``(sigma [len(weights)], product)``: the spectral norm of each layer and their product
        (an upper bound of the network's Lipschitz constant)."""
        if len(weights) == 0:
            raise ValueError("weights: expected at least one layer")
        self._vectors += [None] * (len(weights) - len(self._vectors))
        sigmas = []
        for l, w in enumerate(weights):
            if w.dim() != 2:
                raise ValueError(f"weights[{l}]: expected a 2-D tensor, got {list(w.shape)}")
            w = w.detach()
            v = self._vectors[l]
            if v is None or v.shape[0] != w.shape[1] or v.dtype != w.dtype \
                    or v.device != w.device:
                v = torch.linalg.svd(w, full_matrices=False).Vh[0]
            else:
                for _ in range(self.iters):
                    u = w.T @ (w @ v)
                    norm = u.norm()
                    if norm == 0:  # W v = 0: keep v, sigma is estimated as 0 this call
                        break
                    v = u / norm
            self._vectors[l] = v
            sigmas.append((w @ v).norm())
        sigmas = torch.stack(sigmas)
        return sigmas, sigmas.prod()
