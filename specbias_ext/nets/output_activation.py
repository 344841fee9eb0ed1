"""The elementwise function a model applies after its head (tanh for an SDF, sigmoid for colour,
softplus or exp for a density), kept as the model's own graph nodes.

The ops analyse the head's raw output z_L: patterns, regions and geometry do not see the
activation, and every gradient quantity takes ``grad_out = d loss / d z_L``. A loss on the
activated output sigma(z_L) reaches z_L through sigma'(z_L) (``derivative``), which
``measure.loss.mse_grad_head`` applies.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import fx, nn
from torch.func import jvp

from . import node_kinds as kinds

Tensor = torch.Tensor


class OutputActivation(nn.Module):
    """sigma in f(x) = sigma(z_L(x)): a chain of elementwise functions of the head's output.

    ``forward(raw)`` applies it, ``derivative(raw)`` is sigma'(raw) elementwise (forward mode,
    so at a kink it is torch's own one-sided convention), ``description`` names the chain
    ("Tanh() -> Tanh()", "sigmoid -> mul(1.002) -> sub(0.001)")."""

    def __init__(self, function: fx.GraphModule, description: str):
        super().__init__()
        self.function = function
        self.description = description

    def forward(self, raw: Tensor) -> Tensor:
        return self.function(raw)

    def derivative(self, raw: Tensor) -> Tensor:
        """d sigma / d raw at every element of ``raw`` (same shape)."""
        with torch.no_grad():
            return jvp(self.function, (raw,), (torch.ones_like(raw),))[1]

    def extra_repr(self) -> str:
        return self.description


def _describe(node: fx.Node, modules: dict) -> str:
    module = kinds.module_of(node, modules)
    if module is not None:
        return repr(module)
    constants = [repr(a) for a in node.args if not isinstance(a, fx.Node)]
    constants += [f"{k}={v!r}" for k, v in node.kwargs.items()
                  if not isinstance(v, fx.Node) and k != "inplace"]
    name = kinds.op_name(node, modules)
    return f"{name}({', '.join(constants)})" if constants else name


def output_activation(graph_module: fx.GraphModule,
                      chain: Sequence[fx.Node]) -> OutputActivation:
    """The chain of elementwise nodes (head first) as a module of its own: the same nodes, the
    same submodules (an ``nn.Softplus`` of the model is that object)."""
    modules = dict(graph_module.named_modules())
    graph = fx.Graph()
    raw = graph.placeholder("raw")
    env: dict = {}

    def arg(a):
        a = kinds.strip(a, modules)
        return env.get(a, raw)   # the one tensor argument: the previous link, or the head

    for node in chain:
        env[node] = graph.node_copy(node, arg)
    graph.output(env[chain[-1]])
    function = fx.GraphModule(graph_module, graph, "OutputActivationGraph")
    return OutputActivation(function, " -> ".join(_describe(n, modules) for n in chain))
