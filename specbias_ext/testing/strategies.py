"""Hypothesis strategies over networks, encodings and packed patterns (needs ``hypothesis``)."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from .patterns import duplicated_rows, random_words

DTYPES = st.sampled_from([torch.float32, torch.float64])


@st.composite
def mlp_configs(draw, max_depth=5, max_width=300, max_in=40, max_out=3, max_n=5000):
    """Keyword arguments of a plain ``random_mlp`` plus ``n`` (points): in_dim, hidden, out_dim,
    n, dtype, seed, dead_fraction."""
    depth = draw(st.integers(1, max_depth))
    return dict(
        in_dim=draw(st.integers(1, max_in)),
        hidden=draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)),
        out_dim=draw(st.integers(1, max_out)),
        n=draw(st.integers(0, max_n)),
        dtype=draw(DTYPES),
        seed=draw(st.integers(0, 2**31 - 1)),
        dead_fraction=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
    )


@st.composite
def network_kinds(draw, max_depth=4, max_width=23, max_out=3):
    """The structure of a described network, as keyword arguments of ``random_network`` after
    ``in_dim``: hidden widths, slopes, biases, skips and residual layers of every kind."""
    depth = draw(st.integers(1, max_depth))
    slope = st.sampled_from([0.0, 0.0, 0.01, 0.1, 0.5])
    return dict(
        hidden=draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)),
        out_dim=draw(st.integers(1, max_out)),
        skips=draw(st.sets(st.integers(1, depth))),
        slopes=draw(st.lists(slope, min_size=depth, max_size=depth)),
        bias=draw(st.lists(st.booleans(), min_size=depth + 1, max_size=depth + 1)),
        residual=draw(st.sets(st.integers(0, depth - 1))),
    )


@st.composite
def network_configs(draw, max_depth=4, max_width=70, max_in=9, max_out=3, max_n=60):
    """``network_kinds`` plus in_dim, dtype, seed and ``n`` (points)."""
    kind = draw(network_kinds(max_depth=max_depth, max_width=max_width, max_out=max_out))
    return dict(kind, in_dim=draw(st.integers(1, max_in)), dtype=draw(DTYPES),
                seed=draw(st.integers(0, 2**31 - 1)), n=draw(st.integers(0, max_n)))


@st.composite
def geometry_configs(draw, max_depth=5, max_width=70, max_n=300):
    """(dims, encoding kind, hidden widths, out_dim, n, dtype, seed, dead_fraction)."""
    depth = draw(st.integers(1, max_depth))
    return dict(
        dims=draw(st.sampled_from([1, 2])),
        kind=draw(st.sampled_from(["raw", "pe", "rff"])),
        hidden=draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)),
        out_dim=draw(st.integers(1, 3)),
        n=draw(st.sampled_from([0, 1, 2, 37, max_n])),
        dtype=draw(DTYPES),
        seed=draw(st.integers(0, 2**31 - 1)),
        dead_fraction=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
    )


@st.composite
def pattern_tensors(draw, max_n=600, max_words=6):
    """Packed patterns with few, many or no duplicate rows, plus sparse or dense bits."""
    n = draw(st.integers(0, max_n))
    words = draw(st.integers(1, max_words))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["few", "many", "distinct", "sparse"]))
    if kind == "few":
        return duplicated_rows(n, words, draw(st.integers(1, 5)), seed)
    if kind == "many":
        return duplicated_rows(n, words, max(1, n // 3), seed)
    if kind == "sparse":
        # Rows differing in a few bits, like neighbouring grid points.
        return random_words(n, words, seed, bit_density=0.01)
    return random_words(n, words, seed)
