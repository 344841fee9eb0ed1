"""Extracting (weights, biases) lists from ReLU MLPs, and the layout of the pattern bits."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

Tensor = torch.Tensor


def mlp_params(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """Return ``(weights, biases)`` of a ReLU MLP in nn.Linear layout.

    Accepts an ``nn.Sequential`` of ``Linear`` and ``ReLU`` modules that alternates
    Linear, ReLU, Linear, ReLU, ..., Linear (the last Linear is the head), or any module with a
    ``mlp_params()`` method (the project's ``CoordinateMLP``). Every Linear must have a bias.
    Anything else raises ``TypeError`` naming the offending module.
    """
    if hasattr(model, "mlp_params") and callable(model.mlp_params):
        return model.mlp_params()
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model: expected an nn.Sequential of Linear/ReLU layers or a CoordinateMLP, "
            f"got {type(model).__name__}"
        )
    layers = list(model)
    weights: list[Tensor] = []
    biases: list[Tensor] = []
    expect_linear = True
    for idx, layer in enumerate(layers):
        if expect_linear:
            if not isinstance(layer, nn.Linear):
                raise TypeError(
                    f"model[{idx}]: expected nn.Linear, got {type(layer).__name__}; only "
                    "Linear/ReLU MLPs are supported"
                )
            if layer.bias is None:
                raise TypeError(f"model[{idx}]: nn.Linear without bias is not supported")
            weights.append(layer.weight)
            biases.append(layer.bias)
        elif not isinstance(layer, nn.ReLU):
            raise TypeError(
                f"model[{idx}]: expected nn.ReLU after a Linear layer, got "
                f"{type(layer).__name__}; only ReLU MLPs are supported"
            )
        expect_linear = not expect_linear
    if not layers or not isinstance(layers[-1], nn.Linear):
        raise TypeError("model: expected the last module to be the nn.Linear head")
    if len(weights) < 2:
        raise TypeError("model: expected at least one hidden layer (Linear, ReLU, Linear)")
    return weights, biases


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
