"""The fused ops as the experiments call them, with a plain-torch path for ops whose kernel is not
merged yet (their kernels are written on other branches). The torch path follows DESIGN.md
literally; which path ran is recorded in ``ops_used()`` and written into every report."""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import torch

from .. import ops

Tensor = torch.Tensor
_fallback_used: set[str] = set()
_kernel_used: set[str] = set()


def ops_used() -> dict:
    return {"kernel": sorted(_kernel_used), "torch_fallback": sorted(_fallback_used)}


def _call(name: str, fused, fallback):
    if name not in _fallback_used:
        try:
            out = fused()
            _kernel_used.add(name)
            return out
        except NotImplementedError:
            warnings.warn(f"specbias::{name} has no kernel for this device yet; using the "
                          "plain-torch path", RuntimeWarning, stacklevel=3)
            _fallback_used.add(name)
    return fallback()


# ----------------------------------------------------------------------------- torch paths


def _popcount_words(words: Tensor) -> Tensor:
    shifts = torch.arange(64, device=words.device, dtype=torch.int64)
    return ((words.unsqueeze(-1) >> shifts) & 1).sum(dim=(-1, -2))


def _bits(patterns: Tensor, start: int, end: int) -> Tensor:
    shifts = torch.arange(64, device=patterns.device, dtype=torch.int64)
    bits = ((patterns.unsqueeze(2) >> shifts) & 1).reshape(patterns.shape[0], patterns.shape[1] * 64)
    return bits[:, start:end]


def _region_ids_torch(patterns: Tensor) -> tuple[Tensor, Tensor]:
    if patterns.shape[0] == 0:
        empty = patterns.new_zeros((0,), dtype=torch.int64)
        return empty, empty.clone()
    _, inverse = torch.unique(patterns, dim=0, return_inverse=True)
    r = int(inverse.max()) + 1
    n = inverse.numel()
    first = torch.full((r,), n, dtype=torch.int64, device=patterns.device)
    first.scatter_reduce_(0, inverse, torch.arange(n, device=patterns.device), reduce="amin")
    rank = torch.empty_like(first)
    rank[torch.argsort(first)] = torch.arange(r, device=patterns.device)
    ids = rank[inverse]
    return ids, torch.bincount(ids, minlength=r)


def _forward_backward(x, weights, biases, grad_out):
    """Per-layer inputs a_{l-1} (with a_{-1} = x) and deltas, as in DESIGN.md."""
    acts, zs = [x], []
    a = x
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        zs.append(z)
        if l < len(weights) - 1:
            a = torch.relu(z)
            acts.append(a)
    deltas = [None] * len(weights)
    delta = grad_out
    for l in range(len(weights) - 1, -1, -1):
        deltas[l] = delta
        if l > 0:
            delta = (delta @ weights[l]) * (zs[l - 1] > 0).to(x.dtype)
    return acts, deltas


# ----------------------------------------------------------------------------- the calls


def activation_patterns(x, weights, biases) -> Tensor:
    return ops.activation_patterns(x, weights, biases)


def region_ids(patterns: Tensor) -> tuple[Tensor, Tensor]:
    return _call("region_ids", lambda: ops.region_ids(patterns),
                 lambda: _region_ids_torch(patterns))


def hamming_pairs(patterns, i, j, segments: Optional[Sequence[int]] = None) -> Tensor:
    def torch_path():
        x = patterns[i] ^ patterns[j]
        if segments is None:
            return _popcount_words(x)
        bits = _bits(x, 0, segments[-1])
        return torch.stack([bits[:, a:b].sum(1) for a, b in zip(segments[:-1], segments[1:])], 1)
    return _call("hamming_pairs", lambda: ops.hamming_pairs(patterns, i, j, segments), torch_path)


def bit_counts(patterns: Tensor, num_bits: int) -> Tensor:
    return _call("bit_counts", lambda: ops.bit_counts(patterns, num_bits),
                 lambda: _bits(patterns, 0, num_bits).sum(0))


def per_example_grad_norms(x, weights, biases, grad_out) -> Tensor:
    def torch_path():
        acts, deltas = _forward_backward(x, weights, biases, grad_out)
        return torch.stack([(d * d).sum(1) * ((a * a).sum(1) + 1) for a, d in zip(acts, deltas)], 1)
    return _call("per_example_grad_norms",
                 lambda: ops.per_example_grad_norms(x, weights, biases, grad_out), torch_path)


def grad_dots(x, weights, biases, grad_out, i, j) -> Tensor:
    def torch_path():
        acts, deltas = _forward_backward(x, weights, biases, grad_out)
        return sum((d[i] * d[j]).sum(1) * ((a[i] * a[j]).sum(1) + 1)
                   for a, d in zip(acts, deltas))
    return _call("grad_dots", lambda: ops.grad_dots(x, weights, biases, grad_out, i, j),
                 torch_path)


def confusion_pairs(x, weights, biases, grad_out, i, j) -> Tensor:
    """c_ij = <g_i, g_j> / (|g_i| |g_j|), 0 where either norm is 0 (DESIGN.md)."""
    dots = grad_dots(x, weights, biases, grad_out, i, j)
    norms = per_example_grad_norms(x, weights, biases, grad_out).sum(1).sqrt()
    denom = norms[i] * norms[j]
    return torch.where(denom > 0, dots / torch.where(denom > 0, denom, torch.ones_like(denom)),
                       torch.zeros_like(dots))
