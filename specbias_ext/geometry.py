"""Region geometry of coordinate MLPs: how far each point is from a region boundary (in
coordinate space), how steep the function is inside each region, the exact regions of a 1D
network, the angles between a layer's hyperplanes, and the layers' spectral norms.

Networks are ``ReluNetwork`` descriptions (skips, LeakyReLU, bias-free and residual layers) or
the ``(weights, biases)`` lists of a plain ReLU MLP in nn.Linear layout. Encodings are anything
with ``affine_sine()`` (every ``specbias_ext.encodings`` class), a ``(matrix [E, D], offset [E],
periodic [E])`` triple, ``None`` for raw coordinates (the fast path: the encoding is evaluated
inside the fused pass), or any differentiable torch module or function mapping coordinates
``[N, D]`` to features ``[N, E]`` row by row (a hand-written Fourier layer, a hash grid, a learned
embedding): its Jacobian w.r.t. the coordinates is taken with ``torch.func`` in chunks and the
network part still runs as one fused forward-mode pass.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional, Sequence

import torch
from torch.func import jacfwd, vmap

from .ops import geometry as ops_geometry
from .ops import activation_patterns, split_network

Tensor = torch.Tensor

# Working-set bound of one chunk of a general encoding: the encoded points and their Jacobian.
ENCODED_CHUNK_BYTES = 64 << 20


# ----------------------------------------------------------------------------- encodings


def _check_coords(coords) -> None:
    if not isinstance(coords, Tensor) or coords.dim() != 2:
        shape = list(coords.shape) if isinstance(coords, Tensor) else type(coords).__name__
        raise ValueError(f"coords: expected a 2-D tensor [N, D], got {shape}")


def is_affine_sine(encoding) -> bool:
    """Whether ``encoding`` takes the fused fast path (affine-sine form, a triple, or None)."""
    return (encoding is None or hasattr(encoding, "affine_sine")
            or (isinstance(encoding, (tuple, list)) and len(encoding) == 3))


def encoding_form(encoding, coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(matrix [E, D], offset [E], periodic bool [E])`` of ``encoding`` on coords' dtype/device.

    ``encoding`` is an object with ``affine_sine()``, such a triple, or ``None`` (raw: identity,
    zero offset, nothing periodic).
    """
    _check_coords(coords)
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


def _encoding_name(encoding) -> str:
    return getattr(encoding, "__name__", None) or type(encoding).__name__


def _check_encoded(encoding, coords: Tensor, out) -> int:
    """The encoded width E of ``encoding(coords)``; refuses outputs the ops cannot take."""
    name = _encoding_name(encoding)
    if not isinstance(out, Tensor):
        raise TypeError(f"encoding: expected {name} to return a tensor [N, E], got "
                        f"{type(out).__name__}")
    if out.dim() != 2 or out.shape[0] != coords.shape[0]:
        raise ValueError(f"encoding: expected {name} to map coords [N, D] = "
                         f"{list(coords.shape)} to features [N, E] (one row per point), got "
                         f"{list(out.shape)}")
    if not out.dtype.is_floating_point:
        raise ValueError(f"encoding: expected {name} to return floating features (it must be "
                         f"differentiable in the coordinates), got {out.dtype}")
    if out.dtype != coords.dtype or out.device != coords.device:
        raise ValueError(f"encoding: expected {name} to return features of the coordinates' "
                         f"dtype and device ({coords.dtype}, {coords.device}), got "
                         f"({out.dtype}, {out.device})")
    return int(out.shape[1])


def encode_with_jacobian(encoding: Callable[[Tensor], Tensor],
                         coords: Tensor) -> tuple[Tensor, Tensor]:
    """``(x [N, E], x_jacobian [N, E, D])``: a general encoding and its Jacobian w.r.t. the
    coordinates at every point (``torch.func``: ``vmap`` over the points of ``jacfwd``, forward
    mode, D tangents per point). The encoding must treat the rows of its input independently."""
    _check_coords(coords)

    def one_point(c):
        x = encoding(c.unsqueeze(0)).squeeze(0)
        return x, x

    with torch.no_grad():
        _check_encoded(encoding, coords[:1], encoding(coords[:1]))
        try:
            jacobian, x = vmap(jacfwd(one_point, has_aux=True))(coords)
        except Exception as e:  # noqa: BLE001 (torch.func raises many kinds; all mean the same)
            raise ValueError(
                f"encoding: could not differentiate {_encoding_name(encoding)} w.r.t. the "
                "coordinates with torch.func (vmap over points of jacfwd); it must be a "
                "differentiable torch function of its input, applied row by row (no .item(), "
                f"numpy or data-dependent control flow): {type(e).__name__}: {e}") from e
    return x.detach(), jacobian.detach()


def _chunk_points(e: int, dims: int, element_size: int, chunk_size: Optional[int]) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size: expected a positive number of points, got {chunk_size}")
        return int(chunk_size)
    return max(1, ENCODED_CHUNK_BYTES // (e * (1 + dims) * element_size))


def _encoded_chunks(coords: Tensor, encoding, chunk_size: Optional[int]):
    """Yields (x, x_jacobian) of consecutive chunks of points; refuses an encoding whose Jacobian
    vanishes at every point (detached from its input, or built from non-differentiable ops)."""
    _check_coords(coords)
    if not callable(encoding):
        raise TypeError("encoding: expected an object with affine_sine(), a (matrix, offset, "
                        "periodic) triple, None, or a differentiable encoding module or "
                        f"function, got {type(encoding).__name__}")
    probe = coords[:1] if coords.shape[0] else coords.new_zeros((1, coords.shape[1]))
    with torch.no_grad():
        e = _check_encoded(encoding, probe, encoding(probe))
    step = _chunk_points(e, coords.shape[1], coords.element_size(), chunk_size)
    moving = False
    for start in range(0, coords.shape[0], step):
        x, jacobian = encode_with_jacobian(encoding, coords[start:start + step])
        moving = moving or bool(jacobian.ne(0).any())
        yield x, jacobian
    if coords.shape[0] and not moving:
        raise ValueError(f"encoding: the Jacobian of {_encoding_name(encoding)} w.r.t. the "
                         "coordinates is zero at every point; is it detached from its input "
                         "(.detach(), torch.no_grad(), a non-differentiable op)?")


def _empty_encoded(coords: Tensor, encoding) -> tuple[Tensor, Tensor]:
    probe = coords.new_zeros((1, coords.shape[1]))
    with torch.no_grad():
        e = _check_encoded(encoding, probe, encoding(probe))
    return coords.new_zeros((0, e)), coords.new_zeros((0, e, coords.shape[1]))


def _precise(coords: Tensor, encoding, net) -> tuple[Tensor, object]:
    """Coordinates and network in float64 when the encoding's top phases need it (the encodings'
    precision policy, ``Encoding.needs_float64``); otherwise as given."""
    needs = getattr(encoding, "needs_float64", None)
    if callable(needs) and needs(coords.dtype):
        return coords.to(torch.float64), net.to(dtype=torch.float64)
    return coords, net


def boundary_distance(coords: Tensor, encoding, net, *args, chunk_size: Optional[int] = None,
                      **kwargs) -> tuple[Tensor, Tensor]:
    """``(distance [N], argmin int64 [N])``: first-order distance in COORDINATE space from each
    point to the nearest sign change of a hidden neuron, ``min_{l,k} |z_lk| / ||grad_c z_lk||``.

    ``net`` is a ``ReluNetwork`` or ``weights, biases``. ``argmin`` is the global hidden-neuron
    index (layer 0 first). Neurons with zero coordinate gradient count as +inf; a point where all
    do gets ``inf`` and argmin ``-1``. For raw 1D coordinates this is the exact distance to the
    nearest region boundary whenever the point's region is bounded by breakpoints on both sides
    (see docs/geometry.md). A general encoding module or function is differentiated with
    ``torch.func`` in chunks of ``chunk_size`` points (default: about 64 MiB of Jacobian). With
    one of our encodings whose top phases a float32 coordinate cannot carry
    (``encoding.needs_float64``), the pass runs in float64 and the distance is returned in
    coords' dtype.
    """
    net, _ = split_network(net, args, (), kwargs)
    if is_affine_sine(encoding):
        c, n = _precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        dist, arg = ops_geometry.boundary_distance(c, matrix, offset, periodic, n)
        return dist.to(coords.dtype), arg
    parts = [ops_geometry.boundary_distance_encoded(x, jac, net)
             for x, jac in _encoded_chunks(coords, encoding, chunk_size)]
    if not parts:
        return ops_geometry.boundary_distance_encoded(*_empty_encoded(coords, encoding), net)
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def coord_gradients(coords: Tensor, encoding, net, *args, chunk_size: Optional[int] = None,
                    **kwargs) -> Tensor:
    """``[N, out, D]``: gradient of the network output w.r.t. the coordinates (before encoding).

    Encodings and networks as for ``boundary_distance`` (float64 when the encoding needs it).
    """
    net, _ = split_network(net, args, (), kwargs)
    if is_affine_sine(encoding):
        c, n = _precise(coords, encoding, net)
        matrix, offset, periodic = encoding_form(encoding, c)
        return ops_geometry.coord_gradients(c, matrix, offset, periodic, n).to(coords.dtype)
    parts = [ops_geometry.coord_gradients_encoded(x, jac, net)
             for x, jac in _encoded_chunks(coords, encoding, chunk_size)]
    if not parts:
        return ops_geometry.coord_gradients_encoded(*_empty_encoded(coords, encoding), net)
    return torch.cat(parts)


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
