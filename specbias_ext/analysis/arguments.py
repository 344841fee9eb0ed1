"""The arguments of a grid analysis, checked and resolved: the model as a ``ReluNetwork`` and its
encoding, the grid, the tile size, ``grad_out`` and where the ids go."""
from __future__ import annotations

from typing import Any

from ..data.grids import CoordinateGrid, PlaneSlice
from ..nets.network import ReluNetwork, relu_network

IDS_MODES = ("memory", "file", "none")


def resolve_model(model, encoding=None) -> tuple[ReluNetwork, Any]:
    """``(net, encoding)`` from a ReluNetwork (with ``encoding``: an Encoding module, anything with
    ``affine_sine()``, or None for raw coordinates) or a module with ``.encoding`` and an MLP
    (``CoordinateMLP``: its own encoding is used unless one is given)."""
    if isinstance(model, ReluNetwork):
        return model, encoding
    if encoding is None and hasattr(model, "encoding"):
        encoding = model.encoding
    return relu_network(model), encoding


def check_tile(tile) -> int:
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise ValueError(f"tile: expected an int >= 1 (points per tile), got {tile!r}")
    return tile


def check_grad_out(grad_out):
    """None, a function of a tile's coordinates returning ``[T, out]``, or "output"."""
    if grad_out is None or callable(grad_out) or (isinstance(grad_out, str) and
                                                  grad_out == "output"):
        return grad_out
    raise TypeError("grad_out: expected a function of the coordinates [T, D] returning "
                    f"[T, out], or 'output' (the gradient of the output), got {grad_out!r}")


def check_grid(grid):
    if not isinstance(grid, (CoordinateGrid, PlaneSlice)):
        raise TypeError("grid: expected a grids.CoordinateGrid or grids.PlaneSlice, got "
                        f"{type(grid).__name__}")
    return grid


def check_ids(ids: str) -> str:
    if ids not in IDS_MODES:
        raise ValueError(f"ids: expected 'memory', 'file' or 'none', got {ids!r}")
    return ids
