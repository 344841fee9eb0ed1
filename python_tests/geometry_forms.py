"""Encodings in affine-sine form (matrix [E, D], offset [E], periodic [E]) built directly, so the
geometry tests do not depend on specbias_ext.nets.encodings."""
from __future__ import annotations

import math

import torch
from hypothesis import strategies as st


def raw_form(dims, dtype=torch.float64):
    return (torch.eye(dims, dtype=dtype), torch.zeros(dims, dtype=dtype),
            torch.zeros(dims, dtype=torch.bool))


def pe_form(dims, levels, dtype=torch.float64):
    """sin(2^l pi c_d), cos(2^l pi c_d) for l < levels (cos as sin with offset pi/2)."""
    rows, offsets = [], []
    for d in range(dims):
        for l in range(levels):
            row = torch.zeros(dims, dtype=torch.float64)
            row[d] = 2.0 ** l * math.pi
            rows += [row, row]
            offsets += [0.0, math.pi / 2]
    e = len(rows)
    return (torch.stack(rows).to(dtype), torch.tensor(offsets, dtype=dtype),
            torch.ones(e, dtype=torch.bool))


def rff_form(dims, features, sigma, seed=0, dtype=torch.float64):
    """[sin(2 pi B c), cos(2 pi B c)] with B ~ N(0, sigma^2) [features, dims]."""
    gen = torch.Generator().manual_seed(seed)
    b = sigma * torch.randn(features, dims, generator=gen, dtype=torch.float64)
    matrix = torch.cat([2 * math.pi * b, 2 * math.pi * b])
    offset = torch.cat([torch.zeros(features), torch.full((features,), math.pi / 2)])
    return (matrix.to(dtype), offset.to(dtype), torch.ones(2 * features, dtype=torch.bool))


def make_form(kind, dims, dtype=torch.float64, seed=0):
    if kind == "raw":
        return raw_form(dims, dtype)
    if kind == "pe":
        return pe_form(dims, 3, dtype)
    if kind == "rff":
        return rff_form(dims, 5, 2.0, seed, dtype)
    raise ValueError(kind)


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
        dtype=draw(st.sampled_from([torch.float32, torch.float64])),
        seed=draw(st.integers(0, 2**31 - 1)),
        dead_fraction=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
    )
