"""The one random-network builder of the tests and benchmarks."""
from __future__ import annotations

from typing import Collection, Mapping, Optional, Sequence, Union

import torch

from ..nets.network import ReluNetwork

Tensor = torch.Tensor

#: A small network of every kind at once (LeakyReLU, bias-free, skips into a hidden layer and the
#: head, residual layers), used where one fixed non-plain network is enough.
NERF_LIKE = dict(hidden=[16, 16, 16, 16], slopes=[0.0, 0.1, 0.0, 0.2],
                 bias=[True, False, True, True, False], skips={2, 4}, residual={1, 3}, out_dim=2)


def random_network(in_dim: int, hidden: Sequence[int], out_dim: int = 1, *,
                   skips: Collection[int] = (), slopes: Optional[Sequence[float]] = None,
                   bias: Union[bool, Sequence[bool]] = True, residual: Collection[int] = (),
                   skip_columns: Mapping[int, tuple[int, int]] = {},
                   dead_fraction: float = 0.0, zero_bias: bool = False,
                   dtype: torch.dtype = torch.float64, seed: int = 0,
                   device: Union[str, torch.device] = "cpu") -> ReluNetwork:
    """A seeded random ``ReluNetwork`` with hidden widths ``hidden``.

    Args:
        skips: layers (1..L, L = the head) that read ``[a_{l-1}, x]``.
        skip_columns: for some of those layers, the half-open range of x columns the skip reads
            (the others read all of x).
        slopes: LeakyReLU slope of each hidden layer (default: all 0, plain ReLU).
        bias: one bool for every layer or one per layer (L + 1 entries).
        residual: hidden layers that add ``a_{l-1}``; their width is made the width they read.
        dead_fraction: share of each hidden layer's neurons given a bias of -1e6, so they are
            dead on any bounded input.
        zero_bias: every bias 0, so every pre-activation is exactly 0 at x = 0.

    Weights are N(0, 1/fan_in) and biases N(0, 0.01), drawn in float64 from one generator in
    the order (weight, bias, dead mask) per layer, then cast to ``dtype``.
    """
    gen = torch.Generator().manual_seed(seed)
    depth = len(hidden)
    widths = list(hidden)
    prev = in_dim
    for l in range(depth):
        if l in residual:
            widths[l] = prev
        prev = widths[l]
    biased = [bias] * (depth + 1) if isinstance(bias, bool) else list(bias)
    if len(biased) != depth + 1:
        raise ValueError(f"bias: expected one bool or {depth + 1} of them, got {len(biased)}")
    weights, biases = [], []
    prev = in_dim
    for l, out in enumerate(widths + [out_dim]):
        cols = skip_columns.get(l)
        fan_in = prev + ((in_dim if cols is None else cols[1] - cols[0]) if l in skips else 0)
        w = torch.randn(out, fan_in, generator=gen, dtype=torch.float64) / fan_in ** 0.5
        b = 0.1 * torch.randn(out, generator=gen, dtype=torch.float64)
        if zero_bias:
            b.zero_()
        if l < depth and dead_fraction > 0:
            b[torch.rand(out, generator=gen) < dead_fraction] = -1e6
        weights.append(w.to(dtype=dtype, device=device))
        biases.append(b.to(dtype=dtype, device=device) if biased[l] else None)
        prev = out
    return ReluNetwork.of(weights, biases,
                          slopes=[0.0] * depth if slopes is None else list(slopes),
                          input_skips=[l in skips for l in range(depth + 1)],
                          residual=[l in residual for l in range(depth)],
                          skip_columns=[skip_columns.get(l) for l in range(depth + 1)])


def random_mlp(in_dim: int, hidden: Sequence[int], out_dim: int = 1,
               dtype: torch.dtype = torch.float64, seed: int = 0, dead_fraction: float = 0.0,
               zero_bias: bool = False,
               device: Union[str, torch.device] = "cpu") -> tuple[list[Tensor], list[Tensor]]:
    """The ``(weights, biases)`` lists of a plain ``random_network`` (the same draws), for tests
    that handle the lists themselves."""
    net = random_network(in_dim, hidden, out_dim, dtype=dtype, seed=seed,
                         dead_fraction=dead_fraction, zero_bias=zero_bias, device=device)
    return list(net.weights), list(net.biases)
