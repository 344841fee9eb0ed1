"""Encodings in affine-sine form (matrix [E, D], offset [E], periodic [E]) built by hand, so the
geometry tests do not depend on specbias_ext.nets.encodings."""
from __future__ import annotations

import math

import torch


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
