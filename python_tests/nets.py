"""Random ReLU MLPs for the tests, as (weights, biases) lists, and hypothesis strategies for them."""
from __future__ import annotations

import torch
from hypothesis import strategies as st


def random_mlp(in_dim, hidden, out_dim=1, dtype=torch.float64, seed=0, dead_fraction=0.0,
               zero_bias=False, device="cpu"):
    """Weights and biases of a ReLU MLP with hidden widths `hidden` (a list).

    `dead_fraction` of each hidden layer's neurons get a large negative bias and so are dead on
    any bounded input; `zero_bias` makes pre-activations exactly 0 at x = 0.
    """
    gen = torch.Generator().manual_seed(seed)
    dims = [in_dim] + list(hidden) + [out_dim]
    weights, biases = [], []
    for l in range(len(dims) - 1):
        w = torch.randn(dims[l + 1], dims[l], generator=gen, dtype=torch.float64) / dims[l] ** 0.5
        b = torch.zeros(dims[l + 1], dtype=torch.float64) if zero_bias else \
            0.1 * torch.randn(dims[l + 1], generator=gen, dtype=torch.float64)
        if l < len(hidden) and dead_fraction > 0:
            dead = torch.rand(dims[l + 1], generator=gen) < dead_fraction
            b[dead] = -1e6
        weights.append(w.to(dtype=dtype, device=device))
        biases.append(b.to(dtype=dtype, device=device))
    return weights, biases


@st.composite
def mlp_configs(draw, max_depth=5, max_width=300, max_in=40, max_out=3, max_n=5000):
    """Draws (in_dim, hidden widths, out_dim, n, dtype, seed, dead_fraction)."""
    depth = draw(st.integers(1, max_depth))
    hidden = draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth))
    return dict(
        in_dim=draw(st.integers(1, max_in)),
        hidden=hidden,
        out_dim=draw(st.integers(1, max_out)),
        n=draw(st.integers(0, max_n)),
        dtype=draw(st.sampled_from([torch.float32, torch.float64])),
        seed=draw(st.integers(0, 2**31 - 1)),
        dead_fraction=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
    )
