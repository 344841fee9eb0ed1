"""Reading a whole model as its author wrote it (coordinates in, output out) as its encoding and
the layers of its ReLU network (``split_model`` and ``relu_network`` build the description).

The forward is traced (``fx_trace``). The head is the Linear whose raw output the model returns
(through an elementwise output activation, which is recorded), or the Linear named by
``output``. From the head, the hidden-state chain (activation, residual add, skip concatenation)
leads back to the first Linear of the ReLU network; its input is the network input x, and
everything the forward computes before it from the coordinates -- a slice of the input,
positional or Fourier features, a hash grid, a learned embedding -- is the encoding: the
model's own graph nodes, parameters and buffers, cut out as a ``torch.fx.GraphModule``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import fx, nn

from . import node_kinds as kinds
from .fx_trace import describe_node, module_name, trace_module
from .encodings import Encoding
from .input_columns import InputColumns
from .output_activation import OutputActivation, output_activation
from .tracing import TracedLayers, read_trunk

_PROBE_ROWS = 3


def _ancestors(*targets: fx.Node) -> set:
    seen, stack = set(), list(targets)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(node.all_input_nodes)
    return seen


def _trace(model: nn.Module, in_dim: Optional[int]) -> fx.GraphModule:
    name = f"{type(model).__name__}.forward"
    try:
        return trace_module(model, in_dim)
    except fx.proxy.TraceError as exc:
        shape_hint = ("" if in_dim is not None else
                      "; if it branches only on the input's shape (`if x.shape[1] > 3`, `assert "
                      "x.shape[-1] == 3`, `view(*x.shape[:-1], -1)`), pass in_dim=<the width of "
                      "the model's input>")
        raise TypeError(
            f"model: torch.fx could not trace {name} ({exc}); a forward with data-dependent "
            "control flow (a branch or loop on the values of a tensor) has no fixed network to "
            f"read{shape_hint}") from exc
    except Exception as exc:  # noqa: BLE001 (whatever the user's forward raises while traced)
        raise TypeError(f"model: torch.fx could not trace {name}: it raised "
                        f"{type(exc).__name__}: {exc}") from exc


# ----------------------------------------------------------------------------- the head


def _head_through(node, modules: dict):
    """``(head Linear, [elementwise nodes after it, head first])`` for an output node, or
    ``(None, [])`` when no Linear is reached through elementwise functions."""
    chain = []
    node = kinds.strip(node, modules)
    while isinstance(node, fx.Node):
        if kinds.is_linear(node, modules):
            return node, chain[::-1]
        if not kinds.is_elementwise(node, modules):
            break
        chain.append(node)
        node = kinds.strip(next(a for a in node.args if isinstance(a, fx.Node)), modules)
    return None, []


def _choices(entries: list, modules: dict) -> str:
    names = []
    for label, entry in entries:
        head, _ = _head_through(entry, modules) if isinstance(entry, fx.Node) else (None, [])
        if head is not None:
            names.append(f"output={head.target!r} ({label})")
    return " or ".join(names) if names else "output='<name of the head Linear>'"


def _find_head(graph_module: fx.GraphModule, output: Optional[str], modules: dict):
    graph = graph_module.graph
    (out_node,) = [n for n in graph.nodes if n.op == "output"]
    result = out_node.args[0]
    if output is not None:
        calls = [n for n in graph.nodes if n.op == "call_module" and n.target == output]
        if not calls:
            names = [n.target for n in graph.nodes if kinds.is_linear(n, modules)]
            raise ValueError(f"output: expected the name of a Linear the forward calls, got "
                             f"{output!r} (Linear layers called: {names})")
        if len(calls) > 1:
            raise ValueError(f"output: {output!r} is called {len(calls)} times in the forward")
        if not kinds.is_linear(calls[0], modules):
            raise ValueError(f"output: expected a Linear head, {module_name(output)} is a "
                             f"{type(modules[output]).__name__}")
        return calls[0], _chain_to_output(calls[0], out_node, modules)
    if isinstance(result, dict):
        raise TypeError(f"model: the forward returns a dict of {len(result)} outputs "
                        f"({', '.join(map(repr, result))}), not one tensor; pass "
                        f"{_choices(list(result.items()), modules)} to read the network up to "
                        "one head")
    if isinstance(result, (tuple, list)):
        raise TypeError(f"model: the forward returns {len(result)} outputs, not one tensor; pass "
                        f"{_choices([(f'output {i}', r) for i, r in enumerate(result)], modules)}"
                        " to read the network up to one head")
    if not isinstance(result, fx.Node):
        raise TypeError(f"model: the forward returns the constant {result!r}")
    head, chain = _head_through(result, modules)
    if head is None:
        node = kinds.strip(result, modules)
        if kinds.is_cat(node):
            parts = kinds.argument(node, 0, "tensors", ())
            entries = [(f"part {i}", p) for i, p in enumerate(parts)]
            if sum(_head_through(p, modules)[0] is not None for p in parts
                   if isinstance(p, fx.Node)) >= 2:
                raise TypeError(f"model: the output concatenates the outputs of several heads "
                                f"({describe_node(node, modules)}); pass "
                                f"{_choices(entries, modules)} to read the network up to one")
        return node, []
    return head, chain


def _chain_to_output(head: fx.Node, out_node: fx.Node, modules: dict) -> list:
    """The elementwise functions applied to ``head``'s output on its way to the model's output
    (kept only when they reach it unchanged by anything else)."""
    chain, node = [], head
    while len(node.users) == 1:
        (user,) = node.users
        if kinds.is_passthrough(user, modules):
            node = user
            continue
        if user.op == "output" or not kinds.is_elementwise(user, modules):
            break
        chain.append(user)
        node = user
    returned = out_node.args[0]
    flat = list(returned.values()) if isinstance(returned, dict) else (
        list(returned) if isinstance(returned, (tuple, list)) else [returned])
    return chain if node in flat else []


# ----------------------------------------------------------------------------- the first layer


def _previous_linear(node, modules: dict):
    """The Linear whose hidden state ``node`` is (or joins, or adds to), or None."""
    if not isinstance(node, fx.Node):
        return None
    if kinds.relu_slope(node, modules) is not None:
        inner = kinds.strip(node.args[0], modules)
        return inner if isinstance(inner, fx.Node) and kinds.is_linear(inner, modules) else None
    if kinds.is_add(node):
        operands = node.args
    elif kinds.is_cat(node):
        operands = kinds.argument(node, 0, "tensors", ())
    elif kinds.is_linear(node, modules):
        return node
    else:
        return None
    for operand in operands:
        found = _previous_linear(kinds.strip(operand, modules), modules)
        if found is not None:
            return found
    return None


def _first_layer(head: fx.Node, modules: dict) -> tuple:
    linear = head
    while True:
        x_node = kinds.strip(linear.args[0], modules)
        previous = _previous_linear(x_node, modules)
        if previous is None or previous is linear:
            return linear, x_node
        linear = previous


def _encoding_has_layers(encoding_nodes: set, modules: dict) -> bool:
    """Whether the part before the first Linear holds network layers rather than an encoding:
    a Linear reading another Linear's output, or a Linear followed by an activation or a
    normalisation. A Linear on the coordinates followed by sines (Fourier features, a SIREN's
    first layer) is an encoding."""
    for linear in (n for n in encoding_nodes if kinds.is_linear(n, modules)):
        if any(kinds.is_linear(a, modules) for a in _ancestors(linear) - {linear}):
            return True
        after = {n for n in encoding_nodes if linear in _ancestors(n)} - {linear}
        if any(kinds.relu_slope(n, modules) is not None or kinds.is_norm(n, modules)
               or (kinds.is_smooth_activation(n, modules) and not kinds.is_sine(n, modules))
               for n in after):
            return True
    return False


def _read_from_first_linear(graph_module, head, modules) -> None:
    """Reads everything from the forward's first Linear to ``head`` as a ReLU network, for the
    refusal it gives: the first node that is not one, named."""
    needed = _ancestors(head)
    first = next((n for n in graph_module.graph.nodes
                  if n in needed and kinds.is_linear(n, modules)), None)
    if first is None:
        raise TypeError("model: the forward's output does not depend on any Linear layer")
    x_node = kinds.strip(first.args[0], modules)
    before = _ancestors(x_node)
    read_trunk(graph_module, x_node, head, needed - before, before, lambda n: None)


def _check_encoding(graph_module, encoding_nodes: set, x_node, head, first_input, modules):
    if _encoding_has_layers(encoding_nodes, modules):
        _read_from_first_linear(graph_module, head, modules)
        raise TypeError(f"model: {describe_node(x_node, modules)} feeds the first Linear of "
                        "the network but is computed with Linear layers of its own")
    for node in graph_module.graph.nodes:
        if node not in encoding_nodes:
            continue
        if node.op == "placeholder" and node is not first_input:
            raise TypeError(f"{describe_node(node, modules)}: the first Linear's input depends "
                            "on a second input of the forward; the network takes one input x "
                            "[N, D] (the coordinates)")
        if kinds.is_dropout(node, modules) and kinds.dropout_is_random(node, modules):
            raise TypeError(f"{describe_node(node, modules)}: Dropout in training mode makes "
                            "the encoding random; call model.eval() first")
        module = kinds.module_of(node, modules)
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.training:
            raise TypeError(f"{describe_node(node, modules)}: "
                            f"{kinds.why_not_linear(node, modules)}")


# ----------------------------------------------------------------------------- the parts


def _layers(graph_module, x_node, head, trunk, encoding_nodes, modules) -> TracedLayers:
    first = next(n for n in graph_module.graph.nodes
                 if n in trunk and kinds.is_linear(n, modules)
                 and kinds.strip(n.args[0], modules) is x_node)
    columns = InputColumns(graph_module, x_node, modules[first.target].in_features)
    return read_trunk(graph_module, x_node, head, trunk, encoding_nodes, columns.of)


def _encoding(graph_module, model, x_node, encoding_nodes, first_input, modules):
    if x_node is first_input:
        return None
    if (x_node.op == "call_module" and x_node.args == (first_input,) and not x_node.kwargs):
        return modules[x_node.target]            # the user's own encoding module, as it is
    graph, env = fx.Graph(), {}
    for node in graph_module.graph.nodes:
        if node in encoding_nodes:
            env[node] = graph.node_copy(node, lambda a: env[a])
    graph.output(env[x_node])
    graph.eliminate_dead_code()
    return fx.GraphModule(graph_module, graph, f"{type(model).__name__}Encoding")


def _check_against_model(model, encoding, first_module, in_dim: int) -> None:
    """The encoding reproduces what the model's first Linear receives, on a few fresh points
    (a trace that baked in the batch size would not)."""
    param = next(model.parameters(), None)
    gen = torch.Generator(device=param.device if param is not None else "cpu").manual_seed(1)
    probe = torch.rand(_PROBE_ROWS, in_dim, generator=gen,
                       dtype=param.dtype if param is not None else torch.float32,
                       device=param.device if param is not None else None)
    seen = []
    handle = first_module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(probe)
    except Exception:  # noqa: BLE001 (a forward that needs more than the coordinates)
        return
    finally:
        handle.remove()
    with torch.no_grad():
        got = probe if encoding is None else encoding(probe)
    if not seen or got.shape != seen[0].shape or not torch.allclose(got, seen[0], rtol=1e-5,
                                                                    atol=1e-6):
        raise TypeError(
            f"model: the encoding read off {type(model).__name__}.forward does not reproduce the "
            f"input of its first Linear on {_PROBE_ROWS} points (the forward's shape arithmetic "
            "depends on the number of points, or a hook changes what the Linear receives)")


@dataclass
class ModelTrace:
    """What the reading of a model found: its encoding (None: the first Linear reads the
    input), the layers of its network (``tracing.TracedLayers``: weights, skips and the columns
    of x each skip reads, module names) and the activation after the head (or None)."""
    encoding: Optional[nn.Module]
    layers: TracedLayers
    activation: Optional[OutputActivation]


def trace_model(model: nn.Module, output: Optional[str] = None, *,
                in_dim: Optional[int] = None) -> ModelTrace:
    """The reading of ``model`` (``split_model`` documents it) before the ``ReluNetwork`` is
    built from it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if not isinstance(model, nn.Sequential) and type(model).__module__.startswith("torch.nn"):
        raise TypeError(f"model: expected an nn.Sequential, a CoordinateMLP or a module whose "
                        f"forward torch.fx can trace, got {type(model).__name__}")
    graph_module = _trace(model, in_dim)
    modules = dict(graph_module.named_modules())
    head, chain = _find_head(graph_module, output, modules)
    first_input = next(n for n in graph_module.graph.nodes if n.op == "placeholder")
    if not kinds.is_linear(head, modules):
        if head is first_input:
            raise TypeError("model: the forward returns its input; there is no network to read")
        _read_from_first_linear(graph_module, head, modules)
    first, x_node = _first_layer(head, modules)
    encoding_nodes = _ancestors(x_node)
    _check_encoding(graph_module, encoding_nodes, x_node, head, first_input, modules)
    trunk = _ancestors(head) - encoding_nodes
    layers = _layers(graph_module, x_node, head, trunk, encoding_nodes, modules)
    encoding = _encoding(graph_module, model, x_node, encoding_nodes, first_input, modules)
    required = [n for n in graph_module.graph.nodes if n.op == "placeholder" and not n.args]
    if in_dim is not None and len(required) == 1:
        _check_against_model(model, encoding, modules[first.target], int(in_dim))
    activation = output_activation(graph_module, chain) if chain else None
    return ModelTrace(encoding, layers, activation)


def check_no_encoding(model: nn.Module, encoding: Optional[nn.Module]) -> None:
    """For ``relu_network`` and ``mlp_params``: refuses to hand out a network alone when the model computes an encoding a caller would
    have to apply (a same-width encoding fed raw coordinates would go unnoticed). The package's
    own encodings are the exception: ``CoordinateMLP`` callers apply ``model.encode``."""
    if encoding is None or isinstance(encoding, Encoding):
        return
    raise TypeError(
        f"model: {type(model).__name__}.forward computes an encoding of the coordinates before "
        "its first Linear, and the network alone takes the encoded input: use encoding, net = "
        "specbias_ext.split_model(model) and pass x = encoding(coords) to the ops (or the whole "
        "model to the analysis API and the monitor)")
