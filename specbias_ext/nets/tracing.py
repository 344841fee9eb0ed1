"""Reading the ReLU network of a traced forward, from the input of its first Linear (``x``) to
its head.

Every node on the way is matched against a small vocabulary:

- ``nn.Linear`` (with or without bias; its weight as the forward sees it, so an
  ``nn.utils.weight_norm`` layer gives g v / ||v||), each called once, reading the current hidden
  state a_{l-1} (x at first), or ``torch.cat`` of a_{l-1} and x, or of a_{l-1} and a column slice
  of x, in either order (an input skip; a ``[x, a]`` concatenation has its weight columns
  permuted into the canonical ``[a, x]`` order);
- right after a Linear: ``nn.ReLU``, ``nn.LeakyReLU``, ``F.relu``, ``torch.relu``,
  ``Tensor.relu``, ``F.leaky_relu``, ``clamp(min=0)``, in place or not (the hidden layer's
  activation);
- right after an activation: ``+`` of the previous hidden state a_{l-1} (a residual layer);
- anywhere: ``nn.Identity``, ``nn.Dropout`` in eval mode (or with p = 0), ``F.dropout`` with
  ``training=False``, ``.contiguous()``, which change nothing; anything computed from the
  coordinates alone (it matters only if a layer reads it).

The output must be a Linear's raw output (the head). Everything else is refused with a
``TypeError`` naming the module or traced node, the reason, and the way out where there is one
(``output='<Linear>'`` to stop before it, ``model.eval()``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import fx, nn
from torch.nn.utils.weight_norm import WeightNorm

from . import node_kinds as kinds
from .fx_trace import describe_node, module_name

VOCABULARY = ("Linear, ReLU, LeakyReLU, Identity, eval-mode Dropout, torch.cat with the input "
              "(or a column slice of it) and + of the previous hidden state")


@dataclass
class TracedLayers:
    """What the reading found, per layer: the weight (canonical column order), bias, module
    name, whether the layer has an input skip and which columns of x it reads (None: all);
    per hidden layer the slope and residual flag."""
    weights: list = field(default_factory=list)
    biases: list = field(default_factory=list)
    sources: list = field(default_factory=list)   # module targets ("pts_linears.3")
    skips: list = field(default_factory=list)
    skip_columns: list = field(default_factory=list)
    slopes: list = field(default_factory=list)
    residual: list = field(default_factory=list)


@dataclass(eq=False)
class _Value:
    """The meaning of a traced node: the network input x, a value of the coordinates alone, the
    pre-activation z_l of layer l, the hidden state a_l, or a concatenation [a_{l-1}, x part]
    (``x_first`` for [x part, a_{l-1}]). Compared by identity: an activation and the residual sum
    after it are different values."""
    kind: str  # "x" | "coord" | "pre" | "act" | "cat"
    layer: int = -1
    x_first: bool = False
    joined: Optional["_Value"] = None        # for a cat: the hidden state it joins with x
    columns: Optional[tuple] = None          # for a cat: the columns of x it joins (None: all)
    node: Optional[fx.Node] = None           # for "coord": the node that computes it


def linear_weight(module: nn.Linear) -> torch.Tensor:
    """The weight a Linear's forward uses: ``nn.utils.weight_norm`` recomputes it from g and v in
    a pre-forward hook, so ``module.weight`` is stale after g or v change (a loaded state dict,
    an optimiser step); parametrizations compute it on access."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == "weight":
            return hook.compute_weight(module)
    return module.weight


def head_hint(target: Optional[str], depth: int) -> str:
    """The way out of a refusal after the Linear ``target``: make it the head."""
    if target is None or depth < 1:
        return ""
    return (f"; to analyse the network up to {module_name(target)}, pass "
            f"output={target!r}")


class TrunkReader:
    """Walks the trunk's nodes in order, keeping the meaning of each (a ``_Value``).

    ``x_node`` is the input of the first Linear; ``columns_of(node)`` says which columns of x a
    value computed from the coordinates alone is (None: all of x), or raises ``TypeError``
    saying why it is not a column range of x."""

    def __init__(self, graph_module: fx.GraphModule, x_node: fx.Node,
                 columns_of: Callable[[fx.Node], Optional[tuple]]):
        self.modules = dict(graph_module.named_modules())
        self.first_input = next(n for n in graph_module.graph.nodes if n.op == "placeholder")
        self.columns_of = columns_of
        self.x = _Value("x", node=x_node)
        self.values: dict = {x_node: self.x}
        self.layers = TracedLayers()
        self.state = self.x            # the current hidden state a_{l-1}
        self.state_before = None       # what the latest layer read: a residual add may add it
        self.used: dict = {}           # id(Linear module) -> its first call

    # ------------------------------------------------------------------ helpers

    def value(self, node: fx.Node, arg) -> _Value:
        if not isinstance(arg, fx.Node):
            raise self.refuse(node, f"expected a tensor from the network, got the constant "
                                    f"{arg!r}")
        return self.values[kinds.strip(arg, self.modules)]

    def refuse(self, node, why) -> TypeError:
        return TypeError(f"{describe_node(node, self.modules)}: {why}")

    def _what(self, value: _Value) -> str:
        if value.kind == "coord" and value.node.op == "placeholder":
            if value.node is self.first_input:
                return f"the forward's input '{value.node.name}' (the coordinates)"
            return f"the forward's second input '{value.node.name}'"
        if value.kind == "coord":
            return f"traced node '{value.node.name}' (computed from the coordinates alone)"
        return {"x": "the network input x", "pre": f"the raw output of Linear layer {value.layer}",
                "act": f"the hidden state of layer {value.layer}",
                "cat": "a concatenation"}[value.kind]

    def _hint(self, layer: int) -> str:
        target = self.layers.sources[layer] if 0 <= layer < len(self.layers.sources) else None
        return head_hint(target, layer)

    # ------------------------------------------------------------------ node kinds

    def linear(self, node, module: nn.Linear):
        first = self.used.get(id(module))
        if first is not None:
            raise self.refuse(node, f"the same Linear is called again (first as traced node "
                                    f"'{first.name}'): recurrent reuse of one layer's weights "
                                    "is not a ReluNetwork (each layer has its own weight, and "
                                    "the per-example gradient of a shared weight sums over its "
                                    "uses); give each use its own nn.Linear")
        self.used[id(module)] = node
        src = self.value(node, node.args[0])
        layer = len(self.layers.weights)
        if src.kind == "pre":
            raise self.refuse(node, f"reads the output of Linear layer {src.layer} with no "
                                    "activation in between (fold the two Linears into one)")
        if layer > len(self.layers.slopes):
            previous = self.layers.sources[-1]
            raise self.refuse(node, f"a second Linear while the output of Linear layer "
                                    f"{layer - 1} ({module_name(previous)}) has no activation "
                                    f"yet (a branch or a second head); pass output={previous!r} "
                                    f"or output={node.target!r} to pick one head")
        if src.kind == "cat" and src.joined is self.state:
            skip, columns = True, src.columns
        elif src is self.state:
            skip, columns = False, None
        else:
            raise self.refuse(node, "reads something other than the current hidden state "
                                    f"({self._what(self.state)}); branches and second heads "
                                    "are not part of a ReluNetwork")
        weight = linear_weight(module)
        if skip and src.x_first:
            d = int(weight.shape[1]) - self._state_width()
            weight = torch.cat([weight[:, d:], weight[:, :d]], dim=1)
        self.layers.weights.append(weight)
        self.layers.biases.append(module.bias)
        self.layers.sources.append(node.target)
        self.layers.skips.append(skip)
        self.layers.skip_columns.append(columns)
        self.values[node] = _Value("pre", layer)

    def _state_width(self) -> int:
        return int(self.layers.weights[self.state.layer].shape[0])

    def activation(self, node, slope: float):
        src = self.value(node, node.args[0])
        if src.kind != "pre":
            raise self.refuse(node, "an activation must directly follow a Linear layer (here "
                                    f"it is applied to {self._what(src)})")
        if src.layer != len(self.layers.slopes):
            raise self.refuse(node, f"a second activation of Linear layer {src.layer} (a branch)")
        if slope != slope or slope in (float("inf"), float("-inf")):
            raise self.refuse(node, f"expected a finite negative slope, got {slope}")
        self.layers.slopes.append(float(slope))
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
        tensors = kinds.argument(node, 0, "tensors", None)
        dim = kinds.argument(node, 1, "dim", 0)
        if not isinstance(tensors, (list, tuple)) or len(tensors) != 2:
            raise self.refuse(node, "torch.cat must join exactly the current hidden state and "
                                    "the network input x (or a column slice of it)")
        if dim not in (1, -1):
            raise self.refuse(node, f"torch.cat must join along the feature dimension (dim=-1 "
                                    f"or 1), got dim={dim}")
        first, second = (self.value(node, t) for t in tensors)
        if self.state.kind == "x":
            raise self.refuse(node, "an input skip needs a hidden layer before it")
        hidden = [v for v in (first, second) if v is self.state]
        coords = [v for v in (first, second) if v.kind in ("x", "coord")]
        if len(hidden) != 1 or len(coords) != 1:
            raise self.refuse(node, "torch.cat must join the current hidden state and the "
                                    f"network input x or a column slice of it (here: "
                                    f"{self._what(first)} and {self._what(second)})")
        part = coords[0]
        columns = None if part.kind == "x" else self.columns_of(part.node)
        self.values[node] = _Value("cat", self.state.layer, x_first=first is part,
                                   joined=self.state, columns=columns)

    def passthrough(self, node):
        self.values[node] = self.value(node, node.args[0])

    # ------------------------------------------------------------------ dispatch

    def read(self, node: fx.Node) -> None:
        if node in self.values:
            return
        if node.op == "call_module" and kinds.is_linear(node, self.modules):
            return self.linear(node, self.modules[node.target])
        if all(self.values[kinds.strip(n, self.modules)].kind in ("x", "coord")
               for n in node.all_input_nodes):
            # a value of the coordinates alone (a get_attr, a slice of the input, a second
            # embedding): it only matters where a layer reads it
            self.values[node] = _Value("coord", node=node)
            return
        if kinds.is_dropout(node, self.modules) and kinds.dropout_is_random(node, self.modules):
            raise self.refuse(node, "Dropout in training mode makes the network random; call "
                                    "model.eval() first")
        if kinds.is_passthrough(node, self.modules):
            return self.passthrough(node)
        slope = kinds.relu_slope(node, self.modules)
        if slope is not None:
            return self.activation(node, slope)
        if kinds.is_add(node):
            return self.add(node)
        if kinds.is_cat(node):
            return self.cat(node)
        if kinds.is_scalar_arithmetic(node):
            self._refuse_what_follows(node)
        raise self.refuse(node, self._why_not(node))

    def _refuse_what_follows(self, node: fx.Node) -> None:
        """``sin(30 * z)`` (a SIREN layer), ``tanh(z / 2)``: the scaling is harmless, the
        function after it is what has no linear regions; name that one."""
        follower = node
        while len(follower.users) == 1 and kinds.is_scalar_arithmetic(next(iter(follower.users))):
            follower = next(iter(follower.users))
        for user in follower.users:
            if kinds.is_smooth_activation(user, self.modules) or kinds.is_norm(user, self.modules):
                tensor = next(a for a in node.args if isinstance(a, fx.Node))
                src = self.values.get(kinds.strip(tensor, self.modules))
                hint = self._hint(src.layer) if src is not None and src.kind in ("pre", "act") \
                    else ""
                raise self.refuse(user, kinds.why_not_linear(user, self.modules) + hint)

    def _why_not(self, node: fx.Node) -> str:
        if kinds.is_norm(node, self.modules) or kinds.is_smooth_activation(node, self.modules):
            src = self.values.get(kinds.strip(node.args[0], self.modules)) if node.args and \
                isinstance(node.args[0], fx.Node) else None
            hint = self._hint(src.layer) if src is not None and src.kind in ("pre", "act") \
                else ""
            return kinds.why_not_linear(node, self.modules) + hint
        if node.op == "get_attr":
            return "a tensor attribute used in the forward; only the Linear layers of a " \
                   "ReluNetwork hold parameters"
        what = kinds.display_name(node, self.modules)
        return f"{what} is not part of a ReluNetwork; the vocabulary is {VOCABULARY}"


def read_trunk(graph_module: fx.GraphModule, x_node: fx.Node, head: fx.Node, trunk: set,
               coordinate_nodes: set,
               columns_of: Callable[[fx.Node], Optional[tuple]]) -> TracedLayers:
    """The layers from ``x_node`` (the first Linear's input) to the Linear ``head``, reading the
    nodes of ``trunk`` in graph order; ``coordinate_nodes`` (the encoding) are values of the
    coordinates alone."""
    reader = TrunkReader(graph_module, x_node, columns_of)
    for node in coordinate_nodes - {x_node}:
        reader.values[node] = _Value("coord", node=node)
    for node in graph_module.graph.nodes:
        if node in trunk:
            reader.read(node)
    result = reader.values[head]
    layers = reader.layers
    if result.kind != "pre" or result.layer != len(layers.weights) - 1:
        raise TypeError("model: expected the output to be the raw output of the last Linear "
                        "(the head)")
    if len(layers.weights) < 2:
        raise TypeError("model: expected at least one hidden layer (Linear, activation, "
                        f"Linear head) after the encoding; the first Linear, "
                        f"{module_name(layers.sources[0])}, is the head")
    return layers
