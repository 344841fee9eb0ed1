"""Reference activation patterns: dense sign bits, then packing.

Every function that runs the network takes ``(x, net)`` with a ``ReluNetwork``; the forward pass
is ``reference.network``'s.
"""
from __future__ import annotations

import torch

from ..nets.network import ReluNetwork
from . import network

Tensor = torch.Tensor


def hidden_preactivations(x: Tensor, net: ReluNetwork) -> list[Tensor]:
    """Pre-activations of every hidden layer.

    Args:
        x (Tensor[N, D]): the encoded points.
        net (ReluNetwork): the network.

    Returns:
        list[Tensor]: z_l ``[N, out_l]`` for l = 0..L-1.
    """
    return network.hidden_preactivations(net, x)


def pattern_bits(x: Tensor, net: ReluNetwork) -> Tensor:
    """Unpacked activation patterns.

    Args:
        x (Tensor[N, D]): the encoded points.
        net (ReluNetwork): the network.

    Returns:
        Tensor[N, H]: bool, 1 iff the pre-activation of hidden neuron k (layer 0 first) is > 0.
    """
    return network.pattern_bits(net, x)


def pack_bits(bits: Tensor) -> Tensor:
    """Pack bool [N, H] into int64 [N, ceil(H/64)]: bit k -> word k // 64, bit k % 64."""
    n, h = bits.shape
    words = (h + 63) // 64
    padded = torch.zeros((n, words * 64), dtype=torch.int64, device=bits.device)
    padded[:, :h] = bits.to(torch.int64)
    padded = padded.view(n, words, 64)
    shifts = torch.arange(64, device=bits.device, dtype=torch.int64)
    # Summing distinct powers of two is a bitwise OR; bit 63 wraps to the sign bit as in C.
    return (padded << shifts).sum(dim=2)


def unpack_bits(patterns: Tensor, num_bits: int) -> Tensor:
    """Inverse of pack_bits: bool [N, num_bits]."""
    shifts = torch.arange(64, device=patterns.device, dtype=torch.int64)
    bits = (patterns.unsqueeze(2) >> shifts) & 1
    # Explicit sizes: reshape(0, -1) is ambiguous for N = 0.
    return bits.reshape(patterns.shape[0], patterns.shape[1] * 64)[:, :num_bits].bool()


def activation_patterns(x: Tensor, net: ReluNetwork) -> Tensor:
    """Packed activation patterns (``pack_bits`` of ``pattern_bits``).

    Args:
        x (Tensor[N, D]): the encoded points.
        net (ReluNetwork): the network.

    Returns:
        Tensor[N, ceil(H / 64)]: int64 words, bit k in word k // 64, bit k % 64.
    """
    return pack_bits(pattern_bits(x, net))
