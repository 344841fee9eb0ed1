"""What a node of a traced forward does, in the terms the model readers need: a Linear layer, a
piecewise-linear activation (and its slope), a no-op, a concatenation, a residual add, an
elementwise function that may follow the head, a smooth activation or a normalisation (which
have no linear regions), and the reasons a refusal gives for each."""
from __future__ import annotations

import math
import operator
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import fx, nn

_RELU_FUNCTIONS = (F.relu, torch.relu, torch.relu_, F.relu_)
_LEAKY_FUNCTIONS = (F.leaky_relu, F.leaky_relu_)
_ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
_CAT_FUNCTIONS = (torch.cat, torch.concat, torch.concatenate)
_DROPOUT_MODULES = (nn.Dropout, nn.Dropout1d, nn.AlphaDropout, nn.FeatureAlphaDropout)
_NORM_MODULES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
                 nn.LocalResponseNorm)
_NORM_FUNCTIONS = (F.layer_norm, F.batch_norm, F.group_norm, F.instance_norm, F.normalize,
                   F.rms_norm)
# Elementwise functions of one tensor: an output activation may be a chain of these.
_ELEMENTWISE_FUNCTIONS = {
    torch.tanh, F.tanh, torch.sigmoid, F.sigmoid, torch.exp, torch.abs, operator.abs,
    torch.clamp, torch.clip, torch.clamp_min, torch.clamp_max, F.softplus, F.relu, torch.relu,
    F.leaky_relu, F.hardtanh, F.relu6, F.elu, F.silu, F.gelu, F.softsign, torch.square,
    torch.neg, operator.neg, torch.expm1, torch.log1p,
}
_ELEMENTWISE_METHODS = {"tanh", "sigmoid", "exp", "abs", "clamp", "clip", "clamp_min",
                        "clamp_max", "relu", "square", "neg", "expm1", "log1p"}
_ELEMENTWISE_MODULES = (nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ReLU, nn.LeakyReLU, nn.Hardtanh,
                        nn.ReLU6, nn.ELU, nn.SiLU, nn.GELU, nn.Softsign)
_SCALAR_ARITHMETIC = (operator.mul, operator.add, operator.sub, operator.truediv, torch.mul,
                      torch.add, torch.sub, torch.div)
_SCALAR_METHODS = {"mul", "add", "sub", "div", "__mul__", "__add__", "__sub__", "__truediv__",
                   "__rmul__", "__radd__"}
# Not piecewise linear: no linear regions, whatever else the network does.
_SMOOTH_NAMES = {"tanh", "sigmoid", "softplus", "gelu", "silu", "elu", "selu", "celu", "mish",
                 "softsign", "logsigmoid", "hardswish", "hardsigmoid", "sin", "cos", "exp"}
_SINE_NAMES = {"sin", "cos"}


def argument(node: fx.Node, index: int, name: str, default: Any) -> Any:
    """Argument ``index`` / keyword ``name`` of a call node."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def module_of(node: fx.Node, modules: dict) -> Optional[nn.Module]:
    return modules.get(node.target) if node.op == "call_module" else None


def op_name(node: fx.Node, modules: dict) -> str:
    """A short lower-case name of what the node computes ("tanh", "layernorm", "mul")."""
    module = module_of(node, modules)
    if module is not None:
        return type(module).__name__.lower()
    if node.op == "call_method":
        return str(node.target).rstrip("_").strip("_")
    return getattr(node.target, "__name__", str(node.target)).rstrip("_").strip("_")


def display_name(node: fx.Node, modules: dict) -> str:
    """How a message names what a node computes ("Tanh", "Tensor.view", "softplus")."""
    module = module_of(node, modules)
    if module is not None:
        return type(module).__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return getattr(node.target, "__name__", str(node.target))


def is_linear(node: fx.Node, modules: dict) -> bool:
    return isinstance(module_of(node, modules), nn.Linear)


def is_dropout(node: fx.Node, modules: dict) -> bool:
    return (isinstance(module_of(node, modules), _DROPOUT_MODULES)
            or (node.op == "call_function" and node.target is F.dropout))


def dropout_is_random(node: fx.Node, modules: dict) -> bool:
    module = module_of(node, modules)
    if module is not None:
        return module.training and float(module.p) != 0.0
    return bool(argument(node, 2, "training", True)) and argument(node, 1, "p", 0.5) != 0


def is_passthrough(node: fx.Node, modules: dict) -> bool:
    """Changes nothing the network computes (Identity, Dropout that draws nothing, contiguous)."""
    if isinstance(module_of(node, modules), nn.Identity):
        return True
    if node.op == "call_method" and node.target == "contiguous":
        return True
    return is_dropout(node, modules) and not dropout_is_random(node, modules)


def strip(node, modules: dict):
    """The node a chain of no-ops passes on."""
    while isinstance(node, fx.Node) and is_passthrough(node, modules) and node.args:
        node = node.args[0]
    return node


def relu_slope(node: fx.Node, modules: dict) -> Optional[float]:
    """The negative slope when ``node`` is a ReLU or LeakyReLU of its first argument (0.0 for a
    ReLU, and for ``clamp(min=0)``, which is the same function); None otherwise."""
    module = module_of(node, modules)
    if module is not None:
        if isinstance(module, nn.ReLU):
            return 0.0
        if isinstance(module, nn.LeakyReLU):
            return float(module.negative_slope)
        return None
    if node.op == "call_function":
        if node.target in _RELU_FUNCTIONS:
            return 0.0
        if node.target in _LEAKY_FUNCTIONS:
            return float(argument(node, 1, "negative_slope", 0.01))
        if node.target in (torch.clamp, torch.clip, torch.clamp_min):
            return _clamp_at_zero(node)
        return None
    if node.op == "call_method":
        if node.target in ("relu", "relu_"):
            return 0.0
        if node.target in ("clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_"):
            return _clamp_at_zero(node)
    return None


def _clamp_at_zero(node: fx.Node) -> Optional[float]:
    name = str(node.target) if node.op == "call_method" else node.target.__name__
    low = argument(node, 1, "min", None)
    high = None if name.startswith("clamp_min") else argument(node, 2, "max", None)
    at_zero = isinstance(low, (int, float)) and not isinstance(low, bool) and low == 0
    return 0.0 if at_zero and high is None else None


def is_add(node: fx.Node) -> bool:
    return ((node.op == "call_function" and node.target in _ADD_FUNCTIONS)
            or (node.op == "call_method" and node.target in ("add", "add_", "__add__",
                                                              "__iadd__")))


def is_cat(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target in _CAT_FUNCTIONS


def is_scalar_arithmetic(node: fx.Node) -> bool:
    """``t * 2``, ``t + 0.5``, ``t / c`` with a Python number: an affine map of one tensor."""
    if node.op == "call_function" and node.target in _SCALAR_ARITHMETIC:
        operands = node.args[:2]
    elif node.op == "call_method" and node.target in _SCALAR_METHODS:
        operands = node.args[:2]
    else:
        return False
    tensors = [a for a in operands if isinstance(a, fx.Node)]
    numbers = [a for a in operands if isinstance(a, (int, float)) and not isinstance(a, bool)]
    return len(tensors) == 1 and len(numbers) == 1 and math.isfinite(float(numbers[0]))


def is_elementwise(node: fx.Node, modules: dict) -> bool:
    """An elementwise function of one tensor (the shapes an output activation may take)."""
    module = module_of(node, modules)
    if module is not None:
        return isinstance(module, _ELEMENTWISE_MODULES)
    if node.op == "call_function" and node.target in _ELEMENTWISE_FUNCTIONS:
        return sum(isinstance(a, fx.Node) for a in node.args) == 1 and not any(
            isinstance(v, fx.Node) for v in node.kwargs.values())
    if node.op == "call_method" and str(node.target).rstrip("_") in _ELEMENTWISE_METHODS:
        return sum(isinstance(a, fx.Node) for a in node.args) == 1
    return is_scalar_arithmetic(node)


def is_norm(node: fx.Node, modules: dict) -> bool:
    return (isinstance(module_of(node, modules), _NORM_MODULES)
            or (node.op == "call_function" and node.target in _NORM_FUNCTIONS))


def is_smooth_activation(node: fx.Node, modules: dict) -> bool:
    """An activation with no linear pieces (tanh, GELU, softplus, sine, ...)."""
    return op_name(node, modules) in _SMOOTH_NAMES


def is_sine(node: fx.Node, modules: dict) -> bool:
    return op_name(node, modules) in _SINE_NAMES


def why_not_linear(node: fx.Node, modules: dict) -> str:
    """Why a normalisation or smooth activation cannot be part of a ReluNetwork."""
    module = module_of(node, modules)
    what = display_name(node, modules)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        if module.training:
            return (f"{what} in training mode normalises by the statistics of the batch, so a "
                    "point's output depends on the other points; call model.eval()")
        return (f"{what} is not part of a ReluNetwork; in eval mode it is an affine map per "
                "feature, so fold it into the Linear before it (model.<linear> = "
                "torch.nn.utils.fusion.fuse_linear_bn_eval(linear, bn) and the BatchNorm "
                "replaced by nn.Identity()), or, after the activation, into the next Linear "
                "(its weight columns scaled by weight / sqrt(running_var + eps) and the shift "
                "added to its bias)")
    if is_norm(node, modules):
        return (f"{what} normalises each point by statistics of its own features, which is "
                "not piecewise linear in the input, so the network has no linear regions")
    if is_sine(node, modules):
        return (f"{what} is a sine activation (SIREN): not piecewise linear, so the network has "
                "no linear regions; only a first sine layer on the coordinates (a learned "
                "Fourier feature encoding) can be split off as the encoding")
    return (f"{what} is not piecewise linear, so the network has no linear regions (only ReLU "
            "and LeakyReLU hidden layers are read)")
