"""The (weights, biases) lists of a plain ReLU MLP, and the layout of the pattern bits."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .fx_trace import module_name
from .reading import check_no_encoding, trace_model

Tensor = torch.Tensor


def mlp_params(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """``(weights, biases)`` lists of a model whose network is a plain ReLU MLP (the older calling
    convention; new code takes ``encoding, net = specbias_ext.split_model(model)``).

    Reads exactly what ``relu_network`` reads (any traceable module whose forward starts at its
    first Linear, a ``CoordinateMLP``) and refuses what two lists cannot describe: bias-free
    layers, LeakyReLU, input skips and residual layers, naming the layer.
    """
    found = trace_model(model)
    check_no_encoding(model, found.encoding)
    layers = found.layers
    sources = layers.sources
    for source, bias in zip(sources, layers.biases):
        if bias is None:
            raise TypeError(f"{module_name(source)}: nn.Linear without bias is not supported by "
                            "mlp_params; relu_network(model) describes it")
    for l, slope in enumerate(layers.slopes):
        if slope != 0.0:
            raise TypeError(f"{module_name(sources[l])}: is followed by a LeakyReLU (slope "
                            f"{slope}); mlp_params takes ReLU MLPs only, relu_network(model) "
                            "describes it")
    for l, (skip, residual) in enumerate(zip(layers.skips, layers.residual + [False])):
        if skip or residual:
            raise TypeError(f"{module_name(sources[l])}: has an input skip or a residual add; "
                            "mlp_params takes plain ReLU MLPs only, relu_network(model) "
                            "describes it")
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
