"""Which columns of the network input x a value computed from the coordinates is.

A skip layer may re-inject x itself or part of it: DeepSDF's ``xyz = input[:, -3:]`` while the
first layer reads all of ``input``; NeRF's ``input_pts`` after ``torch.split`` of the input; a
positional encoding ``cat([p, sin(...), cos(...)])`` whose first columns are the raw point. A
value is located by walking its column slices (``x[..., a:b]``, ``x[:, a:b]``, ``narrow``,
``split``/``chunk`` parts along the last dimension) down to a node whose place in x is known:
x itself, the tensor x is a slice of, or a part of the concatenation x is.
"""
from __future__ import annotations

import operator
from typing import Optional

import torch
from torch import fx

from . import node_kinds as kinds
from .fx_trace import describe_node, example_shape

_SPLITS = {torch.split: "split", torch.chunk: "chunk", torch.tensor_split: None}


def _is_last_dim(dim, ndim: Optional[int]) -> bool:
    return dim == -1 or (ndim is not None and dim == ndim - 1)


def _column_slice(index, ndim: Optional[int]) -> Optional[slice]:
    """The slice of the last dimension that ``x[index]`` takes, when it takes all of the
    others; None for any other indexing."""
    if not isinstance(index, tuple) or not index or not isinstance(index[-1], slice):
        return None
    lead = index[:-1]
    if lead == (Ellipsis,) or (all(s == slice(None) for s in lead)
                               and (ndim is None or len(index) == ndim) and len(index) >= 2):
        last = index[-1]
        return last if last.step in (None, 1) else None
    return None


class InputColumns:
    """``of(node)``: the half-open range ``(start, stop)`` of x's columns that ``node`` equals,
    None when it is all of x; ``TypeError`` naming the node when it is not a column range."""

    def __init__(self, graph_module: fx.GraphModule, x_node: fx.Node, x_width: int):
        self.modules = dict(graph_module.named_modules())
        self.x_node = x_node
        self.x_width = int(x_width)
        self.inside: dict = {x_node: (0, self.x_width)}   # node -> its columns of x
        self.unplaced: Optional[fx.Node] = None           # a concatenation of unknown widths
        self._place_parts(x_node, 0)

    def _width(self, node: fx.Node) -> Optional[int]:
        if node in self.inside:
            start, stop = self.inside[node]
            return stop - start
        shape = example_shape(node)
        return int(shape[-1]) if shape else None

    def _place_parts(self, node: fx.Node, offset: int) -> None:
        """The parts of a concatenation along the last dimension have known places."""
        node = kinds.strip(node, self.modules)
        if not kinds.is_cat(node):
            return
        parts = kinds.argument(node, 0, "tensors", ())
        shape = example_shape(node)
        if not _is_last_dim(kinds.argument(node, 1, "dim", 0), len(shape) if shape else None):
            return
        widths = [self._width(p) if isinstance(p, fx.Node) else None for p in parts]
        if None in widths:
            self.unplaced = node
            return
        for part, width in zip(parts, widths):
            self.inside.setdefault(part, (offset, offset + width))
            self._place_parts(part, offset)
            offset += width

    def _slice_of(self, node: fx.Node):
        """``(base, range_fn)`` when ``node`` is a column slice of ``base``: range_fn(width of
        base) is the slice's (start, stop) in base; None otherwise."""
        if node.op == "call_function" and node.target is operator.getitem:
            base, index = node.args
            if not isinstance(base, fx.Node):
                return None
            if base.op in ("call_function", "call_method") and self._split_kind(base):
                return self._split_part(base, index)
            shape = example_shape(base)
            cut = _column_slice(index, len(shape) if shape else None)
            if cut is None:
                return None
            return base, lambda w: cut.indices(w)[:2] if w is not None else _open(cut)
        if (node.op == "call_function" and node.target is torch.narrow) or (
                node.op == "call_method" and node.target == "narrow"):
            base, dim, start, length = (list(node.args) + [None] * 4)[:4]
            shape = example_shape(base) if isinstance(base, fx.Node) else None
            if not isinstance(base, fx.Node) or not _is_last_dim(dim, len(shape) if shape
                                                                   else None):
                return None
            return base, lambda w: _narrow(start, length, w)
        return None

    @staticmethod
    def _split_kind(node: fx.Node) -> Optional[str]:
        if node.op == "call_function":
            return _SPLITS.get(node.target)
        if node.op == "call_method" and node.target in ("split", "chunk"):
            return node.target
        return None

    def _split_part(self, split: fx.Node, k: int):
        kind = self._split_kind(split)
        base = split.args[0]
        size = kinds.argument(split, 1, "split_size_or_sections" if kind == "split" else
                              "chunks", None)
        dim = kinds.argument(split, 2, "dim", 0)
        shape = example_shape(base) if isinstance(base, fx.Node) else None
        if not isinstance(base, fx.Node) or not _is_last_dim(dim, len(shape) if shape else None):
            return None

        def columns(w):
            if kind == "split" and isinstance(size, (list, tuple)):
                start = sum(size[:k])
                return start, start + size[k]
            if w is None:
                raise _NeedsWidth
            step = size if kind == "split" else -(-w // size)
            return min(k * step, w), min((k + 1) * step, w)
        return base, columns

    def of(self, node: fx.Node) -> Optional[tuple]:
        chain, base = [], kinds.strip(node, self.modules)
        while base not in self.inside:
            found = self._slice_of(base)
            if found is None:
                break
            base, columns = found
            chain.append(columns)
            base = kinds.strip(base, self.modules)
        try:
            if base in self.inside:
                start, stop = self.inside[base]
            else:
                start, stop = self._locate_base(base)
            for columns in reversed(chain):
                a, b = columns(stop - start)
                start, stop = start + a, start + b
        except _NeedsWidth:
            raise TypeError(f"{describe_node(node, self.modules)}: cannot tell which columns of "
                            "the network input it is without the width of the model's input; "
                            "pass in_dim=<that width>") from None
        except _NotInside:
            widths = ("" if self.unplaced is None else
                      f"; if it is a part of {describe_node(self.unplaced, self.modules)}, pass "
                      "in_dim=<the width of the model's input> so that the parts can be placed")
            raise TypeError(
                f"{describe_node(node, self.modules)}: a skip concatenates it with the hidden "
                f"state, but it is not the network input x (the input of the first Linear, "
                f"{describe_node(self.x_node, self.modules)}) or a column slice of x; a "
                f"ReluNetwork's skip re-injects columns of its own input{widths}") from None
        if not (0 <= start < stop <= self.x_width):
            raise TypeError(f"{describe_node(node, self.modules)}: columns {start}:{stop} are "
                            f"outside the network input x ({self.x_width} columns)")
        return None if (start, stop) == (0, self.x_width) else (start, stop)

    def _locate_base(self, base: fx.Node) -> tuple:
        """x is itself a column slice of ``base``: then x's place in base is known, and a slice
        of base is a slice of x when it falls inside it."""
        chain, node = [], kinds.strip(self.x_node, self.modules)
        while node is not base:
            found = self._slice_of(node)
            if found is None:
                raise _NotInside
            node, columns = found
            chain.append(columns)
            node = kinds.strip(node, self.modules)
        width = self._width(base)
        start, stop = 0, width
        for columns in reversed(chain):
            a, b = columns(None if width is None else stop - start)
            start, stop = start + a, start + b
        # base's columns, shifted so that x starts at 0
        if width is None:
            raise _NeedsWidth
        return -start, width - start


class _NeedsWidth(Exception):
    pass


class _NotInside(Exception):
    pass


def _open(cut: slice) -> tuple:
    start = 0 if cut.start is None else cut.start
    if start < 0 or cut.stop is None or cut.stop < 0:
        raise _NeedsWidth
    return start, cut.stop


def _narrow(start, length, w) -> tuple:
    if start < 0:
        if w is None:
            raise _NeedsWidth
        start += w
    return start, start + length
