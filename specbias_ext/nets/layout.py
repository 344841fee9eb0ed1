"""Extracting (weights, biases) lists from ReLU MLPs, and the layout of the pattern bits."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

Tensor = torch.Tensor


def mlp_params(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """Return ``(weights, biases)`` of a plain ReLU MLP in nn.Linear layout.

    Accepts an ``nn.Sequential`` that ``specbias_ext.relu_network`` reads as a plain ReLU MLP
    (bias-carrying Linear layers with ReLU between them; Identity and eval-mode Dropout are
    ignored), or any module with a ``mlp_params()`` method (the project's ``CoordinateMLP``).
    Anything else raises ``TypeError`` naming the offending module; ``relu_network(model)``
    describes bias-free layers, LeakyReLU, input skips and residual layers too.
    """
    if hasattr(model, "mlp_params") and callable(model.mlp_params):
        return model.mlp_params()
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model: expected an nn.Sequential of Linear/ReLU layers or a CoordinateMLP, "
            f"got {type(model).__name__}"
        )
    from .tracing import trace_layers

    layers = trace_layers(model)
    for source, bias in zip(layers.sources, layers.biases):
        if bias is None:
            raise TypeError(f"{source}: nn.Linear without bias is not supported by mlp_params; "
                            "relu_network(model) describes it")
    for l, slope in enumerate(layers.slopes):
        if slope != 0.0:
            raise TypeError(f"{layers.sources[l]}: is followed by a LeakyReLU (slope {slope}); "
                            "mlp_params takes ReLU MLPs only, relu_network(model) describes it")
    return list(layers.weights), list(layers.biases)


def hidden_widths(weights: Sequence[Tensor]) -> list[int]:
    """Widths of the hidden layers (every layer but the head)."""
    return [int(w.shape[0]) for w in weights[:-1]]


def layer_bit_ranges(weights: Sequence[Tensor]) -> list[tuple[int, int]]:
    """``[(start, end), ...]``: the bits of hidden layer l in a pattern row are start..end-1."""
    ranges = []
    start = 0
    for width in hidden_widths(weights):
        ranges.append((start, start + width))
        start += width
    return ranges


def num_pattern_words(weights: Sequence[Tensor]) -> int:
    """Number of int64 words of a packed pattern row: ceil(H / 64)."""
    return (sum(hidden_widths(weights)) + 63) // 64
