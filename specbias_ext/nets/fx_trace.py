"""Tracing a user's module into a torch.fx graph that the readers (``tracing``, ``split_model``)
can walk.

Three things beyond ``torch.fx.symbolic_trace``:

- **Shapes, when the input width is known.** With ``in_dim``, the trace runs the forward once on
  an example input ``[EXAMPLE_ROWS, in_dim]`` alongside the symbolic one: every node keeps its
  example value, so ``x.shape``, ``x.size(d)``, ``x.dim()`` and ``len``/iteration of a tuple are
  plain Python values and a forward may branch on them (DeepSDF's ``if input.shape[1] > 3``,
  nerfstudio's ``assert in_tensor.shape[-1] == 3``, ``view(*x.shape[:-1], -1)``). The batch
  size is not specialised: a dimension equal to ``EXAMPLE_ROWS`` is traced as ``x.size(d)``.
  Branches on the input's *values* still fail (there is no linear reading of them).
- **In-place ops are made explicit.** ``h.relu_()``, ``F.relu(h, inplace=True)``,
  ``nn.ReLU(inplace=True)`` whose result is dropped, ``h += x``: every later use of ``h`` reads
  the in-place node, so the graph's data flow is the forward's (the ops still run in place).
- **The user's model is not modified.** Tensor constants the trace stores away go to a shallow
  copy of the module; buffers are referenced by name (``get_attr``), like parameters.

The package's own encodings (``nets.encodings.Encoding``) are leaves of the trace, so a model
built on one keeps it as one call (its affine-sine form then reaches the geometry kernels).
"""
from __future__ import annotations

import bisect
import copy
import dis
import inspect
import operator
from typing import Optional

import torch
import torch.nn.functional as F
from torch import fx, nn

from .encodings import Encoding

#: Rows of the example input of a shape-aware trace; a dimension of this size is the batch.
EXAMPLE_ROWS = 509

_UNKNOWN = object()
_INPLACE_OPERATORS = (operator.iadd, operator.isub, operator.imul, operator.itruediv,
                      operator.ifloordiv, operator.imod, operator.ipow, operator.iand,
                      operator.ior, operator.ixor, operator.ilshift, operator.irshift)
_DROPOUT_MODULES = (nn.Dropout, nn.Dropout1d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def module_name(target: str) -> str:
    """``"trunk.3"`` -> ``"model.trunk[3]"``, ``"1"`` -> ``"model[1]"`` (how a user indexes it)."""
    out = "model"
    for part in target.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def describe_node(node: fx.Node, modules: dict) -> str:
    """How a refusal names a node: the module a user wrote, or the traced call."""
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


def example_shape(node: fx.Node) -> Optional[tuple]:
    """The shape of ``node``'s example value (None without an example, or for a non-tensor);
    the batch dimension appears as ``EXAMPLE_ROWS``."""
    return node.meta.get("example_shape")


class _ShapedProxy(fx.Proxy):
    """A proxy whose shape queries answer from the node's example value when there is one."""

    def _value(self):
        return self.tracer.values.get(self.node, _UNKNOWN)

    def _size_entry(self, value: torch.Tensor, d: int):
        if value.shape[d] == EXAMPLE_ROWS:
            return self.tracer.create_proxy("call_method", "size", (self, d), {})
        return int(value.shape[d])

    @property
    def shape(self):
        value = self._value()
        if not isinstance(value, torch.Tensor):
            return fx.proxy.Attribute(self, "shape")
        return tuple(self._size_entry(value, d) for d in range(value.dim()))

    def size(self, dim=None):
        value = self._value()
        if not isinstance(value, torch.Tensor):
            args = (self,) if dim is None else (self, dim)
            return self.tracer.create_proxy("call_method", "size", args, {})
        if dim is None:
            return self.shape
        return self._size_entry(value, dim if dim >= 0 else value.dim() + dim)

    def dim(self):
        value = self._value()
        if not isinstance(value, torch.Tensor):
            return self.tracer.create_proxy("call_method", "dim", (self,), {})
        return value.dim()

    @property
    def ndim(self):
        return self.dim()

    def __len__(self):
        value = self._value()
        if isinstance(value, (tuple, list)):
            return len(value)
        if isinstance(value, torch.Tensor) and value.dim() and value.shape[0] != EXAMPLE_ROWS:
            return int(value.shape[0])
        return super().__len__()

    def __iter__(self):
        value = self._value()
        if isinstance(value, (tuple, list)):
            return iter([self[i] for i in range(len(value))])
        # fx's own rule, read off the caller's frame: `a, b = proxy` unpacks by position
        caller = inspect.currentframe().f_back
        instructions = list(dis.get_instructions(caller.f_code))
        at = bisect.bisect_left(instructions, caller.f_lasti, key=lambda i: i.offset)
        if instructions[at].opname == "UNPACK_SEQUENCE":
            return iter([self[i] for i in range(instructions[at].argval)])
        return self.tracer.iter(self)


class _ReadingTracer(fx.Tracer):
    """fx tracing with example values (see the module docstring)."""

    proxy_buffer_attributes = True

    def __init__(self, example: Optional[torch.Tensor]):
        super().__init__()
        self.example = example
        self.values: dict = {}
        self._running = False   # executing a leaf module's forward on example values
        self._seen_input = False

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, Encoding) or super().is_leaf_module(m, module_qualified_name)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ShapedProxy(node, self)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._running:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                     proxy_factory_fn)
        value = self._evaluate(kind, target, args, kwargs)
        if value is not _UNKNOWN:
            self.values[proxy.node] = value
            if isinstance(value, torch.Tensor):
                proxy.node.meta["example_shape"] = tuple(value.shape)
        return proxy

    def _arg_value(self, arg):
        if isinstance(arg, fx.Proxy):
            return self.values.get(arg.node, _UNKNOWN)
        if isinstance(arg, (tuple, list)):
            items = [self._arg_value(a) for a in arg]
            return _UNKNOWN if any(i is _UNKNOWN for i in items) else type(arg)(items)
        if isinstance(arg, dict):
            items = {k: self._arg_value(v) for k, v in arg.items()}
            return _UNKNOWN if any(v is _UNKNOWN for v in items.values()) else items
        return arg

    def _evaluate(self, kind, target, args, kwargs):
        if kind == "placeholder":
            first = not self._seen_input
            self._seen_input = True
            return self.example if first and self.example is not None else _UNKNOWN
        if kind == "get_attr":
            self._running = True
            try:
                value = self.root
                for atom in target.split("."):
                    value = getattr(value, atom)
                return value
            finally:
                self._running = False
        args, kwargs = self._arg_value(args), self._arg_value(kwargs)
        if args is _UNKNOWN or kwargs is _UNKNOWN:
            return _UNKNOWN
        self._running = True
        try:
            with torch.no_grad():
                if kind == "call_function":
                    if target is F.dropout:
                        return args[0]          # shape only; no draw from the RNG
                    return target(*args, **kwargs)
                if kind == "call_method":
                    return getattr(args[0], target)(*args[1:], **kwargs)
                if kind == "call_module":
                    module = self.root.get_submodule(target)
                    if isinstance(module, _DROPOUT_MODULES):
                        return args[0]
                    if isinstance(module, nn.modules.batchnorm._NormBase) and module.training:
                        return _UNKNOWN         # would update the running statistics
                    return module.forward(*args, **kwargs)   # no hooks
        except Exception:  # noqa: BLE001 (the value is only a shape oracle; the graph stands)
            return _UNKNOWN
        finally:
            self._running = False
        return _UNKNOWN


# --------------------------------------------------------------------------- in-place ops


def _binds_inplace(fn, args, kwargs) -> bool:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return False
    return bound.arguments.get("inplace", False) is True


def mutates_first_argument(node: fx.Node, modules: dict) -> bool:
    """Whether ``node`` writes its result into its first argument (and returns it)."""
    if node.op == "call_method":
        target = str(node.target)
        return target.endswith("_") and not target.startswith("_")
    if node.op == "call_function":
        if node.target in _INPLACE_OPERATORS:
            return True
        name = getattr(node.target, "__name__", "")
        if name.endswith("_") and not name.startswith("_") and node.args:
            return True
        return callable(node.target) and _binds_inplace(node.target, node.args, node.kwargs)
    if node.op == "call_module":
        return getattr(modules.get(node.target), "inplace", False) is True
    return False


def make_inplace_explicit(graph_module: fx.GraphModule) -> None:
    """Every use of a tensor after an in-place op on it reads the in-place node instead."""
    modules = dict(graph_module.named_modules())
    latest: dict = {}      # original node -> its latest version
    origin: dict = {}      # version node -> original node

    def current(arg):
        return latest.get(origin.get(arg, arg), arg)

    for node in graph_module.graph.nodes:
        node.args = fx.node.map_arg(node.args, current)
        node.kwargs = fx.node.map_arg(node.kwargs, current)
        if node.args and isinstance(node.args[0], fx.Node) and \
                mutates_first_argument(node, modules):
            base = origin.get(node.args[0], node.args[0])
            origin[node] = base
            latest[base] = node
    graph_module.graph.lint()
    graph_module.recompile()


# --------------------------------------------------------------------------- entry point


def trace_module(model: nn.Module, in_dim: Optional[int] = None) -> fx.GraphModule:
    """``model``'s forward as an fx GraphModule, in-place ops explicit, with example shapes when
    ``in_dim`` (the width of the model's input) is given. Raises ``torch.fx`` errors as they
    come; the caller words them. The global RNG is left as it was."""
    root = copy.copy(model)          # the trace may store tensor constants on its root
    example = None
    if in_dim is not None:
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else None
        example = torch.rand(EXAMPLE_ROWS, int(in_dim), dtype=dtype or torch.float32,
                             device=param.device if param is not None else None,
                             generator=torch.Generator(
                                 device=param.device if param is not None else "cpu"
                             ).manual_seed(0))
    devices = [] if example is None or example.device.type != "cuda" else [example.device]
    with torch.random.fork_rng(devices=devices):
        tracer = _ReadingTracer(example)
        graph = tracer.trace(root)
    graph_module = fx.GraphModule(tracer.root, graph, type(model).__name__)
    make_inplace_explicit(graph_module)
    return graph_module
