"""How a wrapper hands a ``ReluNetwork`` and sizes to a ``torch.ops.specbias`` schema."""
from __future__ import annotations

import operator
from typing import Any, Optional

import torch

from ..nets.network import INPUT_HINT, ReluNetwork, check_input_width, require_network

Tensor = torch.Tensor
#: How an encoding in affine-sine form is named in a width mismatch, and what to pass instead.
AFFINE_SINE_FORM = ("the encoding (enc_matrix's rows)",
         "pass the affine-sine form of the encoding the network reads (encoding.affine_sine())")

NetworkArgs = tuple[list[Tensor], list[Optional[Tensor]], dict[str, Any]]


def network_args(net: ReluNetwork, width: Any, source: str = "x",
                 hint: str = INPUT_HINT) -> NetworkArgs:
    """``(weights, biases, keywords)`` for a schema ``(..., Tensor[] weights, Tensor?[] biases,
    ..., *, float[]? slopes, bool[]? input_skip, bool[]? residual)``, after the two checks every
    wrapper makes before its kernel runs: ``net`` is a ReluNetwork, and the ``width`` features of
    ``source`` are what its first layer reads (``width`` None: not known here, the kernel checks
    the shape). Keyword lists that are plain (None) are left out, so a plain MLP's call is
    exactly the positional one."""
    net = require_network(net)
    if width is not None:
        check_input_width(net, width, source, hint)
    weights, biases, keywords = net.op_args()
    return weights, biases, {k: v for k, v in keywords.items() if v is not None}


def feature_width(t: Any, axis: int) -> Any:
    """``t.shape[axis]`` of a 2-D tensor; None for anything else (the kernel names that)."""
    return t.shape[axis] if isinstance(t, Tensor) and t.dim() == 2 else None


def size_arg(value: Any, name: str = "size") -> Any:
    """An int or a SymInt as the schemas take it (numpy integers and 0-d tensors become int);
    a SymInt passes through, so a size from a traced shape is not specialised."""
    if isinstance(value, (int, torch.SymInt)) and not isinstance(value, bool):
        return value
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.dtype.is_floating_point:
            raise TypeError(f"{name}: expected an integer size, got a tensor of shape "
                            f"{tuple(value.shape)} and dtype {value.dtype}")
        return int(value.item())
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer size, got {type(value).__name__}") from None
