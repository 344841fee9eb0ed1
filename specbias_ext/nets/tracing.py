"""Reading a ``ReluNetwork`` off a user's ``nn.Module`` with torch.fx.

The module's forward is traced symbolically and every node on the way from the input to the
chosen output is matched against a small vocabulary:

- ``nn.Linear`` (with or without bias) reading the current hidden state a_{l-1} (x at first), or
  ``torch.cat`` of a_{l-1} and the module's input x in either order (an input skip; a ``[x, a]``
  concatenation has its weight columns permuted into the canonical ``[a, x]`` order);
- right after a Linear: ``nn.ReLU``, ``nn.LeakyReLU``, ``F.relu``, ``torch.relu``,
  ``Tensor.relu``, ``F.leaky_relu`` (the hidden layer's activation);
- right after an activation: ``+`` of the previous hidden state a_{l-1} (a residual layer);
- anywhere: ``nn.Identity``, ``nn.Dropout`` in eval mode (or with p = 0), ``F.dropout`` with
  ``training=False``, which change nothing.

The output must be a Linear's raw output (the head). Everything else is refused with a
``TypeError`` naming the module or traced node and the reason.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import fx, nn


_RELU_FUNCTIONS = (F.relu, torch.relu, torch.relu_, F.relu_)
_LEAKY_FUNCTIONS = (F.leaky_relu, F.leaky_relu_)
_ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)
_DROPOUT_MODULES = (nn.Dropout, nn.Dropout1d, nn.AlphaDropout)
VOCABULARY = ("Linear, ReLU, LeakyReLU, Identity, eval-mode Dropout, torch.cat with the input "
              "and + of the previous hidden state")


@dataclass
class TracedLayers:
    """What the trace found: per layer the weight (canonical column order), bias, source name;
    per hidden layer the slope, residual flag and source of the activation."""
    weights: list
    biases: list
    sources: list
    skips: list
    slopes: list
    residual: list


@dataclass(eq=False)
class _Value:
    """The meaning of a traced node: the input x, the pre-activation z_l of layer l, or the
    hidden state a_l; a ``cat`` is [a_{l-1}, x] (``x_first`` for [x, a_{l-1}]). Compared by
    identity: an activation and the residual sum after it are different values."""
    kind: str  # "x" | "pre" | "act" | "cat"
    layer: int = -1
    x_first: bool = False
    joined: Optional["_Value"] = None  # for a cat: the hidden state it joins with x


def module_name(target: str) -> str:
    """``"trunk.3"`` -> ``"model.trunk[3]"``, ``"1"`` -> ``"model[1]"`` (how a user indexes it)."""
    out = "model"
    for part in target.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _describe_node(node: fx.Node, modules: dict) -> str:
    if node.op == "call_module":
        return f"{module_name(node.target)} ({type(modules[node.target]).__name__})"
    if node.op == "call_function":
        name = getattr(node.target, "__name__", str(node.target))
        return f"traced node '{node.name}' (call to {name})"
    if node.op == "call_method":
        return f"traced node '{node.name}' (Tensor.{node.target})"
    if node.op == "get_attr":
        return f"traced node '{node.name}' (attribute model.{node.target})"
    return f"traced node '{node.name}' ({node.op})"


def _refuse(node: fx.Node, modules: dict, why: str) -> TypeError:
    return TypeError(f"{_describe_node(node, modules)}: {why}")


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # fx raises TraceError, TypeError, ... for untraceable forwards
        raise TypeError(
            f"model: torch.fx could not trace {type(model).__name__}.forward ({exc}); only "
            "forwards without data-dependent branches or shape arithmetic can be described "
            f"({VOCABULARY})") from exc


def _ancestors(target: fx.Node) -> set:
    seen, stack = set(), [target]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(node.all_input_nodes)
    return seen


def _dropout_is_noop(module: nn.Module) -> bool:
    return (not module.training) or float(module.p) == 0.0


def _argument(node: fx.Node, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


class _Reader:
    """Walks the nodes in order, keeping the meaning of each (a ``_Value``)."""

    def __init__(self, graph_module: fx.GraphModule):
        self.modules = dict(graph_module.named_modules())
        self.values: dict = {}
        self.layers = TracedLayers([], [], [], [], [], [])
        self.x = _Value("x")
        self.state = self.x            # the current hidden state a_{l-1}
        self.state_before = None       # what the latest layer read: a residual add may add it
        self.x_node: Optional[fx.Node] = None

    # ------------------------------------------------------------------ helpers

    def value(self, node: fx.Node, arg) -> _Value:
        if not isinstance(arg, fx.Node):
            raise _refuse(node, self.modules, f"expected a tensor from the network, got the "
                                              f"constant {arg!r}")
        return self.values[arg]

    def refuse(self, node, why):
        return _refuse(node, self.modules, why)

    # ------------------------------------------------------------------ node kinds

    def placeholder(self, node):
        if self.x_node is not None:
            raise self.refuse(node, "the network output depends on a second input "
                                    f"('{self.x_node.name}' is the first); the ops take one "
                                    "input x [N, D]")
        self.x_node = node
        self.values[node] = self.x

    def linear(self, node, module: nn.Linear):
        src = self.value(node, node.args[0])
        layer = len(self.layers.weights)
        if src.kind == "pre":
            raise self.refuse(node, f"reads the output of Linear layer {src.layer} with no "
                                    "activation in between (fold the two Linears into one)")
        if layer > len(self.layers.slopes):
            raise self.refuse(node, f"a second Linear while the output of Linear layer "
                                    f"{layer - 1} has no activation yet (a branch or a second "
                                    "head); pass output='<head name>' to pick one head")
        if src.kind == "cat" and src.joined is self.state:
            skip = True
        elif src is self.state:
            skip = False
        else:
            raise self.refuse(node, "reads something other than the current hidden state "
                                    f"({self._what(self.state)}); branches and second heads "
                                    "are not part of a ReluNetwork")
        weight = module.weight
        if skip and src.x_first:
            d = int(weight.shape[1]) - self._state_width()
            weight = torch.cat([weight[:, d:], weight[:, :d]], dim=1)
        self.layers.weights.append(weight)
        self.layers.biases.append(module.bias)
        self.layers.sources.append(module_name(node.target))
        self.layers.skips.append(skip)
        self.values[node] = _Value("pre", layer)

    def _state_width(self) -> int:
        if self.state.kind == "x":
            raise AssertionError("a skip concatenates x with a hidden state")
        return int(self.layers.weights[self.state.layer].shape[0])

    def activation(self, node, slope: float):
        src = self.value(node, node.args[0])
        if src.kind != "pre":
            raise self.refuse(node, "an activation must directly follow a Linear layer (here "
                                    f"it is applied to {self._what(src)})")
        if src.layer != len(self.layers.slopes):
            raise self.refuse(node, f"a second activation of Linear layer {src.layer} (a branch)")
        slope = float(slope)
        if slope != slope or slope in (float("inf"), float("-inf")):
            raise self.refuse(node, f"expected a finite negative slope, got {slope}")
        self.layers.slopes.append(slope)
        self.layers.residual.append(False)
        self.state_before, self.state = self.state, _Value("act", src.layer)
        self.values[node] = self.state

    def add(self, node):
        if len(node.args) != 2 or node.kwargs.get("alpha", 1) != 1:
            raise self.refuse(node, "only `a + b` of two network tensors is supported")
        left, right = (self.value(node, a) for a in node.args)
        if "pre" in (left.kind, right.kind):
            raise self.refuse(node, "+ must add the previous hidden state to act(z_l), not to "
                                    "a Linear's raw output (act(z_l + a_{l-1}) is not a layer "
                                    "of a ReluNetwork)")
        current = self.state
        if len(self.layers.weights) != len(self.layers.slopes):
            raise self.refuse(node, "+ after the next Linear already read the hidden state "
                                    "(a branch)")
        if current.kind != "act" or self.layers.residual[current.layer]:
            raise self.refuse(node, "+ must add the previous hidden state to the activation of "
                                    "a hidden layer (a residual layer), once")
        if {left, right} != {current, self.state_before} or left is right:
            raise self.refuse(node, "+ must add the previous hidden state a_{l-1} to act(z_l) "
                                    f"(here: {self._what(left)} + {self._what(right)})")
        self.layers.residual[current.layer] = True
        self.state = _Value("act", current.layer)
        self.values[node] = self.state

    def cat(self, node):
        tensors = _argument(node, 0, "tensors", None)
        dim = _argument(node, 1, "dim", 0)
        if not isinstance(tensors, (list, tuple)) or len(tensors) != 2:
            raise self.refuse(node, "torch.cat must join exactly the current hidden state and "
                                    "the input x")
        if dim not in (1, -1):
            raise self.refuse(node, f"torch.cat must join along the feature dimension (dim=-1 "
                                    f"or 1), got dim={dim}")
        first, second = (self.value(node, t) for t in tensors)
        if self.state.kind == "x":
            raise self.refuse(node, "an input skip needs a hidden layer before it")
        if {first, second} != {self.state, self.x}:
            raise self.refuse(node, "torch.cat must join the current hidden state and the input "
                                    f"x (here: {self._what(first)} and {self._what(second)})")
        self.values[node] = _Value("cat", self.state.layer, x_first=first.kind == "x",
                                   joined=self.state)

    def passthrough(self, node):
        self.values[node] = self.value(node, node.args[0])

    def _what(self, value: _Value) -> str:
        return {"x": "the input x", "pre": f"the raw output of Linear layer {value.layer}",
                "act": f"the hidden state of layer {value.layer}",
                "cat": "a concatenation"}[value.kind]

    # ------------------------------------------------------------------ dispatch

    def read(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            return self.placeholder(node)
        if node.op == "call_module":
            module = self.modules[node.target]
            if isinstance(module, nn.Linear):
                return self.linear(node, module)
            if isinstance(module, nn.ReLU):
                return self.activation(node, 0.0)
            if isinstance(module, nn.LeakyReLU):
                return self.activation(node, module.negative_slope)
            if isinstance(module, nn.Identity):
                return self.passthrough(node)
            if isinstance(module, _DROPOUT_MODULES):
                if not _dropout_is_noop(module):
                    raise self.refuse(node, "Dropout in training mode makes the network random; "
                                            "call model.eval() first")
                return self.passthrough(node)
            raise self.refuse(node, self._why_not(type(module).__name__))
        if node.op == "call_function":
            fn = node.target
            if fn in _RELU_FUNCTIONS:
                return self.activation(node, 0.0)
            if fn in _LEAKY_FUNCTIONS:
                return self.activation(node, _argument(node, 1, "negative_slope", 0.01))
            if fn in _ADD_FUNCTIONS:
                return self.add(node)
            if fn is torch.cat or fn is torch.concat or fn is torch.concatenate:
                return self.cat(node)
            if fn is F.dropout:
                if _argument(node, 2, "training", True) and _argument(node, 1, "p", 0.5) != 0:
                    raise self.refuse(node, "F.dropout with training=True makes the network "
                                            "random; call model.eval() first")
                return self.passthrough(node)
            name = getattr(fn, "__name__", str(fn))
            raise self.refuse(node, self._why_not(name))
        if node.op == "call_method":
            if node.target in ("relu", "relu_"):
                return self.activation(node, 0.0)
            if node.target in ("add", "add_", "__add__", "__iadd__"):
                return self.add(node)
            raise self.refuse(node, self._why_not(f"Tensor.{node.target}"))
        if node.op == "get_attr":
            raise self.refuse(node, "a tensor attribute used in the forward; only the Linear "
                                    "layers of a ReluNetwork hold parameters")
        raise self.refuse(node, self._why_not(node.op))

    @staticmethod
    def _why_not(what: str) -> str:
        if "BatchNorm" in what or "Norm" in what:
            reason = (f"{what} is not part of a ReluNetwork (it depends on batch statistics or "
                      "normalises per point; fold an eval-mode BatchNorm into the Linear "
                      "before it)")
        elif what in ("Tanh", "Sigmoid", "Softplus", "GELU", "SiLU", "ELU", "tanh", "sigmoid",
                      "softplus", "gelu", "silu", "elu", "Tensor.tanh", "Tensor.sigmoid"):
            reason = (f"{what} is not piecewise linear, so the network has no linear regions "
                      "(only ReLU and LeakyReLU activations)")
        else:
            reason = f"{what} is not part of a ReluNetwork"
        return f"{reason}; the vocabulary is {VOCABULARY}"


def _output_node(graph_module: fx.GraphModule, output: Optional[str]) -> fx.Node:
    graph = graph_module.graph
    if output is not None:
        calls = [n for n in graph.nodes if n.op == "call_module" and n.target == output]
        if not calls:
            names = [n.target for n in graph.nodes if n.op == "call_module"
                     and isinstance(graph_module.get_submodule(n.target), nn.Linear)]
            raise ValueError(f"output: expected the name of a Linear the forward calls, got "
                             f"{output!r} (Linear layers called: {names})")
        if len(calls) > 1:
            raise ValueError(f"output: {output!r} is called {len(calls)} times in the forward")
        if not isinstance(graph_module.get_submodule(output), nn.Linear):
            raise ValueError(f"output: expected a Linear head, {module_name(output)} is a "
                             f"{type(graph_module.get_submodule(output)).__name__}")
        return calls[0]
    (out_node,) = [n for n in graph.nodes if n.op == "output"]
    result = out_node.args[0]
    if isinstance(result, (tuple, list, dict)):
        count = len(result)
        raise TypeError(f"model: the forward returns {count} outputs (a second head); pass "
                        "output='<name of the head Linear>' to describe the network up to "
                        "one of them")
    if not isinstance(result, fx.Node):
        raise TypeError(f"model: the forward returns the constant {result!r}")
    return result


def trace_layers(model: nn.Module, output: Optional[str] = None) -> TracedLayers:
    """The layers of ``model`` up to its output (or up to the Linear named ``output``)."""
    graph_module = _trace(model)
    target = _output_node(graph_module, output)
    needed = _ancestors(target)
    reader = _Reader(graph_module)
    for node in graph_module.graph.nodes:
        if node in needed:
            reader.read(node)
    result = reader.values[target]
    layers = reader.layers
    if result.kind != "pre" or result.layer != len(layers.weights) - 1:
        if result.kind == "act":
            why = "expected the last module to be the nn.Linear head (the output is the " \
                  "activation of a hidden layer)"
        else:
            why = "expected the output to be the raw output of the last Linear (the head)"
        raise TypeError(f"model: {why}")
    if len(layers.weights) < 2:
        raise TypeError("model: expected at least one hidden layer (Linear, activation, "
                        "Linear head)")
    if layers.skips[0]:
        raise AssertionError("layer 0 reads x")
    return layers
