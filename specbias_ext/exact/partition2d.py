"""Exact region counts of networks on raw 2D coordinates, from the optional ``regioncam`` package
(``pip install regioncam``), which computes the exact partition of a planar box by a ReLU network.

Used to check grid counts: on raw inputs every activation pattern of a plain ReLU network is a
convex polygon, so the distinct patterns on a grid never exceed the exact count.
"""
from __future__ import annotations

import torch

from ..nets.network import ReluNetwork, require_network


def regioncam_available() -> bool:
    try:
        import regioncam  # noqa: F401
    except ImportError:
        return False
    return True


def exact_partition_2d(net: ReluNetwork, lo: float = 0.0, hi: float = 1.0):
    """The ``regioncam.Regioncam`` partition of the box [lo, hi]^2 by the hidden layers of
    ``net`` (``ReluNetwork.of(weights, biases)`` for lists) on raw 2D coordinates.

    regioncam works on [-1, 1]^2 in float32 (``x @ weight + bias``), so the affine map onto the
    box is folded into the first layer. Its vertex coordinates are in [-1, 1]^2: the box point is
    ``lo + (hi - lo) * (v + 1) / 2``. Plain and LeakyReLU networks, with or without biases; input
    skips and residual adds are not supported.
    """
    net = require_network(net)
    try:
        import regioncam
    except ImportError:
        raise ImportError("exact 2D region counts need the optional package regioncam: "
                          "pip install regioncam") from None
    if net.in_dim != 2:
        raise ValueError(f"net: expected a network on raw 2D coordinates, it takes {net.in_dim} "
                         "inputs")
    if any(net.input_skips) or any(net.residual):
        raise ValueError("net: input skips and residual adds are not supported by the exact 2D "
                         "count")
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ValueError(f"lo, hi: expected lo < hi, got ({lo}, {hi})")
    net = net.detach().to(device="cpu", dtype=torch.float64)
    scale, centre = (hi - lo) / 2, lo + (hi - lo) / 2
    rc = regioncam.Regioncam(size=1.0)
    for l in range(net.depth):
        w = net.weights[l]
        b = net.biases[l] if net.biases[l] is not None else w.new_zeros(w.shape[0])
        if l == 0:
            b = b + w.sum(1) * centre
            w = w * scale
        rc.linear(w.T.float().contiguous().numpy(), b.float().contiguous().numpy())
        slope = net.slopes[l]
        if slope:
            rc.leaky_relu(slope)
        else:
            rc.relu()
    return rc


def exact_region_count_2d(net: ReluNetwork, lo: float = 0.0, hi: float = 1.0) -> int:
    """Number of linear (activation) regions of ``net`` in the box [lo, hi]^2 (raw inputs)."""
    return int(exact_partition_2d(net, lo, hi).num_faces)
