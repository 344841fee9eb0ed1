"""Random described networks (skips, LeakyReLU, bias-free and residual layers) for the op tests,
and a hypothesis strategy over them."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from specbias_ext import ReluNetwork


def random_network(in_dim, widths, out_dim=1, *, skips=(), slopes=None, bias=True,
                   residual=(), dtype=torch.float64, seed=0, device="cpu") -> ReluNetwork:
    """``skips``: layers (1..L, L = the head) that read [a_{l-1}, x]; ``residual``: hidden
    layers that add a_{l-1} (their width is forced to the width they read); ``bias``: a bool or
    one bool per layer."""
    gen = torch.Generator().manual_seed(seed)
    depth = len(widths)
    widths = list(widths)
    prev = in_dim
    for l in range(depth):
        if l in residual:
            widths[l] = prev
        prev = widths[l]
    outs = widths + [out_dim]
    biases_on = [bias] * (depth + 1) if isinstance(bias, bool) else list(bias)
    weights, biases = [], []
    prev = in_dim
    for l, out in enumerate(outs):
        fan_in = prev + (in_dim if l in skips else 0)
        weights.append((torch.randn(out, fan_in, generator=gen, dtype=torch.float64)
                        / fan_in ** 0.5).to(dtype=dtype, device=device))
        biases.append((0.1 * torch.randn(out, generator=gen, dtype=torch.float64)).to(
            dtype=dtype, device=device) if biases_on[l] else None)
        prev = out
    return ReluNetwork.of(weights, biases,
                          slopes=[0.0] * depth if slopes is None else slopes,
                          input_skips=[l in skips for l in range(depth + 1)],
                          residual=[l in residual for l in range(depth)])


@st.composite
def network_configs(draw, max_depth=4, max_width=70, max_in=9, max_out=3, max_n=60):
    """Keyword arguments of random_network plus ``n`` (points)."""
    depth = draw(st.integers(1, max_depth))
    slope = st.one_of(st.just(0.0), st.floats(0.01, 0.5))
    return dict(
        in_dim=draw(st.integers(1, max_in)),
        widths=draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)),
        out_dim=draw(st.integers(1, max_out)),
        skips=draw(st.sets(st.integers(1, depth))),
        slopes=draw(st.lists(slope, min_size=depth, max_size=depth)),
        bias=draw(st.lists(st.booleans(), min_size=depth + 1, max_size=depth + 1)),
        residual=draw(st.sets(st.integers(0, depth - 1))),
        dtype=draw(st.sampled_from([torch.float32, torch.float64])),
        seed=draw(st.integers(0, 2**31 - 1)),
        n=draw(st.integers(0, max_n)),
    )
