"""How a wrapper hands a described network to a ``torch.ops.specbias`` schema."""
from __future__ import annotations

from typing import Any, Optional

import torch

from ..nets.network import ReluNetwork

Tensor = torch.Tensor


def network_args(net: ReluNetwork) -> tuple[list[Tensor], list[Optional[Tensor]], dict[str, Any]]:
    """``(weights, biases, kwargs)`` for a schema ``(..., Tensor[] weights, Tensor?[] biases, ...,
    *, float[]? slopes, bool[]? input_skip, bool[]? residual)``. Keyword lists that are plain
    (None) are left out, so a plain MLP's call is exactly the positional one."""
    weights, biases, kwargs = net.op_args()
    return weights, biases, {k: v for k, v in kwargs.items() if v is not None}


def plain_lists(net: ReluNetwork) -> tuple[list[Tensor], list[Tensor]]:
    """The (weights, biases) lists of a schema that takes plain ReLU MLPs only."""
    if not net.is_plain:
        raise NotImplementedError("this op does not yet take skips, LeakyReLU, bias-free or "
                                  "residual layers")
    return list(net.weights), list(net.biases)


def size_arg(value):
    """An int or a SymInt as the schemas take it (numpy integers and 0-d tensors become int);
    a SymInt passes through, so a size from a traced shape is not specialised."""
    if isinstance(value, (int, torch.SymInt)) and not isinstance(value, bool):
        return value
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point:
            raise TypeError(f"expected an integer size, got a tensor of shape "
                            f"{tuple(value.shape)} and dtype {value.dtype}")
        return int(value.item())
    try:
        import operator
        return operator.index(value)
    except TypeError:
        raise TypeError(f"expected an integer size, got {type(value).__name__}") from None
