"""The neighbourhood of the sampled local complexity: directions and hull vertices.

Around a point ``c`` (coordinates before any encoding) with orthonormal directions
``s_0..s_{K-1}`` and radius ``r``, the hull is the cross-polytope with the ``V = 2K`` vertices
``c + r s_0, ..., c + r s_{K-1}, c - r s_0, ..., c - r s_{K-1}``, followed by ``c`` itself when
the centre is included (``V = 2K + 1``). A vertex is computed as ``c + offset_v`` with
``offset = cat([r * s, -(r * s), 0])``, one rounded addition per coordinate, exactly as the
kernels of ``specbias::local_complexity`` do, so the Python paths, the reference and the kernels
evaluate the network at bit-identical vertices.
"""
from __future__ import annotations

from typing import Optional

import torch

Tensor = torch.Tensor


def hull_directions(dims: int, num_directions: Optional[int] = None, *, seed: int = 0,
                    dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> Tensor:
    """``[K, dims]`` orthonormal directions of the hull.

    Args:
        dims: the coordinate dimension D.
        num_directions: K. ``None`` or ``K >= dims``: the ``dims`` coordinate axes (the identity;
            nothing is drawn). ``1 <= K < dims``: K random orthonormal directions, the Q factor
            of a standard normal ``[dims, K]`` matrix drawn in float64 on the CPU from ``seed``
            (so they are the same on every device), with the signs fixed by R's diagonal.
        seed: the seed of the drawn directions (ignored for the axes).
        dtype, device: of the result.

    Returns:
        ``[K, dims]`` with orthonormal rows.
    """
    dims = int(dims)
    if dims < 1:
        raise ValueError(f"dims: expected a coordinate dimension >= 1, got {dims}")
    if num_directions is None or int(num_directions) >= dims:
        return torch.eye(dims, dtype=dtype, device=device)
    k = int(num_directions)
    if k < 1:
        raise ValueError(f"num_directions: expected at least 1 direction (or None for all "
                         f"{dims} axes), got {num_directions}")
    gen = torch.Generator().manual_seed(int(seed))
    q, r = torch.linalg.qr(torch.randn(dims, k, generator=gen, dtype=torch.float64))
    q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0)
    return q.T.contiguous().to(dtype=dtype, device=device)


def hull_offsets(directions: Tensor, radius: float, include_centre: bool) -> Tensor:
    """``[V, D]``: the vertices' offsets from their centre, in the kernels' order."""
    step = directions * radius
    parts = [step, -step]
    if include_centre:
        parts.append(directions.new_zeros((1, directions.shape[1])))
    return torch.cat(parts)


def hull_vertices(coords: Tensor, directions: Tensor, radius: float,
                  include_centre: bool) -> Tensor:
    """``[N, V, D]``: the hull vertices of every point of ``coords [N, D]``."""
    return coords.unsqueeze(1) + hull_offsets(directions, radius, include_centre).unsqueeze(0)
