"""Random described networks (ReluNetwork) for the geometry tests: skips, LeakyReLU slopes, bias
presence and residual layers drawn by hypothesis."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from specbias_ext import ReluNetwork


@st.composite
def network_kinds(draw, max_depth=4, max_width=23):
    """The structure of a network: hidden widths, slopes, biases, skips, residual flags."""
    depth = draw(st.integers(1, max_depth))
    hidden = draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth))
    slopes = [draw(st.sampled_from([0.0, 0.0, 0.01, 0.1, 0.5])) for _ in range(depth)]
    bias = [draw(st.booleans()) for _ in range(depth + 1)]
    skips = [False] + [draw(st.booleans()) for _ in range(depth)]
    # A residual layer needs equal widths: force them where drawn.
    residual = [draw(st.booleans()) for _ in range(depth)]
    return dict(hidden=hidden, slopes=slopes, bias=bias, skips=skips, residual=residual,
                out_dim=draw(st.integers(1, 3)))


def random_network(in_dim, kind, dtype=torch.float64, seed=0, device="cpu"):
    """A ReluNetwork of the drawn structure on inputs of width in_dim. A residual flag on a layer
    whose width differs from its input's is kept by making the widths equal."""
    gen = torch.Generator().manual_seed(seed)
    hidden = list(kind["hidden"])
    residual = list(kind["residual"])
    prev = in_dim
    for l in range(len(hidden)):
        if residual[l]:
            hidden[l] = prev
        prev = hidden[l]
    weights, biases, prev = [], [], in_dim
    for l, out in enumerate(hidden + [kind["out_dim"]]):
        fan_in = prev + (in_dim if kind["skips"][l] else 0)
        w = torch.randn(out, fan_in, generator=gen, dtype=torch.float64) / fan_in ** 0.5
        b = 0.1 * torch.randn(out, generator=gen, dtype=torch.float64)
        weights.append(w.to(dtype=dtype, device=device))
        biases.append(b.to(dtype=dtype, device=device) if kind["bias"][l] else None)
        prev = out
    return ReluNetwork.of(weights, biases, slopes=kind["slopes"], input_skips=kind["skips"],
                          residual=residual)


NERF_LIKE = dict(hidden=[16, 16, 16, 16], slopes=[0.0, 0.1, 0.0, 0.2],
                 bias=[True, False, True, True, False], skips=[False, False, True, False, True],
                 residual=[False, True, False, True], out_dim=2)
